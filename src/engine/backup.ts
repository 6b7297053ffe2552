import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { BetterSqliteDriver } from '../db/better-sqlite3.js';
import { MigrateError } from './errors.js';
import { clearLockRow } from './lock.js';
import { budgetBytes, describeBudget, formatBytes, type BackupBudget } from './sizes.js';

/** How many backups of a database are kept when nothing else is said. */
export const DEFAULT_KEEP_BACKUPS = 10;

/** What all of a database's backups may take when nothing else is said. */
export const DEFAULT_BACKUP_BUDGET: BackupBudget = { timesDatabase: 5, atLeastBytes: 1e9 };

export interface RotationPlan<T> {
  remove: T[];
  /** What the backups rotation keeps take together. */
  keptBytes: number;
  /** The kept backups that nothing may remove (the new one, the newest of each revision) exceed the budget alone. */
  overBudget: boolean;
}

/**
 * What rotation removes of a database's backups (newest first, the new one first of all): those beyond the newest
 * `keep`, then the oldest while all of them take more than `budgetBytes`, and never the new one nor the newest
 * backup of a revision. Ten retries of a failing `up` take backups of one revision; counting alone would delete
 * the backup from before the last change that succeeded, the only one of its revision, the one an operator needs.
 * Pure.
 */
export function planRotation<T extends { revision: string; bytes: number }>(backups: readonly T[], keep: number, budgetBytes = Infinity): RotationPlan<T> {
  const seen = new Set<string>();
  const untouchable = backups.map((backup, position) => {
    const revision = backup.revision.endsWith(SAVED_BEFORE_RESTORE) ? backup.revision.slice(0, -SAVED_BEFORE_RESTORE.length) : backup.revision;
    const newestOfItsRevision = !seen.has(revision);
    seen.add(revision);
    return position === 0 || newestOfItsRevision;
  });
  const remove = new Set(backups.filter((_, position) => position >= Math.max(keep, 1) && !untouchable[position]));
  let keptBytes = backups.filter((b) => !remove.has(b)).reduce((sum, b) => sum + b.bytes, 0);
  for (let position = backups.length - 1; position > 0 && keptBytes > budgetBytes; position--) {
    const backup = backups[position]!;
    if (untouchable[position] || remove.has(backup)) continue;
    remove.add(backup);
    keptBytes -= backup.bytes;
  }
  return { remove: backups.filter((b) => remove.has(b)), keptBytes, overBudget: keptBytes > budgetBytes };
}

/** A `.partial` file untouched this long belongs to no running backup: a backup writes it without pause. */
const STALE_PARTIAL_MS = 60_000;

/**
 * Removes what killed runs left of this database's backups, so it does not fill the disk: `.partial` files
 * untouched for STALE_PARTIAL_MS (a running backup writes its file continuously), and records whose backup is gone.
 * Returns what it removed.
 */
export function removeStaleLeftovers(databasePath: string, now = Date.now()): { file: string; bytes: number }[] {
  const folder = backupsFolder(databasePath);
  if (!existsSync(folder)) return [];
  const files = new Set(readdirSync(folder));
  const removed: { file: string; bytes: number }[] = [];
  for (const file of files) {
    const partial = file.endsWith('.partial') && parseBackupName(databasePath, file.slice(0, -'.partial'.length).replace(/\.json$/, ''));
    const orphanRecord = file.endsWith(RECORD) && parseBackupName(databasePath, file.slice(0, -RECORD.length)) && !files.has(file.slice(0, -RECORD.length)) && !files.has(`${file.slice(0, -RECORD.length)}.partial`);
    if (!partial && !orphanRecord) continue;
    const stats = statSync(join(folder, file));
    if (partial && now - stats.mtimeMs < STALE_PARTIAL_MS) continue;
    rmSync(join(folder, file), { force: true });
    removed.push({ file, bytes: stats.size });
  }
  return removed;
}

/** What a backup's record (`<backup>.json`, beside it) says it is of: written when it was taken. */
export interface BackupRecord {
  /** The database file it was taken of (absolute). */
  database: string;
  revision: string;
  takenAt: string;
  /** SHA-256 of its pages (contentDigest): two backups of one state have one digest. */
  sha256: string;
  bytes: number;
}

const RECORD = '.json';

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
  /** Its record, when it has one (backups taken before records were written have none). */
  record: BackupRecord | null;
  /** Set by `writeBackup`: what killed runs left that it removed first. */
  removedPartials?: { file: string; bytes: number }[];
  /** Set by `writeBackup`: the newest backup already held this state, so no new one was written. */
  reused?: boolean;
  /** Set by `writeBackup`: older backups rotation removed. */
  rotated?: BackupInfo[];
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
    .map(({ file, parsed }) => ({ file, path: join(folder, file), ...parsed, bytes: statSync(join(folder, file)).size, record: readRecord(join(folder, file)) }))
    .sort((a, b) => b.takenAt.localeCompare(a.takenAt) || b.file.localeCompare(a.file));
}

/** A backup's record, or null when it has none or it cannot be read (then the backup is listed as one without). */
function readRecord(backupPath: string): BackupRecord | null {
  try {
    const record = JSON.parse(readFileSync(`${backupPath}${RECORD}`, 'utf8')) as BackupRecord;
    return typeof record.sha256 === 'string' ? record : null;
  } catch {
    return null;
  }
}

export interface BackupOptions {
  /** How many of this database's backups rotation keeps (beyond the newest of each revision). */
  keep?: number;
  /**
   * What all of them may take, or null for no budget: a restore's saved copy, since old backups must never stop
   * a recovery.
   */
  budget?: BackupBudget | null;
}

/**
 * Writes a consistent copy of a live database with SQLite's online backup API (never a file copy), under a
 * temporary name renamed into place once complete, so a run killed half way never leaves a partial backup that
 * looks whole, with its record beside it. Refuses before anything is written when the disk has no room for it or
 * the budget cannot hold it; writes nothing new when the newest backup holds the same state; then rotates.
 */
export async function writeBackup(databasePath: string, revision: string, options: BackupOptions = {}): Promise<BackupInfo> {
  const keep = options.keep ?? DEFAULT_KEEP_BACKUPS;
  const budget = options.budget === undefined ? DEFAULT_BACKUP_BUDGET : options.budget;
  const folder = backupsFolder(databasePath);
  const file = backupName(databasePath, new Date(), revision);
  const path = join(folder, file);
  const partial = `${path}.partial`;
  const recordPath = `${path}${RECORD}`;
  const fail = (error: unknown): never => {
    throw new MigrateError('BACKUP', `could not back up ${databasePath} to ${path}: ${(error as Error).message}; nothing was changed (use --no-backup to go on without one)`, { cause: error });
  };
  let removedPartials: { file: string; bytes: number }[] = [];
  try {
    mkdirSync(folder, { recursive: true });
    removedPartials = removeStaleLeftovers(databasePath);
  } catch (error) {
    fail(error);
  }
  // Only backups named by this database's full file name count and go: a stem-named one may be another's.
  const existing = listBackups(databasePath).filter((b) => !b.legacy);
  const needed = databaseBytes(databasePath);
  assertRoom(databasePath, folder, needed, existing, revision, keep, budget);
  try {
    rmSync(partial, { force: true });
    // Pages copied as they are: about twice as fast as VACUUM INTO, which rebuilds every table and index (W4 of
    // npm run bench).
    await copyDatabase(databasePath, partial);
    const copy = new BetterSqliteDriver(new Database(partial));
    try {
      // The copy has the source's journal mode: out of WAL, a backup is one file, whole by itself.
      await copy.exec('PRAGMA journal_mode = DELETE');
      // The lock's pages, freed in the copy, are zeroed: two backups of one state then have one digest.
      await copy.exec('PRAGMA secure_delete = ON');
      await clearLockRow(copy);
    } finally {
      await copy.close();
    }
    const sha256 = contentDigest(partial);
    const newest = existing[0];
    if (newest && newest.revision === revision && newest.record?.sha256 === sha256) {
      rmSync(partial, { force: true });
      return { ...newest, removedPartials, reused: true, rotated: [] };
    }
    const record: BackupRecord = { database: resolve(databasePath), revision, takenAt: parseBackupName(databasePath, file)!.takenAt, sha256, bytes: statSync(partial).size };
    // The record first: a kill between the two renames leaves a record without its backup, which the next run
    // removes, never a backup without its record.
    writeFileSync(`${recordPath}.partial`, `${JSON.stringify(record, null, 2)}\n`);
    renameSync(`${recordPath}.partial`, recordPath);
    renameSync(partial, path);
  } catch (error) {
    // The folder itself may be what failed (not a directory): nothing to clean up there then.
    if (existsSync(folder) && statSync(folder).isDirectory()) {
      for (const leftover of [partial, `${recordPath}.partial`, recordPath]) rmSync(leftover, { force: true });
    }
    return fail(error);
  }
  const backups = listBackups(databasePath).filter((b) => !b.legacy);
  const { remove } = planRotation(backups, keep, budget === null ? Infinity : budgetBytes(budget, needed));
  for (const old of remove) removeBackup(old);
  return { ...backups.find((b) => b.file === file)!, removedPartials, reused: false, rotated: remove };
}

/** Removes a backup with its record. */
export function removeBackup(backup: BackupInfo): void {
  rmSync(backup.path, { force: true });
  rmSync(`${backup.path}${RECORD}`, { force: true });
}

/**
 * Refuses, before anything is written, a backup the disk has no room for, or one the budget cannot hold once
 * rotation has removed all it may.
 */
function assertRoom(databasePath: string, folder: string, needed: number, existing: BackupInfo[], revision: string, keep: number, budget: BackupBudget | null): void {
  const free = freeBytes(folder);
  if (free !== null && needed > free) {
    throw new MigrateError(
      'BACKUP',
      `cannot back up ${databasePath}: the backup needs ${formatBytes(needed)} and ${folder} has ${formatBytes(free)} free; nothing was changed (free some space there, or go on without one: --no-backup)`,
    );
  }
  if (budget === null) return;
  const plan = planRotation([{ revision, bytes: needed }, ...existing], keep, budgetBytes(budget, needed));
  if (plan.overBudget) {
    throw new MigrateError(
      'BACKUP',
      `cannot back up ${databasePath} within --max-backup-size (${describeBudget(budget, needed)}): ` +
        `the ${existing.length - plan.remove.length} backup(s) that rotation must keep (the newest of each revision) and the new one (${formatBytes(needed)}) take ${formatBytes(plan.keptBytes)}; ` +
        `nothing was changed (raise --max-backup-size, delete old backups that 'backups' lists, or go on without one: --no-backup)`,
    );
  }
}

/** The bytes a backup of the database takes: its pages, the WAL's included. */
function databaseBytes(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  } finally {
    db.close();
  }
}

/** Bytes free for this user in the folder's file system; null where the system cannot say. */
function freeBytes(folder: string): number | null {
  try {
    const stats = statfsSync(folder);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}

/** Offsets in a database's header that change on every write whatever the data: left out of the digest. */
const VOLATILE_HEADER = [
  [24, 28], // file change counter
  [40, 44], // schema cookie
  [92, 100], // version-valid-for number, and the SQLite version that wrote the file
] as const;

/**
 * SHA-256 of a database file without the header fields that count writes: two copies of one state (same schema,
 * same rows, same pages) have one digest, so a backup identical to the newest is not kept again.
 */
export function contentDigest(path: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let offset = 0; ; ) {
      const read = readSync(fd, buffer, 0, buffer.length, offset);
      if (read === 0) break;
      if (offset === 0) for (const [from, to] of VOLATILE_HEADER) buffer.fill(0, from, Math.min(to, read));
      hash.update(buffer.subarray(0, read));
      offset += read;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * Checks a backup against the digest its record holds (one without a record has nothing to check): a backup
 * changed or damaged since it was taken is never put in place of a database.
 */
export function assertUnchanged(backup: BackupInfo): void {
  if (!backup.record) return;
  const actual = contentDigest(backup.path);
  if (actual !== backup.record.sha256) {
    throw new MigrateError(
      'BACKUP',
      `${backup.file} is not the backup that was taken: its content digest is ${actual.slice(0, 12)}, its record says ${backup.record.sha256.slice(0, 12)} (changed or damaged since); nothing was restored`,
    );
  }
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
    return { file: basename(path), path, takenAt: statSync(path).mtime.toISOString(), revision: '?', bytes: statSync(path).size, legacy: false, record: readRecord(path) };
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
