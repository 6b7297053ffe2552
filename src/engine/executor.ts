import type { Driver, Queryable } from '../db/driver.js';
import { recordApplied, recordReverted } from './bookkeeping.js';
import { assertNever, MigrateError } from './errors.js';
import { explainConstraintFailure } from './explain.js';
import { describeViolations, ForeignKeyGuard } from './foreign-keys.js';
import type { Direction } from './plan.js';
import { applyFile } from './procedure.js';
import type { Bookkeeping, Step } from './steps.js';

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

export interface ExecutionHooks {
  /**
   * Runs in each step's transaction after its statements and bookkeeping, just before it commits; a throw rolls the
   * step back and stops the run (the runner refreshes its lock here, so the refresh commits with the step).
   */
  beforeCommit?: (tx: Queryable) => Promise<void>;
}

/**
 * Runs the steps of a plan, each migration through the one procedure (applyFile) together with its bookkeeping
 * row: foreign keys off outside its transaction, its statements, the foreign-key check, the row, commit.
 */
export async function executeSteps(db: Driver, steps: readonly Step[], onEvent: (event: ExecutionEvent) => void = () => {}, hooks: ExecutionHooks = {}): Promise<StepResult[]> {
  const results: StepResult[] = [];
  const foreignKeys = await ForeignKeyGuard.of(db);
  for (const step of steps) {
    const { direction, migration, from, to } = step;
    for (const note of step.dataLoss) onEvent({ type: 'warning', tag: migration.tag, message: note });
    onEvent({ type: 'start', direction, tag: migration.tag, from, to });
    const started = performance.now();
    try {
      const outcome = await runExplained(db, () => applyFile(db, step.file, foreignKeys, async (tx) => {
        await keepBooks(tx, step.bookkeeping);
        await hooks.beforeCommit?.(tx);
      }));
      if (outcome.preexisting.length > 0) {
        onEvent({
          type: 'warning',
          tag: migration.tag,
          message: `${describeViolations(outcome.preexisting)}, as they did before ${step.file.path} ran: left as they are (this migration made none of them)`,
        });
      }
    } catch (error) {
      onEvent({ type: 'failed', direction, tag: migration.tag, ms: performance.now() - started });
      throw error;
    }
    const ms = performance.now() - started;
    onEvent({ type: 'finish', direction, tag: migration.tag, ms });
    results.push({ direction, tag: migration.tag, from, to, ms });
  }
  return results;
}

async function keepBooks(tx: Queryable, bookkeeping: Bookkeeping): Promise<void> {
  switch (bookkeeping.kind) {
    case 'insert':
      return recordApplied(tx, bookkeeping.row);
    case 'delete':
      return recordReverted(tx, bookkeeping.row);
    case 'none':
      return;
    default:
      assertNever(bookkeeping);
  }
}

/** A failed migration's error, with the rows that broke a constraint named (looked up after the rollback). */
async function runExplained<T>(db: Driver, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof MigrateError) || error.code !== 'MIGRATION_FAILED') throw error;
    const explanation = await explainConstraintFailure(db, (error.cause as Error | undefined)?.message ?? '').catch(() => null);
    if (!explanation) throw error;
    throw new MigrateError('MIGRATION_FAILED', `${error.message}; ${explanation}`, { cause: error.cause });
  }
}
