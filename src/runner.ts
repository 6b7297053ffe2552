import { existsSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { basename, dirname, join, resolve } from 'node:path';
import { LOCK_TABLE, MIGRATIONS_FOLDER, MIGRATIONS_TABLE, SCHEMA_PATH, databaseUrlFromEnv } from './config.js';
import type { Driver } from './db/driver.js';
import { openDatabase } from './db/open.js';
import { readAppliedRows, recordApplied, CREATE_MIGRATIONS_TABLE } from './engine/bookkeeping.js';
import { compareSchemas } from './engine/diff/compare.js';
import { introspect } from './engine/diff/introspect.js';
import { schemaAt } from './engine/diff/scratch.js';
import { MigrateError } from './engine/errors.js';
import { assertSqliteFile, assertUnchanged, backupsFolder, copyDatabase, findBackup, listBackups, otherDatabaseOf, SAVED_BEFORE_RESTORE, writeBackup, type BackupInfo } from './engine/backup.js';
import { replaceContents, RESTORED } from './engine/restore.js';
import { formatBytes, type BackupBudget } from './engine/sizes.js';
import { acquireLock, describeBlocker, describeHolder, forceUnlock, isBusy, type HeldLock } from './engine/lock.js';
import { parseDatabaseUrl, redactUrl } from './db/url.js';
import { executeSteps, type ExecutionEvent, type StepResult } from './engine/executor.js';
import { planSteps } from './engine/steps.js';
import { loadMigrations, readJournal, type Migration } from './engine/journal.js';
import { computeState, describeEditedWhen, journalOrderProblems, parseDownTarget, parseUpTarget, planDown, planUp, type HistoryState, type SafetyOptions } from './engine/plan.js';
import { BASE, resolveRevision, revisionLabel } from './engine/revisions.js';

/** Where the runner works: which database, which migrations folder. */
export interface RunnerOptions {
  url?: string;
  migrationsFolder?: string;
}

export interface Context {
  url: string;
  folder: string;
}

export function context(options: RunnerOptions): Context {
  return { url: options.url ?? databaseUrlFromEnv(), folder: options.migrationsFolder ?? MIGRATIONS_FOLDER };
}

async function withDatabase<T>(ctx: Context, readOnly: boolean, fn: (db: Driver) => Promise<T>): Promise<T> {
  const location = parseDatabaseUrl(ctx.url);
  // A write command that fails on a database that did not exist must not leave a new empty file behind.
  const created = !readOnly && location.kind === 'file' && !existsSync(location.path) ? location.path : null;
  const db = await openDatabase(ctx.url, { readOnly });
  let failed = false;
  try {
    return await fn(db);
  } catch (error) {
    failed = true;
    if (error instanceof MigrateError) throw error;
    throw new MigrateError('DATABASE', describeDatabaseError(error, ctx.url), { cause: error });
  } finally {
    await db.close();
    if (failed && created) removeIfEmpty(created);
  }
}

/**
 * Puts a database file in WAL mode, as the app opens it (src/db.ts), before migrating: a commit then costs one
 * fsync of the log instead of four plus a rollback journal created and deleted, which is most of the time of a run
 * of many small migrations. When another connection keeps SQLite from switching, the run goes on in the mode the
 * file has (it is as safe, only slower).
 */
async function preferWal(db: Driver, url: string): Promise<void> {
  if (parseDatabaseUrl(url).kind !== 'file') return;
  try {
    await db.exec('PRAGMA journal_mode = WAL');
  } catch {
    // busy or read-only: not worth failing the migration for
  }
}

/** Deletes a database file this command created, if it holds nothing (a run that applied something keeps it). */
function removeIfEmpty(path: string): void {
  let objects = 1;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    objects = (db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n;
    db.close();
  } catch {
    return; // cannot tell: leave it
  }
  if (objects === 0) for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}

/** SQLite's errors in terms of what to do about them. */
function describeDatabaseError(error: unknown, url: string): string {
  const code = String((error as { code?: unknown }).code ?? '');
  const message = (error as Error).message;
  if (code === 'SQLITE_NOTADB') return `${redactUrl(url)} is not a SQLite database (${message}); nothing was changed`;
  if (code.startsWith('SQLITE_BUSY')) return `the database ${redactUrl(url)} is locked by another connection (${message}); nothing was changed: try again when it is done, or raise ?timeout=<ms>`;
  if (code.startsWith('SQLITE_READONLY')) return `the database ${redactUrl(url)} is read-only (${message}); nothing was changed`;
  if (code === 'SQLITE_CORRUPT') return `the database ${redactUrl(url)} is corrupt (${message}); restore a backup ('backups', 'restore')`;
  return `database error on ${redactUrl(url)}: ${message}`;
}

/** Migrations are loaded before the database is opened, so a broken folder changes nothing (not even creates the file). */
async function loadState(migrations: Migration[], db: Driver): Promise<HistoryState> {
  return computeState(migrations, await readAppliedRows(db));
}

export interface MigrateResult {
  direction: 'up' | 'down';
  from: string;
  to: string;
  steps: StepResult[];
  /** The copy taken before anything changed, if one was. */
  backup: BackupInfo | null;
}

/** How `up`, `down`, `stamp` and `restore` protect the database. */
export interface ProtectionOptions {
  /** Back up a file database before changing it (default true). */
  backup?: boolean;
  /** How many backups to keep (default 10). */
  keepBackups?: number;
  /** What all of the database's backups may take (default 5x the database). */
  backupBudget?: BackupBudget;
  /** How long to wait for another runner's lock (default 60 s). */
  lockTimeoutMs?: number;
}

export type RunnerEvent =
  | ExecutionEvent
  | { type: 'waiting'; blocker: string; seconds: number }
  | { type: 'backup'; path: string; ms: number; bytes: number; reused: boolean }
  | { type: 'note'; message: string };

const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

/**
 * Runs `fn` holding the runner's lock on the database, so that one runner at a time changes it. `fn` refreshes the
 * lock at its boundaries (before and after a backup, with each write), so a long run never looks hung.
 */
async function withLock<T>(db: Driver, command: string, options: ProtectionOptions, onEvent: (event: RunnerEvent) => void, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(db, {
    command,
    timeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    onWait: (blocker, waitedMs) => onEvent({ type: 'waiting', blocker: describeBlocker(blocker), seconds: Math.round(waitedMs / 1000) }),
  });
  try {
    return await fn(lock);
  } finally {
    // A lock that cannot be released (the connection failed) is found stale by its dead pid later.
    await lock.release().catch(() => {});
  }
}

/** Backs up a file database (not an in-memory one) unless told not to. */
async function backupBeforeChange(ctx: Context, db: Driver, revision: string, options: ProtectionOptions, onEvent: (event: RunnerEvent) => void): Promise<BackupInfo | null> {
  const location = parseDatabaseUrl(ctx.url);
  if (options.backup !== false && location.kind === 'remote') {
    // A backup is a local file: a remote database's backups are the server's.
    onEvent({ type: 'note', message: 'No backup taken: the database is remote; its backups belong to the libSQL server (e.g. Turso point-in-time restore)' });
  }
  if (options.backup === false || location.kind !== 'file') return null;
  const [{ objects } = { objects: 0 }] = await db.all<{ objects: number }>(
    `SELECT count(*) AS objects FROM sqlite_master WHERE tbl_name NOT IN ('${LOCK_TABLE}', '${MIGRATIONS_TABLE}')`,
  );
  if (objects === 0) return null; // a new, empty database has nothing to lose
  const started = performance.now();
  const info = await writeBackup(location.path, revision, { keep: options.keepBackups, budget: options.backupBudget });
  for (const partial of info.removedPartials ?? []) {
    const what = partial.file.endsWith('.partial') ? 'a backup a killed run left half-written' : 'the record of a backup that is gone';
    onEvent({ type: 'note', message: `Removed ${partial.file} (${formatBytes(partial.bytes)}): ${what}` });
  }
  onEvent({ type: 'backup', path: info.path, ms: performance.now() - started, bytes: info.bytes, reused: info.reused === true });
  return info;
}

type MigrateOptions = RunnerOptions & SafetyOptions & ProtectionOptions & { target?: string };

async function migrate(direction: 'up' | 'down', options: MigrateOptions, onEvent: (event: RunnerEvent) => void): Promise<MigrateResult> {
  const ctx = context(options);
  const target = direction === 'up' ? parseUpTarget(options.target) : parseDownTarget(options.target);
  const migrations = loadMigrations(ctx.folder);
  return withDatabase(ctx, false, (db) =>
    withLock(db, `${direction} ${options.target ?? ''}`.trim(), options, onEvent, async (lock) => {
      // Planned under the lock: a runner that waited finds what the one before it applied.
      const state = await loadState(migrations, db);
      const plan = direction === 'up' ? planUp(state, target, options) : planDown(state, target, options);
      const label = (position: number) => revisionLabel(position, state.migrations);
      // Every file checked runnable before anything changes (the backup included).
      const planned = planSteps(plan, state);
      // Only when there is something to do: an up with nothing to do stays as fast as `current`.
      const damage = planned.length > 0 ? await damageFound(db) : null;
      if (damage !== null) {
        throw new MigrateError('CORRUPT', `PRAGMA quick_check finds ${redactUrl(ctx.url)} damaged: ${damage}; nothing was changed (restore a backup: npm run db -- backups)`);
      }
      let backup: BackupInfo | null = null;
      if (planned.length > 0) {
        // The backup of a large file can take long, and no write lock keeps others out meanwhile.
        await lock.refresh();
        backup = await backupBeforeChange(ctx, db, label(state.current), options, onEvent);
        await lock.refresh();
        await preferWal(db, ctx.url);
      }
      // Each step refreshes the lock in the step's transaction: its expiry is fresh the moment the step commits, however
      // long the step took, and a lock lost meanwhile rolls the step back.
      const steps = await executeSteps(db, planned, onEvent, { beforeCommit: (tx) => lock.refresh(tx) });
      return { direction, from: label(plan.from), to: label(plan.to), steps, backup };
    }),
  );
}

/**
 * What `PRAGMA quick_check` finds wrong with the database, in one line (its first three findings), or null when
 * nothing: a damaged file is never changed by a migration, whose backup would copy the damage.
 */
async function damageFound(db: Driver): Promise<string | null> {
  const check = await db.all<{ quick_check: string }>('PRAGMA quick_check');
  // One finding a line (SQLite gives them as rows, or as lines of one row), its '*** in database main ***' left out.
  const damaged = check.flatMap((r) => r.quick_check.split('\n')).filter((line) => line !== 'ok' && !line.startsWith('***') && line.trim() !== '');
  if (damaged.length === 0) return null;
  return `${damaged.slice(0, 3).join('; ')}${damaged.length > 3 ? `; and ${damaged.length - 3} more` : ''}`;
}

/** `up [head|+N|rev]`: applies pending migrations up to and including the target. */
export function upgrade(options: MigrateOptions, onEvent: (event: RunnerEvent) => void = () => {}): Promise<MigrateResult> {
  return migrate('up', options, onEvent);
}

/** `down [-N|rev|base]`: reverts applied migrations after the target, newest first. */
export function downgrade(options: MigrateOptions, onEvent: (event: RunnerEvent) => void = () => {}): Promise<MigrateResult> {
  return migrate('down', options, onEvent);
}

export interface RevisionSummary {
  idx: number;
  tag: string;
  createdAt: string;
  hash: string;
  applied: boolean;
  current: boolean;
  head: boolean;
  modified: boolean;
  hasDown: boolean;
}

function summarize(state: HistoryState, position: number): RevisionSummary {
  const entry = state.entries[position]!;
  const m = entry.migration;
  return {
    idx: m.idx,
    tag: m.tag,
    createdAt: new Date(m.when).toISOString(),
    hash: m.hash,
    applied: entry.applied !== null,
    current: position === state.current,
    head: position === state.migrations.length - 1,
    modified: entry.modified,
    hasDown: m.down !== null,
  };
}

export interface CurrentResult {
  revision: string;
  migration: RevisionSummary | null;
  pending: number;
}

/** `current`: the last applied revision, or base. */
export async function current(options: RunnerOptions): Promise<CurrentResult> {
  const ctx = context(options);
  const migrations = loadMigrations(ctx.folder);
  return withDatabase(ctx, true, async (db) => {
    const state = await loadState(migrations, db);
    return {
      revision: revisionLabel(state.current, state.migrations),
      migration: state.current === BASE ? null : summarize(state, state.current),
      pending: state.entries.filter((e) => !e.applied).length,
    };
  });
}

export interface HistoryResult {
  current: string;
  migrations: RevisionSummary[];
  /** Applied rows whose migration is not in the folder. */
  unknownApplied: { createdAt: number; hash: string }[];
}

/** `history`: every migration in order with its state. */
export async function history(options: RunnerOptions): Promise<HistoryResult> {
  const ctx = context(options);
  const migrations = loadMigrations(ctx.folder);
  return withDatabase(ctx, true, async (db) => {
    const state = await loadState(migrations, db);
    return {
      current: revisionLabel(state.current, state.migrations),
      migrations: state.migrations.map((m) => summarize(state, m.position)),
      unknownApplied: state.unknownApplied,
    };
  });
}

export interface ShowResult extends RevisionSummary {
  upPath: string;
  upSql: string;
  downPath: string;
  downSql: string | null;
  dataLoss: string[];
}

/** `show <rev>`: one migration with its up and down SQL. */
export async function show(options: RunnerOptions & { revision: string }): Promise<ShowResult> {
  const ctx = context(options);
  const migrations = loadMigrations(ctx.folder);
  return withDatabase(ctx, true, async (db) => {
    const state = await loadState(migrations, db);
    const position = resolveRevision(options.revision, state.migrations);
    if (position === BASE) throw new MigrateError('INVALID_TARGET', `'base' is the empty database, not a migration: name a revision to show`);
    const m = state.migrations[position]!;
    return {
      ...summarize(state, position),
      upPath: m.up.path,
      upSql: m.up.text,
      downPath: m.downPath,
      downSql: m.down?.text ?? null,
      dataLoss: m.down?.dataLoss ?? [],
    };
  });
}

export interface StatusResult {
  current: string;
  applied: string[];
  pending: string[];
  /** Everything that makes `up` refuse or that needs a look, one entry each. */
  problems: { kind: 'corrupt' | 'modified' | 'missing' | 'edited-when' | 'journal-order' | 'out-of-order' | 'missing-down' | 'drift'; message: string }[];
}

/**
 * `status`: applied and pending migrations, and the problems: edited applied migrations, applied ones
 * missing from the folder, pending ones out of order, missing down files, and drift (the live schema
 * compared with what the applied migrations give on an empty scratch database).
 */
export async function status(options: RunnerOptions): Promise<StatusResult> {
  const ctx = context(options);
  const migrations = loadMigrations(ctx.folder);
  return withDatabase(ctx, true, async (db) => {
    const state = await loadState(migrations, db);
    const problems: StatusResult['problems'] = [];
    // A damaged file is the first thing an operator must hear about; what it holds cannot be compared then.
    const damage = await damageFound(db);
    if (damage !== null) problems.push({ kind: 'corrupt', message: `PRAGMA quick_check finds the file damaged: ${damage} (restore a backup: npm run db -- backups)` });
    for (const entry of state.entries) {
      if (entry.modified) problems.push({ kind: 'modified', message: `${entry.migration.up.path} was edited after it was applied (hash ${entry.applied!.hash.slice(0, 12)} recorded, ${entry.migration.hash.slice(0, 12)} now)` });
    }
    for (const row of state.unknownApplied) {
      problems.push({ kind: 'missing', message: `an applied migration is missing from ${ctx.folder}: created_at ${row.createdAt}, hash ${row.hash.slice(0, 12)}` });
    }
    for (const entry of state.entries.filter((e) => e.editedWhen !== null)) problems.push({ kind: 'edited-when', message: describeEditedWhen(entry) });
    for (const message of journalOrderProblems(state.migrations)) problems.push({ kind: 'journal-order', message });
    for (const m of state.outOfOrder) {
      problems.push({ kind: 'out-of-order', message: `${m.up.path} is pending but sorts before the current revision ${revisionLabel(state.current, state.migrations)}` });
    }
    for (const m of state.migrations.filter((m) => m.down === null)) {
      problems.push({ kind: 'missing-down', message: `${m.downPath} is missing: 'down' cannot revert ${m.tag} (write it with 'write-down')` });
    }
    if (state.unknownApplied.length === 0 && damage === null) {
      const expected = await schemaAtApplied(state);
      const drift = compareSchemas(expected, await introspect(db), { expected: 'the applied migrations', actual: 'the database' });
      for (const difference of drift) problems.push({ kind: 'drift', message: difference });
    }
    return {
      current: revisionLabel(state.current, state.migrations),
      applied: state.entries.filter((e) => e.applied).map((e) => e.migration.tag),
      pending: state.entries.filter((e) => !e.applied).map((e) => e.migration.tag),
      problems,
    };
  });
}

/**
 * The schema the applied migrations give on an empty database, replayed in the order they were applied: by their
 * rows' `created_at` (the `when` each had when it ran), which is the journal's order unless the journal was
 * reordered since.
 */
async function schemaAtApplied(state: HistoryState) {
  const applied = state.entries.filter((e) => e.applied).sort((a, b) => a.applied!.createdAt - b.applied!.createdAt).map((e) => e.migration);
  return schemaAt(applied, applied.length - 1);
}

export interface StampResult {
  from: string;
  to: string;
  /** Differences found and overridden with force. */
  differences: string[];
}

/**
 * `stamp <rev>`: records the database as being at `rev` without running its SQL (to adopt a database
 * made elsewhere). Refuses when the live schema differs from what the migrations up to `rev` give.
 */
export async function stamp(options: RunnerOptions & ProtectionOptions & { revision: string; force?: boolean }, onEvent: (event: RunnerEvent) => void = () => {}): Promise<StampResult> {
  const ctx = context(options);
  const migrations = loadMigrations(ctx.folder);
  return withDatabase(ctx, false, (db) => withLock(db, `stamp ${options.revision}`, options, onEvent, async (lock) => {
    const state = await loadState(migrations, db);
    const position = resolveRevision(options.revision, state.migrations);
    const expected = await schemaAt(state.migrations, position);
    const differences = compareSchemas(expected, await introspect(db), {
      expected: `the migrations up to ${revisionLabel(position, state.migrations)}`,
      actual: 'the database',
    });
    if (differences.length > 0 && !options.force) {
      throw new MigrateError(
        'SCHEMA_MISMATCH',
        `the database does not match ${revisionLabel(position, state.migrations)}: ${differences.join('; ')} (pass --force to stamp anyway)`,
      );
    }
    await db.transaction(async (tx) => {
      // Comparing the schemas can take a while: the lock is checked ours, and refreshed, with the write.
      await lock.refresh(tx);
      await tx.exec(CREATE_MIGRATIONS_TABLE);
      await tx.exec('DELETE FROM "__drizzle_migrations"');
      for (const m of state.migrations.slice(0, position + 1)) await recordApplied(tx, { hash: m.hash, createdAt: m.when });
    });
    return { from: revisionLabel(state.current, state.migrations), to: revisionLabel(position, state.migrations), differences };
  }));
}

function fileLocation(ctx: Context, command: string): string {
  const location = parseDatabaseUrl(ctx.url);
  if (location.kind !== 'file') throw new MigrateError('BACKUP', `'${command}' needs a database file; ${location.kind === 'memory' ? 'an in-memory database' : 'a remote database'} has no backups`);
  return location.path;
}

/** `backups`: this database's backups, newest first. */
export async function backups(options: RunnerOptions): Promise<{ folder: string; backups: BackupInfo[] }> {
  const path = fileLocation(context(options), 'backups');
  return { folder: backupsFolder(path), backups: listBackups(path) };
}

export interface RestoreResult {
  restored: BackupInfo;
  /** The database as it was just before the restore, kept as a backup too. */
  saved: BackupInfo;
  revision: string;
}

/**
 * `restore <backup|latest>`: puts a backup back in place of the database. Holds the runner's lock,
 * refuses while another connection is writing, checks the backup is a sound SQLite file, and first
 * backs up the database as it is (so a restore can be undone).
 */
export async function restore(options: RunnerOptions & ProtectionOptions & { from: string; backupOf?: string }, onEvent: (event: RunnerEvent) => void = () => {}): Promise<RestoreResult> {
  const ctx = context(options);
  const path = fileLocation(ctx, 'restore');
  const chosen = findBackup(path, options.from);
  // A backup named as another database's is that database's data: put here only when the operator says so.
  const other = otherDatabaseOf(path, chosen.path);
  if (other && (options.backupOf === undefined || resolve(options.backupOf) !== other)) {
    throw new MigrateError(
      'BACKUP',
      `${chosen.file} is a backup of ${basename(other)}, not of ${basename(path)}: restore it with --url pointing at ${basename(other)}, or pass --from ${other} to put its data here anyway; nothing was changed`,
    );
  }
  assertUnchanged(chosen);
  assertSqliteFile(chosen.path);
  const revisionOf = (db: Driver) =>
    Promise.resolve()
      .then(async () => {
        const state = await loadState(loadMigrations(ctx.folder), db);
        return revisionLabel(state.current, state.migrations);
      })
      .catch(() => 'unknown'); // a restore must work even when the migrations folder does not
  const waitMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  return withDatabase(ctx, false, async (db) => {
    // Every wait for another connection's write lock (the runner's lock row, then the restore's transaction) is
    // bounded by --lock-timeout.
    await db.exec(`PRAGMA busy_timeout = ${Math.round(waitMs)}`);
    return withLock(db, `restore ${chosen.file}`, options, onEvent, async (lock) => {
      const before = await revisionOf(db);
      // ATTACH cannot run inside a transaction; foreign keys cannot be switched inside one.
      await db.run(`ATTACH DATABASE ? AS ${RESTORED}`, [chosen.path]);
      await db.exec('PRAGMA foreign_keys = OFF');
      try {
        // The write lock is taken before the copy saved first and held until the restore commits: a write another
        // connection had acknowledged is in that copy; one that comes later waits, or gets SQLITE_BUSY.
        try {
          await db.exec('BEGIN IMMEDIATE');
        } catch (error) {
          throw new MigrateError(
            'LOCKED',
            `another connection holds a write transaction open on ${path}; waited ${Math.round(waitMs / 1000)} s (--lock-timeout) and restored nothing: stop it (e.g. the app) and run restore again (${(error as Error).message})`,
            { cause: error },
          );
        }
        try {
          // Checked ours (and refreshed) under the write lock, before the copy saved first and the restore.
          await lock.refresh(db);
          // No budget: old backups never stop a recovery.
          const saved = await writeBackup(path, `${before}${SAVED_BEFORE_RESTORE}`, { keep: Math.max(options.keepBackups ?? 10, 2), budget: null });
          await replaceContents(db);
          await db.exec('COMMIT');
          return { restored: chosen, saved, revision: await revisionOf(db) };
        } catch (error) {
          await db.exec('ROLLBACK').catch(() => {});
          // Busy after BEGIN IMMEDIATE succeeded: the commit (or a cache spill) waited for readers, not for a writer.
          if (!isBusy(error)) throw error;
          throw new MigrateError(
            'LOCKED',
            `another connection keeps a read transaction open on ${path}, and in rollback-journal mode the restore's commit waits for every reader; waited ${Math.round(waitMs / 1000)} s (--lock-timeout) and restored nothing: end that reader (a long query, or a connection left inside BEGIN) and run restore again`,
            { cause: error },
          );
        }
      } finally {
        await db.exec(`DETACH DATABASE ${RESTORED}`).catch(() => {});
        await db.exec('PRAGMA foreign_keys = ON').catch(() => {});
      }
    });
  });
}

/** `unlock`: removes the runner's lock whoever holds it (for a lock left on another host by a process that is gone). */
export async function unlock(options: RunnerOptions): Promise<{ removed: string | null }> {
  const ctx = context(options);
  return withDatabase(ctx, false, async (db) => {
    const holder = await forceUnlock(db);
    return { removed: holder ? describeHolder(holder) : null };
  });
}
