import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_TABLE } from '../config.js';
import type { Driver, Queryable } from '../db/driver.js';
import { MigrateError } from './errors.js';

const table = `"${LOCK_TABLE}"`;

export const CREATE_LOCK_TABLE = `CREATE TABLE IF NOT EXISTS ${table} (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  owner TEXT NOT NULL,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  command TEXT NOT NULL,
  acquired_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
)`;

export interface LockHolder {
  owner: string;
  pid: number;
  host: string;
  command: string;
  acquired_at: number;
  expires_at: number;
}

export interface LockOptions {
  /** What the holder is doing, shown to whoever waits. */
  command: string;
  /** How long to wait for another runner before giving up. */
  timeoutMs: number;
  /** How long a lock counts as held after it was taken or last refreshed; a holder that stops refreshing it is taken over then. */
  staleAfterMs?: number;
  /**
   * Called when the wait starts, when the blocker changes, and every WAIT_REPORT_MS while it lasts, with how long it
   * has waited.
   */
  onWait?: (blocker: LockBlocker, waitedMs: number) => void;
}

/**
 * What keeps the lock out: another runner's row, or another connection's transaction. A writer's keeps out the
 * BEGIN IMMEDIATE; in rollback-journal mode a reader's keeps out the commit (it needs every reader gone).
 */
export type LockBlocker = { kind: 'runner'; holder: LockHolder } | { kind: 'writer' } | { kind: 'reader' };

export function describeBlocker(blocker: LockBlocker): string {
  if (blocker.kind === 'runner') return `the migration lock held by ${describeHolder(blocker.holder)}`;
  return blocker.kind === 'writer'
    ? "another connection's write transaction"
    : "another connection's read transaction (in rollback-journal mode a commit waits for every reader)";
}

export interface HeldLock {
  /**
   * Moves the lock's expiry to now + staleAfterMs, so that a long run is never taken for a hung one. In a
   * transaction of its own, or in `tx` when given (a step's, so that the refresh commits with it). Throws LOCKED
   * when the lock is no longer ours: another runner took it over, or `unlock` removed it.
   */
  refresh(tx?: Queryable): Promise<void>;
  release(): Promise<void>;
}

const DEFAULT_STALE_AFTER_MS = 60 * 60 * 1000;
const POLL_MS = 100;
/** How long one attempt waits for another connection's write (or, in rollback-journal mode, read) transaction. */
const ATTEMPT_BUSY_MS = 250;
/** How often a wait says that it is still waiting (a silent 19 s looks like a hang). */
const WAIT_REPORT_MS = 5000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When a process started (ms since the epoch), from Linux's /proc (its start in clock ticks after boot, and the
 * boot time); null where there is no /proc or the process is gone. USER_HZ is 100 on every Linux architecture
 * Node runs on.
 */
export function processStartedAt(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces or parentheses itself: fields follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootSeconds)) return null;
    return (bootSeconds + startTicks / 100) * 1000;
  } catch {
    return null;
  }
}

/** Leeway for the boot time's whole seconds and the clock ticks when comparing a start time with the lock's. */
const START_TIME_SLACK_MS = 2000;

/**
 * A lock left by a killed or hung process must not block forever: it is stale when its heartbeat (`expires_at`,
 * refreshed by a running runner at every step) has expired, and on this host also as soon as its pid is gone or
 * belongs to a process started after the lock was taken (a container restarted: the app is pid 1 again).
 */
export function isStale(holder: LockHolder, now: number, host = hostname()): boolean {
  if (now > holder.expires_at) return true;
  if (holder.host !== host) return false;
  if (!isAlive(holder.pid)) return true;
  const started = processStartedAt(holder.pid);
  return started !== null && started > holder.acquired_at + START_TIME_SLACK_MS;
}

export function describeHolder(holder: LockHolder): string {
  return `pid ${holder.pid} on ${holder.host} (${holder.command}, since ${new Date(holder.acquired_at).toISOString()})`;
}

/** SQLITE_BUSY (or LOCKED): another connection's lock kept this one out past the busy timeout. */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || /database is locked/i.test(String((error as Error).message));
}

/**
 * Takes the runner's lock: a row in a table of its own, written in a `BEGIN IMMEDIATE` transaction so
 * that only one process can take it. Waits (polling) up to `timeoutMs` while another live runner holds it.
 */
export async function acquireLock(db: Driver, options: LockOptions): Promise<HeldLock> {
  const busyTimeoutMs = await busyTimeoutOf(db);
  try {
    return await takeLock(db, options, busyTimeoutMs);
  } finally {
    if (busyTimeoutMs !== null) await db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  }
}

/** The connection's busy timeout, or null where the engine has none to set (a remote server). */
async function busyTimeoutOf(db: Driver): Promise<number | null> {
  try {
    const [row] = await db.all<{ timeout: number }>('PRAGMA busy_timeout');
    return typeof row?.timeout === 'number' ? row.timeout : null;
  } catch {
    return null;
  }
}

async function takeLock(db: Driver, options: LockOptions, busyTimeoutMs: number | null): Promise<HeldLock> {
  const owner = randomUUID();
  const started = Date.now();
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  let blocker: LockBlocker | undefined;
  let reportedAt = -Infinity;
  const report = (now: LockBlocker) => {
    reportedAt = Date.now();
    options.onWait?.(now, reportedAt - started);
  };
  for (;;) {
    // Set once BEGIN IMMEDIATE has succeeded: a busy error after it is the commit waiting for readers.
    let began = false as boolean; // assigned in the callback, which the compiler's narrowing does not see
    // Each attempt waits for another connection's transaction a short while only, so a long wait is reported as it
    // goes (one busy wait of the whole --lock-timeout would say nothing until it gave up).
    if (busyTimeoutMs !== null) await db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.min(ATTEMPT_BUSY_MS, options.timeoutMs - (Date.now() - started)))}`);
    try {
      const taken = await db.transaction(async (tx) => {
        began = true;
        await tx.exec(CREATE_LOCK_TABLE);
        const [holder] = await tx.all<LockHolder>(`SELECT owner, pid, host, command, acquired_at, expires_at FROM ${table} WHERE id = 1`);
        const now = Date.now();
        if (holder && !isStale(holder, now)) return holder;
        await tx.run(`INSERT OR REPLACE INTO ${table} (id, owner, pid, host, command, acquired_at, expires_at) VALUES (1, ?, ?, ?, ?, ?, ?)`, [
          owner,
          process.pid,
          hostname(),
          options.command,
          now,
          now + staleAfterMs,
        ]);
        return null;
      });
      if (taken === null) {
        return {
          refresh: (tx) => (tx ? refreshLock(tx, owner, staleAfterMs) : db.transaction((own) => refreshLock(own, owner, staleAfterMs))),
          release: () => db.transaction((tx) => releaseLock(tx, owner)),
        };
      }
      const changed = blocker?.kind !== 'runner' || blocker.holder.owner !== taken.owner;
      blocker = { kind: 'runner', holder: taken };
      if (changed || Date.now() - reportedAt >= WAIT_REPORT_MS) report(blocker);
    } catch (error) {
      if (!isBusy(error)) throw error;
      const now: LockBlocker = { kind: began ? 'reader' : 'writer' };
      const changed = blocker?.kind !== now.kind;
      blocker = now;
      if ((changed || Date.now() - reportedAt >= WAIT_REPORT_MS) && Date.now() - started < options.timeoutMs) report(now);
    }
    const waited = Date.now() - started;
    if (waited >= options.timeoutMs) {
      const seconds = (waited / 1000).toFixed(1);
      if (blocker?.kind === 'runner') {
        throw new MigrateError(
          'LOCKED',
          `another migration runner holds the lock: ${describeHolder(blocker.holder)}; gave up after ${seconds} s (wait longer with --lock-timeout, or if that process is gone from another host, run 'unlock')`,
        );
      }
      if (blocker?.kind === 'reader') {
        throw new MigrateError(
          'LOCKED',
          `another connection keeps a read transaction open on the database, and in rollback-journal mode a commit waits for every reader; gave up after ${seconds} s, nothing was changed (end that reader: a long query, or a connection left inside BEGIN; or raise --lock-timeout)`,
        );
      }
      throw new MigrateError('LOCKED', `the database is locked by another connection writing to it; gave up after ${seconds} s (try again when it is done, or raise --lock-timeout)`);
    }
    await sleep(POLL_MS + Math.floor(Math.random() * POLL_MS));
  }
}

/** Moves our row's expiry on, or throws when the row is no longer ours. */
async function refreshLock(tx: Queryable, owner: string, staleAfterMs: number): Promise<void> {
  let refreshed: unknown[];
  try {
    refreshed = await tx.all(`UPDATE ${table} SET expires_at = ? WHERE id = 1 AND owner = ? RETURNING owner`, [Date.now() + staleAfterMs, owner]);
  } catch (error) {
    if (!/no such table/i.test(String((error as Error).message))) throw error;
    refreshed = [];
  }
  if (refreshed.length > 0) return;
  const holder = await readHolder(tx);
  throw new MigrateError(
    'LOCKED',
    holder
      ? `this runner lost the migration lock: it was taken over by ${describeHolder(holder)}; nothing further will be run`
      : `this runner lost the migration lock: it was removed (by 'unlock'?) and nobody holds it now; nothing further will be run`,
  );
}

/** The lock's row, or null when nobody holds it (no row, or no table). */
async function readHolder(db: Queryable): Promise<LockHolder | null> {
  const exists = await db.all(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, [LOCK_TABLE]);
  if (exists.length === 0) return null;
  const [holder] = await db.all<LockHolder>(`SELECT owner, pid, host, command, acquired_at, expires_at FROM ${table} WHERE id = 1`);
  return holder ?? null;
}

/** Deletes our row, and the table with it when nobody else holds it, so a finished run leaves no trace. */
async function releaseLock(db: Queryable, owner: string): Promise<void> {
  await db.run(`DELETE FROM ${table} WHERE id = 1 AND owner = ?`, [owner]);
  const [{ n } = { n: 0 }] = await db.all<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
  if (n === 0) await db.exec(`DROP TABLE ${table}`);
}

/** Removes the lock whoever holds it: for a lock left by a process on another host that is known to be gone. */
export async function forceUnlock(db: Queryable): Promise<LockHolder | null> {
  const holder = await readHolder(db);
  if (holder) await db.run(`DELETE FROM ${table} WHERE id = 1`);
  return holder;
}

/** Removes the lock from a copy of the database (a backup must not carry the lock of the run that made it). */
export async function clearLockRow(db: Queryable): Promise<void> {
  await db.exec(`DROP TABLE IF EXISTS ${table}`);
}
