import { MigrateError } from './errors.js';
import type { Migration } from './journal.js';
import { BASE, resolveRevision, revisionLabel } from './revisions.js';

/** A row of `__drizzle_migrations`: drizzle identifies a migration by `created_at` (journal `when`) and hash. */
export interface AppliedRow {
  hash: string;
  createdAt: number;
}

export interface MigrationState {
  migration: Migration;
  /** The bookkeeping row that records it, if applied. */
  applied: AppliedRow | null;
  /** Applied, but the up file changed since (hash differs). */
  modified: boolean;
  /**
   * Applied, but its journal `when` changed since: the row was found by the file's hash, and holds this
   * `created_at` (the `when` it was applied with). Null when the row's `created_at` is the journal's `when`.
   */
  editedWhen: number | null;
}

/** Applied rows compared with the migrations on disk. */
export interface HistoryState {
  migrations: Migration[];
  entries: MigrationState[];
  /** Rows whose migration is not in the folder (deleted, renamed, or from another branch). */
  unknownApplied: AppliedRow[];
  /** Position of the last applied migration in journal order, or BASE. */
  current: number;
  /** Pending migrations that sort before an applied one (drizzle's own migrator skips these forever). */
  outOfOrder: Migration[];
}

/** Matches bookkeeping rows to migrations. Pure. */
export function computeState(migrations: Migration[], rows: readonly AppliedRow[]): HistoryState {
  const unmatched = [...rows];
  const take = (predicate: (row: AppliedRow) => boolean): AppliedRow | null => {
    const at = unmatched.findIndex(predicate);
    return at === -1 ? null : unmatched.splice(at, 1)[0]!;
  };
  const exact = migrations.map((m) => take((row) => row.createdAt === m.when && row.hash === m.hash));
  const byWhen = migrations.map((m, i) => exact[i] ?? take((row) => row.createdAt === m.when));
  // A `when` edited after the migration was applied: its row is still there, under the old `when`, with the
  // file's hash. Matched only where the hash is unambiguous (one such row, one such file left unmatched).
  const unambiguous = (hash: string) =>
    unmatched.filter((row) => row.hash === hash).length === 1 && migrations.filter((m, i) => !byWhen[i] && m.hash === hash).length === 1;
  const entries = migrations.map((migration, i) => {
    const byHash = byWhen[i] ? null : unambiguous(migration.hash) ? take((row) => row.hash === migration.hash) : null;
    const applied = byWhen[i] ?? byHash;
    return { migration, applied, modified: applied !== null && applied.hash !== migration.hash, editedWhen: byHash ? byHash.createdAt : null };
  });
  let current = BASE;
  entries.forEach((entry, position) => {
    if (entry.applied) current = position;
  });
  const outOfOrder = entries.filter((e, position) => !e.applied && position < current).map((e) => e.migration);
  return { migrations, entries, unknownApplied: unmatched, current, outOfOrder };
}

export interface SafetyOptions {
  /** Run even though an applied migration's file changed since it was applied. */
  allowModified?: boolean;
  /** Apply pending migrations that sort before the current one. */
  allowOutOfOrder?: boolean;
}

export type Direction = 'up' | 'down';

export interface Plan {
  direction: Direction;
  /** Migrations to run, in the order to run them. */
  steps: Migration[];
  from: number;
  to: number;
}

/** Target forms: `up [head|+N|rev]`, `down [-N|base|rev]`. */
export type UpTarget = { kind: 'relative'; count: number } | { kind: 'revision'; name: string };
export type DownTarget = UpTarget;

/** Parses the target of `up`; a malformed `+N` is a usage error. */
export function parseUpTarget(text: string | undefined): UpTarget {
  const value = (text ?? 'head').trim();
  if (value.startsWith('+')) return { kind: 'relative', count: parseCount(value, 'up') };
  if (value.startsWith('-')) {
    throw new MigrateError('BAD_TARGET', `'up ${value}' goes backwards: use 'down ${value}'`);
  }
  return { kind: 'revision', name: value };
}

/** Parses the target of `down`; a malformed `-N` is a usage error. */
export function parseDownTarget(text: string | undefined): DownTarget {
  const value = (text ?? '-1').trim();
  if (value.startsWith('-')) return { kind: 'relative', count: parseCount(value, 'down') };
  if (value.startsWith('+')) {
    throw new MigrateError('BAD_TARGET', `'down ${value}' goes forwards: use 'up ${value}'`);
  }
  return { kind: 'revision', name: value };
}

function parseCount(value: string, command: Direction): number {
  const digits = value.slice(1);
  const count = Number(digits);
  if (!/^\d+$/.test(digits) || count < 1) {
    const sign = command === 'up' ? '+' : '-';
    throw new MigrateError('BAD_TARGET', `bad target '${value}' for ${command}: expected ${sign}N with N a whole number of at least 1`);
  }
  return count;
}

/** Refuses to plan over a history that does not match the folder, naming the files. */
export function assertHistoryConsistent(state: HistoryState, options: SafetyOptions, direction: Direction): void {
  if (state.unknownApplied.length > 0) {
    const whens = state.unknownApplied.map((row) => `created_at ${row.createdAt} (hash ${row.hash.slice(0, 12)})`);
    throw new MigrateError(
      'HISTORY_PROBLEM',
      `the database has applied migrations that are not in the migrations folder: ${whens.join(', ')}; restore their files (e.g. from the branch that added them) before running ${direction}`,
    );
  }
  const edited = state.entries.filter((e) => e.editedWhen !== null);
  if (edited.length > 0) throw new MigrateError('HISTORY_PROBLEM', `${edited.map(describeEditedWhen).join('; ')}; then run ${direction} again`);
  const modified = state.entries.filter((e) => e.modified).map((e) => e.migration.up.path);
  if (modified.length > 0 && !options.allowModified) {
    throw new MigrateError(
      'HISTORY_PROBLEM',
      `applied migrations were edited since they were applied: ${modified.join(', ')}; restore them, or pass --allow-modified if the edit is intended`,
    );
  }
  if (direction === 'up' && state.outOfOrder.length > 0 && !options.allowOutOfOrder) {
    throw new MigrateError(
      'HISTORY_PROBLEM',
      `pending migrations sort before the current revision ${revisionLabel(state.current, state.migrations)}: ${state.outOfOrder.map((m) => m.up.path).join(', ')}; regenerate them after the current head, or pass --allow-out-of-order to apply them now`,
    );
  }
}

/**
 * One line for a migration whose journal `when` changed after it was applied. The fix is to put the old value
 * back: drizzle's migrators (drizzle-kit migrate, the app's migrate()) find applied migrations by comparing
 * `created_at` with `when`, and would run it a second time, or skip the migrations after it.
 */
export function describeEditedWhen(entry: MigrationState): string {
  return (
    `journal entry ${entry.migration.tag} has "when" ${entry.migration.when}, but it was applied with "when" ${entry.editedWhen} ` +
    `(its bookkeeping row, found by the file's hash): put "when": ${entry.editedWhen} back in the journal (drizzle's migrators compare the two and would run it again)`
  );
}

/**
 * Journal entries whose `when` is not later than that of an entry before them: the journal was reordered, or a
 * `when` edited. drizzle's migrators skip a migration whose `when` is not later than the newest applied one, so
 * such an entry is applied by this runner and never by drizzle-kit migrate. Pure.
 */
export function journalOrderProblems(migrations: readonly Migration[]): string[] {
  const problems: string[] = [];
  let latest: Migration | null = null;
  for (const migration of migrations) {
    if (latest && migration.when <= latest.when) {
      problems.push(
        `journal entry ${migration.tag} (entries[${migration.position}]) has "when" ${migration.when}, not later than ${latest.tag}'s ${latest.when} before it: ` +
          `the entries are not in the order they were generated (reordered, or a "when" edited); drizzle's migrators skip such an entry, so put the entries back in the order of their "when"`,
      );
    }
    if (!latest || migration.when > latest.when) latest = migration;
  }
  return problems;
}

/** What `up <target>` runs. Pure. */
export function planUp(state: HistoryState, target: UpTarget, options: SafetyOptions = {}): Plan {
  assertHistoryConsistent(state, options, 'up');
  const pending = state.entries.filter((e) => !e.applied).map((e) => e.migration);
  let steps: Migration[];
  if (target.kind === 'relative') {
    if (pending.length < target.count) {
      throw new MigrateError(
        'INVALID_TARGET',
        `up +${target.count} needs ${target.count} pending migration${target.count === 1 ? "" : "s"}, but ${pending.length === 0 ? 'none is' : `only ${pending.length} ${pending.length === 1 ? 'is' : 'are'}`} pending`,
      );
    }
    steps = pending.slice(0, target.count);
  } else {
    const to = resolveRevision(target.name, state.migrations);
    if (to !== BASE && to < state.current && state.entries[to]!.applied) {
      throw new MigrateError(
        'INVALID_TARGET',
        `${revisionLabel(to, state.migrations)} is behind the current revision ${revisionLabel(state.current, state.migrations)}: use 'down ${revisionLabel(to, state.migrations)}' to go back`,
      );
    }
    if (to === BASE && state.current !== BASE) {
      throw new MigrateError('INVALID_TARGET', `'up base' would go backwards: use 'down base'`);
    }
    steps = pending.filter((m) => m.position <= to);
  }
  const last = steps.at(-1);
  return { direction: 'up', steps, from: state.current, to: last ? Math.max(last.position, state.current) : state.current };
}

/** What `down <target>` runs: applied migrations after the target, newest first. Pure. */
export function planDown(state: HistoryState, target: DownTarget, options: SafetyOptions = {}): Plan {
  assertHistoryConsistent(state, options, 'down');
  const applied = state.entries.filter((e) => e.applied).map((e) => e.migration);
  let steps: Migration[];
  if (target.kind === 'relative') {
    if (applied.length < target.count) {
      throw new MigrateError(
        'INVALID_TARGET',
        `down -${target.count} needs ${target.count} applied migration${target.count === 1 ? "" : "s"}, but ${applied.length === 0 ? 'none is' : `only ${applied.length} ${applied.length === 1 ? 'is' : 'are'}`} applied`,
      );
    }
    steps = applied.slice(applied.length - target.count).reverse();
  } else {
    const to = resolveRevision(target.name, state.migrations);
    if (to !== BASE && !state.entries[to]!.applied) {
      throw new MigrateError(
        'INVALID_TARGET',
        `${revisionLabel(to, state.migrations)} is not applied (current is ${revisionLabel(state.current, state.migrations)}): 'down' can only go back to an applied revision`,
      );
    }
    steps = applied.filter((m) => m.position > to).reverse();
  }
  for (const step of steps) assertDownRunnable(step);
  const remaining = applied.filter((m) => !steps.includes(m)).at(-1);
  return { direction: 'down', steps, from: state.current, to: remaining ? remaining.position : BASE };
}

/** A down step needs a down file with SQL in it (an up file with no SQL needs nothing to undo). */
export function assertDownRunnable(migration: Migration): void {
  if (migration.down === null) {
    throw new MigrateError(
      'MISSING_DOWN',
      `cannot revert ${migration.tag}: its down file ${migration.downPath} is missing (write it with 'write-down ${migration.tag}', or by hand)`,
    );
  }
  if (migration.down.statements.length === 0 && migration.up.statements.length > 0) {
    throw new MigrateError(
      'EMPTY_DOWN',
      `cannot revert ${migration.tag}: its down file ${migration.downPath} is empty; write the SQL that reverses ${migration.up.path}`,
    );
  }
}
