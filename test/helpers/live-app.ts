import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './project.js';

const BETTER_SQLITE3 = JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'));

export interface LiveApp {
  /** Resolves once SQLite acknowledged the app's first insert; rejects when the app ended before that. */
  ready: Promise<void>;
  /** Keys of the rows SQLite acknowledged so far, in order (each printed only after its insert returned). */
  acknowledged(): string[];
  /** Inserts that failed, as `<key> <error code>`. */
  refused(): string[];
  /** SIGTERM: the app stops its timer and closes the database; resolves when its output is all read. */
  stop(): Promise<void>;
  /** SIGKILL, at any point of an insert; what it acknowledged before stays acknowledged. */
  kill(): void;
  /** Resolves when the process ended and its output is all read. */
  closed: Promise<void>;
}

/**
 * A live "app": another process that inserts `INSERT INTO <table> (<column>, ...) VALUES (<key>, ...)` every
 * `intervalMs` with better-sqlite3 in WAL mode and a busy timeout, and prints each key on stdout only after SQLite
 * acknowledged the insert (failures go to stderr). What it printed is what a user of the app was told was saved.
 */
export function startLiveApp(
  databasePath: string,
  options: { table?: string; keyColumn?: string; otherValues?: Record<string, string>; prefix?: string; intervalMs?: number; busyTimeoutMs?: number } = {},
): LiveApp {
  const { table = 'users', keyColumn = 'email', otherValues = { password_hash: "'h'" }, prefix = 'live-', intervalMs = 2, busyTimeoutMs = 5000 } = options;
  const columns = [keyColumn, ...Object.keys(otherValues)].join(', ');
  const values = ['?', ...Object.values(otherValues)].join(', ');
  const script = `
    const db = new (require(${BETTER_SQLITE3}))(${JSON.stringify(databasePath)}, { timeout: ${busyTimeoutMs} });
    db.pragma('journal_mode = WAL');
    let n = 0;
    const timer = setInterval(() => {
      n += 1;
      const key = ${JSON.stringify(prefix)} + n;
      try {
        db.prepare(${JSON.stringify(`INSERT INTO ${table} (${columns}) VALUES (${values})`)}).run(key);
        process.stdout.write(key + '\\n');
      } catch (error) {
        process.stderr.write(key + ' ' + (error.code || error.message) + '\\n');
      }
    }, ${intervalMs});
    process.on('SIGTERM', () => { clearInterval(timer); db.close(); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let markReady: () => void = () => {};
  let failReady: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  // A caller that never awaits `ready` must not get an unhandled rejection.
  ready.catch(() => {});
  child.stdout.on('data', (chunk) => {
    out += chunk;
    if (out.includes('\n')) markReady();
  });
  child.stderr.on('data', (chunk) => (err += chunk));
  const closed = new Promise<void>((resolve) => {
    child.on('close', () => {
      failReady(new Error(`the live app ended before its first write: ${err.trim() || 'no output'}`));
      resolve();
    });
  });
  const complete = (text: string) => text.split('\n').slice(0, -1).filter(Boolean);
  return {
    ready,
    closed,
    acknowledged: () => complete(out),
    refused: () => complete(err),
    stop: async () => {
      child.kill('SIGTERM');
      await closed;
    },
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}
