import { MigrateError } from './errors.js';
import type { Migration, SqlFile } from './journal.js';
import type { AppliedRow, Direction, HistoryState, Plan } from './plan.js';
import { BASE, revisionLabel } from './revisions.js';
import { assertRunnable, type PreparedFile } from './transaction-control.js';

/** What the bookkeeping table gets in the same transaction as a step's file. */
export type Bookkeeping = { kind: 'insert'; row: AppliedRow } | { kind: 'delete'; row: AppliedRow } | { kind: 'none' };

/** One migration of a plan, as data: what the executor runs and what `--sql` prints, the same for both. */
export interface Step {
  direction: Direction;
  migration: Migration;
  /** The file that runs (the up file, or the down file), as the runner will run it. */
  file: SqlFile;
  prepared: PreparedFile;
  /** Alembic's "Running upgrade X -> Y": up names the migration it applies, down where it leaves the database. */
  from: string;
  to: string;
  bookkeeping: Bookkeeping;
  /** The down file's `-- data-loss:` notes (none for an up). */
  dataLoss: string[];
}

/**
 * The steps of a plan, each checked runnable before any runs: a missing down file or transaction control that would
 * break a migration's atomicity refuses the whole plan, naming the file and the statement. Pure.
 */
export function planSteps(plan: Plan, state: HistoryState): Step[] {
  const applied = new Set(state.entries.filter((e) => e.applied).map((e) => e.migration.position));
  const label = (position: number) => revisionLabel(position, state.migrations);
  const current = () => (applied.size === 0 ? BASE : Math.max(...applied));
  return plan.steps.map((migration) => {
    const before = label(current());
    if (plan.direction === 'up') {
      applied.add(migration.position);
      return step(plan.direction, migration, migration.up, before, migration.tag, { kind: 'insert', row: { hash: migration.hash, createdAt: migration.when } });
    }
    applied.delete(migration.position);
    if (!migration.down) throw new MigrateError('MISSING_DOWN', `cannot revert ${migration.tag}: ${migration.downPath} is missing`);
    const row = state.entries[migration.position]?.applied;
    return step(plan.direction, migration, migration.down, migration.tag, label(current()), row ? { kind: 'delete', row } : { kind: 'none' });
  });
}

function step(direction: Direction, migration: Migration, file: SqlFile, from: string, to: string, bookkeeping: Bookkeeping): Step {
  const dataLoss = direction === 'down' ? (migration.down?.dataLoss ?? []) : [];
  return { direction, migration, file, prepared: assertRunnable(file), from, to, bookkeeping, dataLoss };
}
