import type { Driver, Queryable } from '../db/driver.js';
import { recordApplied, recordReverted } from './bookkeeping.js';
import { MigrateError } from './errors.js';
import { explainConstraintFailure } from './explain.js';
import { ForeignKeyGuard } from './foreign-keys.js';
import type { Migration, SqlFile } from './journal.js';
import type { Direction, HistoryState, Plan } from './plan.js';
import { BASE, revisionLabel } from './revisions.js';

export type ExecutionEvent =
  | { type: 'start'; direction: Direction; tag: string; from: string; to: string }
  | { type: 'finish'; direction: Direction; tag: string; ms: number }
  | { type: 'failed'; direction: Direction; tag: string; ms: number }
  | { type: 'warning'; tag: string; message: string };

export interface StepResult {
  direction: Direction;
  tag: string;
  from: string;
  to: string;
  ms: number;
}

/**
 * Runs a plan: each migration in its own transaction together with its bookkeeping row.
 *
 * Foreign keys: drizzle-kit rebuilds tables with `PRAGMA foreign_keys=OFF` inside the migration, which
 * SQLite ignores inside a transaction, so dropping a parent would cascade into its children. Enforcement
 * is therefore switched off here, outside the transaction, and every key is checked before each commit
 * (ForeignKeyGuard; a violation rolls the migration back), then restored to what it was.
 */
export async function executePlan(
  db: Driver,
  plan: Plan,
  state: HistoryState,
  onEvent: (event: ExecutionEvent) => void = () => {},
): Promise<StepResult[]> {
  const applied = new Set(state.entries.filter((e) => e.applied).map((e) => e.migration.position));
  const label = (position: number) => revisionLabel(position, state.migrations);
  const currentPosition = () => (applied.size === 0 ? BASE : Math.max(...applied));
  const results: StepResult[] = [];

  const [{ foreign_keys: foreignKeysWere } = { foreign_keys: 0 }] = await db.all<{ foreign_keys: number }>('PRAGMA foreign_keys');
  await db.exec('PRAGMA foreign_keys = OFF');
  const foreignKeys = await ForeignKeyGuard.of(db);
  try {
    for (const migration of plan.steps) {
      // Alembic's "Running upgrade X -> Y": up names the migration it applies (even one out of order),
      // down the migration it reverts and where that leaves the database.
      const before = label(currentPosition());
      if (plan.direction === 'up') applied.add(migration.position);
      else applied.delete(migration.position);
      const from = plan.direction === 'up' ? before : migration.tag;
      const to = plan.direction === 'up' ? migration.tag : label(currentPosition());

      if (plan.direction === 'down') {
        for (const note of migration.down?.dataLoss ?? []) onEvent({ type: 'warning', tag: migration.tag, message: note });
      }
      onEvent({ type: 'start', direction: plan.direction, tag: migration.tag, from, to });
      const started = performance.now();
      try {
        await runExplained(db, () =>
          db.transaction(async (tx) => {
            if (plan.direction === 'up') {
              await runFile(tx, migration.up);
              await assertForeignKeys(tx, migration.up, foreignKeys);
              await recordApplied(tx, { hash: migration.hash, createdAt: migration.when });
            } else {
              await runFile(tx, downFileOf(migration));
              await assertForeignKeys(tx, downFileOf(migration), foreignKeys);
              const row = state.entries[migration.position]?.applied;
              if (row) await recordReverted(tx, row);
            }
          }),
        );
      } catch (error) {
        onEvent({ type: 'failed', direction: plan.direction, tag: migration.tag, ms: performance.now() - started });
        throw error;
      }
      const ms = performance.now() - started;
      onEvent({ type: 'finish', direction: plan.direction, tag: migration.tag, ms });
      results.push({ direction: plan.direction, tag: migration.tag, from, to, ms });
    }
  } finally {
    await db.exec(`PRAGMA foreign_keys = ${foreignKeysWere ? 'ON' : 'OFF'}`);
  }
  return results;
}

/** A failed migration's error, with the rows that broke a constraint named (looked up after the rollback). */
async function runExplained(db: Driver, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!(error instanceof MigrateError) || error.code !== 'MIGRATION_FAILED') throw error;
    const explanation = await explainConstraintFailure(db, (error.cause as Error | undefined)?.message ?? '').catch(() => null);
    if (!explanation) throw error;
    throw new MigrateError('MIGRATION_FAILED', `${error.message}; ${explanation}`, { cause: error.cause });
  }
}

function downFileOf(migration: Migration): SqlFile {
  if (!migration.down) throw new MigrateError('MISSING_DOWN', `cannot revert ${migration.tag}: ${migration.downPath} is missing`);
  return migration.down;
}

/** Runs each chunk of a file; a failure names the file, the statement and SQLite's message. */
export async function runFile(db: Queryable, file: SqlFile): Promise<void> {
  for (const [i, statement] of file.statements.entries()) {
    try {
      await db.exec(statement);
    } catch (error) {
      throw new MigrateError(
        'MIGRATION_FAILED',
        `${file.path}: statement ${i + 1} of ${file.statements.length} failed: ${(error as Error).message} [${preview(statement)}]; rolled back, the database is unchanged by this migration`,
        { cause: error },
      );
    }
  }
}

async function assertForeignKeys(db: Queryable, file: SqlFile, guard: ForeignKeyGuard): Promise<void> {
  const violations = await guard.violationsAfter(db, file);
  if (violations.length === 0) return;
  const first = violations[0]!;
  throw new MigrateError(
    'FOREIGN_KEY_VIOLATION',
    `${file.path}: foreign key check failed: ${violations.length} row(s) violate foreign keys, e.g. ${first.table} rowid ${first.rowid ?? '?'} references a missing row of ${first.parent}; rolled back, the database is unchanged by this migration`,
  );
}

function preview(statement: string): string {
  const oneLine = statement.replace(/\s+/g, ' ').trim();
  return oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine;
}
