import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { BetterSqliteDriver } from '../db/better-sqlite3.js';
import { MigrateError } from './errors.js';
import { clearLockRow } from './lock.js';

/** How many backups of a database are kept when nothing else is said. */
export const DEFAULT_KEEP_BACKUPS = 10;

/**
 * What rotation removes of a database's backups (newest first): those beyond the newest `keep`, except the newest
 * backup of each revision. Ten retries of a failing `up` take ten backups of one revision; counting alone would then
 * delete the backup from before the last change that succeeded, the only one of its revision, the one an operator
 * needs. Pure.
 */
export function backupsToRemove(backups: readonly BackupInfo[], keep: number): BackupInfo[] {
  const seen = new Set<string>();
  return backups.filter((backup, position) => {
    const revision = backup.revision.endsWith(SAVED_BEFORE_RESTORE) ? backup.revision.slice(0, -SAVED_BEFORE_RESTORE.length) : backup.revision;
    const newestOfItsRevision = !seen.has(revision);
    seen.add(revision);
    return position >= Math.max(keep, 1) && !newestOfItsRevision;
  });
}

/** A `.partial` file untouched this long belongs to no running backup: a backup writes it without pause. */
const STALE_PARTIAL_MS = 60_000;

/**
 * Removes this database's `.partial` backups that a killed run left behind (untouched for STALE_PARTIAL_MS: a
 * running backup writes its file continuously), so they do not fill the disk; returns what it removed.
 */
export function removeStalePartials(databasePath: string, now = Date.now()): { file: string; bytes: number }[] {
  const folder = backupsFolder(databasePath);
  if (!existsSync(folder)) return [];
  const removed: { file: string; bytes: number }[] = [];
  for (const file of readdirSync(folder)) {
    if (!file.endsWith('.partial') || !parseBackupName(databasePath, file.slice(0, -'.partial'.length))) continue;
    const stats = statSync(join(folder, file));
    if (now - stats.mtimeMs < STALE_PARTIAL_MS) continue;
    rmSync(join(folder, file), { force: true });
    removed.push({ file, bytes: stats.size });
  }
  return removed;
}

export interface BackupInfo {
  file: string;
  path: string;
  /** When it was taken (UTC, from its name). */
  takenAt: string;
  /** The revision the database was at when it was taken. */
  revision: string;
  bytes: number;
  /**
   * Named by the database's stem only (`bot.<time>.<rev>.db`), as backups were before they were keyed by the full
   * file name: another database of the same stem in the folder (`bot.sqlite`) may have written it.
   */
  legacy: boolean;
  /** Set by `writeBackup`: half-written backups of killed runs it removed first. */
  removedPartials?: { file: string; bytes: number }[];
}

/** Backups live in a `backups` folder next to the database. */
export function backupsFolder(databasePath: string): string {
  return join(dirname(resolve(databasePath)), 'backups');
}

function stem(databasePath: string): string {
  const name = basename(databasePath);
  return extname(name) ? name.slice(0, -extname(name).length) : name;
}

/**
 * `bot.db.20261125T120000123Z.0003_add_phone.db`: the database's full file name (so `bot.db` and `bot.sqlite` in
 * one folder never share or prune each other's backups), then the time (it sorts by it), then the revision.
 */
function backupName(databasePath: string, takenAt: Date, revision: string): string {
  const stamp = takenAt.toISOString().replace(/[-:.]/g, '');
  return `${basename(databasePath)}.${stamp}.${revision}.db`;
}

const STAMP = /^(\d{8}T\d{9}Z)$/;
/** Any database's backup name: its file name, the time, the revision. */
const ANY_BACKUP = /^(.+)\.(\d{8}T\d{9}Z)\.(.+)\.db$/;

/** The time and revision in a backup's name after `prefix`, or null when the name is not one. */
function parseAfter(prefix: string, file: string): { takenAt: string; revision: string } | null {
  if (!file.startsWith(prefix) || !file.endsWith('.db')) return null;
  const rest = file.slice(prefix.length, -'.db'.length);
  const dot = rest.indexOf('.');
  if (dot === -1 || !STAMP.test(rest.slice(0, dot))) return null;
  const s = rest.slice(0, dot);
  const takenAt = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`;
  return { takenAt, revision: rest.slice(dot + 1) };
}

function parseBackupName(databasePath: string, file: string): { takenAt: string; revision: string; legacy: boolean } | null {
  const keyed = parseAfter(`${basename(databasePath)}.`, file);
  if (keyed) return { ...keyed, legacy: false };
  if (stem(databasePath) === basename(databasePath)) return null;
  const legacy = parseAfter(`${stem(databasePath)}.`, file);
  return legacy ? { ...legacy, legacy: true } : null;
}

/**
 * The database file whose backup `file` is, by its name, when it is another database's than `databasePath`'s (a
 * path beside `databasePath`); null when it is this database's, or not named as a backup at all.
 */
export function otherDatabaseOf(databasePath: string, file: string): string | null {
  const name = basename(file);
  if (parseBackupName(databasePath, name)) return null;
  const match = ANY_BACKUP.exec(name);
  return match ? join(dirname(resolve(databasePath)), match[1]!) : null;
}

/** This database's backups, newest first (by the time in their names). */
export function listBackups(databasePath: string): BackupInfo[] {
  const folder = backupsFolder(databasePath);
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .map((file) => ({ file, parsed: parseBackupName(databasePath, file) }))
    .filter((entry): entry is { file: string; parsed: { takenAt: string; revision: string; legacy: boolean } } => entry.parsed !== null)
    .map(({ file, parsed }) => ({ file, path: join(folder, file), ...parsed, bytes: statSync(join(folder, file)).size }))
    .sort((a, b) => b.takenAt.localeCompare(a.takenAt) || b.file.localeCompare(a.file));
}

/**
 * Writes a consistent copy of a live database with SQLite's online backup API (never a file copy), under a
 * temporary name renamed into place once complete, so a run killed half way never leaves a partial backup that
 * looks whole. Keeps the newest `keep` backups of this database.
 */
export async function writeBackup(databasePath: string, revision: string, keep = DEFAULT_KEEP_BACKUPS): Promise<BackupInfo> {
  const folder = backupsFolder(databasePath);
  const file = backupName(databasePath, new Date(), revision);
  const path = join(folder, file);
  const partial = `${path}.partial`;
  let removedPartials: { file: string; bytes: number }[] = [];
  try {
    mkdirSync(folder, { recursive: true });
    removedPartials = removeStalePartials(databasePath);
    rmSync(partial, { force: true });
    // Pages copied as they are: about twice as fast as VACUUM INTO, which rebuilds every table and index (W4 of
    // npm run bench).
    await copyDatabase(databasePath, partial);
    const copy = new BetterSqliteDriver(new Database(partial));
    try {
      // The copy has the source's journal mode: out of WAL, a backup is one file, whole by itself.
      await copy.exec('PRAGMA journal_mode = DELETE');
      await clearLockRow(copy);
    } finally {
      await copy.close();
    }
    renameSync(partial, path);
  } catch (error) {
    // The folder itself may be what failed (not a directory): nothing to clean up there then.
    if (existsSync(folder) && statSync(folder).isDirectory()) rmSync(partial, { force: true });
    throw new MigrateError('BACKUP', `could not back up ${databasePath} to ${path}: ${(error as Error).message}; nothing was changed (use --no-backup to go on without one)`, { cause: error });
  }
  // Only backups named by this database's full file name count and go: a stem-named one may be another's.
  for (const old of backupsToRemove(listBackups(databasePath).filter((b) => !b.legacy), keep)) rmSync(old.path, { force: true });
  const info = listBackups(databasePath).find((b) => b.file === file) ?? { file, path, ...parseBackupName(databasePath, file)!, bytes: statSync(path).size };
  return { ...info, removedPartials };
}

/**
 * How the copy `restore` saves of the database it replaces is marked (after its revision in the name): `restore
 * latest` passes over it, so a restore retried after a kill restores what the operator asked for, not the state
 * they wanted to leave.
 */
export const SAVED_BEFORE_RESTORE = '.saved-before-restore';

/** Finds a backup by file name, path, or `latest` (the newest that is not a copy saved before a restore). */
export function findBackup(databasePath: string, name: string): BackupInfo {
  const backups = listBackups(databasePath);
  if (name === 'latest') {
    // A stem-named backup is this database's only when no other database of that stem is beside it.
    const ambiguous = backups.some((b) => b.legacy) && siblingsOfStem(databasePath).length > 0;
    const latest = backups.find((b) => !b.revision.endsWith(SAVED_BEFORE_RESTORE) && !(b.legacy && ambiguous));
    if (!latest) throw new MigrateError('BACKUP', `no backups of ${databasePath} in ${backupsFolder(databasePath)}`);
    return latest;
  }
  const byName = backups.find((b) => b.file === name || b.path === resolve(name));
  if (byName) return byName;
  const path = isAbsolute(name) ? name : resolve(name);
  if (existsSync(path) && statSync(path).isFile()) {
    return { file: basename(path), path, takenAt: statSync(path).mtime.toISOString(), revision: '?', bytes: statSync(path).size, legacy: false };
  }
  const known = backups.slice(0, 5).map((b) => b.file).join(', ');
  throw new MigrateError('BACKUP', `no backup '${name}' (${known ? `newest: ${known}` : 'there are no backups'}; 'backups' lists them)`);
}

/** Other files beside the database with its stem and another extension (`bot.sqlite` beside `bot.db`). */
function siblingsOfStem(databasePath: string): string[] {
  const folder = dirname(resolve(databasePath));
  const own = basename(databasePath);
  return readdirSync(folder).filter((name) => name !== own && extname(name) !== '' && stem(name) === stem(databasePath) && statSync(join(folder, name)).isFile() && !/-(wal|shm|journal)$/.test(name));
}

/** Checks that a file is a whole SQLite database before it replaces a live one. */
export function assertSqliteFile(path: string): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const [result] = db.prepare('PRAGMA quick_check').all() as { quick_check: string }[];
    if (result?.quick_check !== 'ok') throw new Error(result?.quick_check ?? 'quick_check gave nothing');
  } catch (error) {
    throw new MigrateError('BACKUP', `${path} is not a sound SQLite database: ${(error as Error).message}`, { cause: error });
  } finally {
    db?.close();
  }
}

/**
 * Copies a backup over the live database with SQLite's online backup API, which writes the
 * destination under its own lock, so readers never see a half-restored file.
 */
export async function copyDatabase(sourcePath: string, destinationPath: string): Promise<void> {
  const source = new Database(sourcePath, { readonly: true, fileMustExist: true });
  try {
    // One step for the whole file: the destination is locked once, for the whole copy.
    await source.backup(destinationPath, { progress: () => 1 << 30 });
  } finally {
    source.close();
  }
}
