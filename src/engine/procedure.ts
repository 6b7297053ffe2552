import type { Driver, Queryable } from '../db/driver.js';
import { MigrateError } from './errors.js';
import { describeViolations, type ForeignKeyGuard, type KeyedViolation } from './foreign-keys.js';
import type { SqlFile } from './journal.js';
import { assertRunnable, type ControlStatement, type PreparedFile } from './transaction-control.js';

export interface FileOutcome {
  /** Rows that violated a foreign key before the file ran and still do: reported, not failed. */
  preexisting: KeyedViolation[];
  /** The file's own transaction control that the runner's transaction made unnecessary. */
  absorbed: ControlStatement[];
}

/**
 * The one way a migration file runs, for `up`, `down` and every check that replays files (verify, generate's trial,
 * write-down's check, status, stamp, check, lint): enforcement of foreign keys switched off outside the transaction
 * (SQLite ignores the PRAGMA inside one, and a rebuild of a parent would delete its ON DELETE CASCADE children) and
 * set again for each file, never once per run (a file cannot change it from inside); then `BEGIN IMMEDIATE`, the
 * file's statements, the foreign-key check (a violation the file made rolls it back), the bookkeeping row, COMMIT;
 * then enforcement back to what it was.
 */
export async function applyFile(db: Driver, file: SqlFile, guard: ForeignKeyGuard, record?: (tx: Queryable) => Promise<void>): Promise<FileOutcome> {
  const prepared = assertRunnable(file);
  const [{ foreign_keys: enforced } = { foreign_keys: 0 }] = await db.all<{ foreign_keys: number }>('PRAGMA foreign_keys');
  await db.exec('PRAGMA foreign_keys = OFF');
  try {
    const outcome = await db.transaction(async (tx) => {
      const before = await guard.before(tx);
      await runChunks(tx, prepared);
      const outcome = await guard.after(tx, prepared, before);
      if (outcome.fresh.length > 0) {
        throw new MigrateError(
          'FOREIGN_KEY_VIOLATION',
          `${file.path}: foreign key check failed: ${describeViolations(outcome.fresh)}; rolled back, the database is unchanged by this migration`,
        );
      }
      await record?.(tx);
      return outcome;
    });
    guard.committed(outcome);
    return { preexisting: outcome.preexisting, absorbed: prepared.absorbed };
  } finally {
    await db.exec(`PRAGMA foreign_keys = ${enforced ? 'ON' : 'OFF'}`);
  }
}

/** Runs each chunk; a failure names the file, the chunk and SQLite's message. */
async function runChunks(db: Queryable, file: PreparedFile): Promise<void> {
  for (const chunk of file.chunks) {
    try {
      await db.exec(chunk.sql);
    } catch (error) {
      throw new MigrateError(
        'MIGRATION_FAILED',
        `${file.path}: statement ${chunk.number} of ${file.chunkCount} failed: ${(error as Error).message} [${preview(chunk.sql)}]; rolled back, the database is unchanged by this migration`,
        { cause: error },
      );
    }
  }
}

function preview(statement: string): string {
  const oneLine = statement.replace(/\s+/g, ' ').trim();
  return oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine;
}
