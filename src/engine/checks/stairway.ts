import { existsSync } from 'node:fs';
import type { Driver, Queryable } from '../../db/driver.js';
import { compareSchemas } from '../diff/compare.js';
import { introspect, type NormalizedSchema } from '../diff/introspect.js';
import { withScratchDatabase } from '../diff/scratch.js';
import { readSnapshot } from '../diff/snapshot.js';
import { assertNever } from '../errors.js';
import { applyFile } from '../procedure.js';
import { declaresForeignKeys, ForeignKeyGuard } from '../foreign-keys.js';
import type { Migration, SqlFile } from '../journal.js';
import { parseMigrationStatements, quoteIdentifier as q, stripComments } from '../lint/statements.js';
import { Counter, seedRows, snapshotForeignKeys, type SeedForeignKey } from './seed.js';

/** Where a migration failed the stairway: its up, its down, the schema or rows after the down, or the second up. */
export type StairwayStage = 'up' | 'down' | 'schema' | 'data' | 'up-again';

export interface StairwayFailure {
  tag: string;
  file: string;
  stage: StairwayStage;
  differences: string[];
}

export interface StairwayResult {
  /** Tags that passed, in order. */
  passed: string[];
  failure: StairwayFailure | null;
  /** Rows that could not be generated, and other things that weaken the test without failing it. */
  warnings: string[];
}

/** Rows generated into every table before each migration. */
export const ROWS_PER_TABLE = 3;

/**
 * The stairway test (pytest-alembic's test_up_down_consistency, with data): on an empty in-memory database,
 * for each migration in order: generate rows into every table, record schema and rows, up, down, and check that
 * the schema is what it was and every row is still there in the columns both sides have (except the tables
 * and columns the down file's `-- data-loss:` notes name), then up again (the schema must be what the first up
 * gave). Every file runs as the executor runs it: foreign keys off outside the transaction, `PRAGMA
 * foreign_key_check` before commit. Stops at the first failure.
 */
export async function runStairway(migrations: readonly Migration[], rowsPerTable = ROWS_PER_TABLE): Promise<StairwayResult> {
  return withScratchDatabase(async (db) => {
    await db.exec('PRAGMA foreign_keys = ON');
    const counter = new Counter();
    const passed: string[] = [];
    const warnings: string[] = [];
    let schema: NormalizedSchema | undefined;
    const filled = new Set<string>();
    const foreignKeys = await ForeignKeyGuard.of(db);
    for (const migration of migrations) {
      // A migration that adds no foreign key has no REFERENCES in its SQL: its snapshot (the whole schema, so the
      // history's snapshots together grow with its square) need not be read.
      const addsKeys = declaresForeignKeys(migration.up.text) && existsSync(migration.snapshotPath);
      const plannedKeys = addsKeys ? snapshotForeignKeys(readSnapshot(migration.snapshotPath)) : {};
      const step = await stairwayStep(db, migration, { rowsPerTable, counter, warnings, plannedKeys, before: schema, filled, foreignKeys });
      if (step.failure) return { passed, warnings, failure: step.failure };
      schema = step.schema;
      passed.push(migration.tag);
    }
    return { passed, warnings, failure: null };
  });
}

export interface StepOptions {
  rowsPerTable: number;
  counter: Counter;
  /** Collects the rows that could not be generated. */
  warnings: string[];
  /** What the schema must be after the up (e.g. what the models give); unchecked when absent. */
  expectedAfterUp?: { schema: NormalizedSchema; label: string };
  /** Foreign keys the migration adds (from its snapshot), which the generated rows must already meet. */
  plannedKeys?: Record<string, SeedForeignKey[]>;
  /** The rows must come through the up unchanged in the columns it keeps (true for a generated migration; a hand-written one may change data). */
  rowsKeptByUp?: boolean;
  /** The schema `db` has now, when the caller has it (the previous step's result): saves introspecting it again. */
  before?: NormalizedSchema;
  /** Tables known to hold `rowsPerTable` rows, kept across steps: seeding does not count them again (see seedRows). */
  filled?: Set<string>;
  /** The run's foreign-key check, kept across steps (a step makes its own when absent). */
  foreignKeys?: ForeignKeyGuard;
}

/** A step's outcome: its failure, or the schema it left (after the second up). */
export type StepOutcome = { failure: StairwayFailure } | { failure: null; schema: NormalizedSchema };

/**
 * One step of the stairway on `db` (which holds the migrations before this one): generated rows into every
 * table, up (and, when given, its schema against `expectedAfterUp`), down (schema and rows as before), up again.
 * `db` is left after the second up.
 */
export async function stairwayStep(db: Driver, migration: Migration, options: StepOptions): Promise<StepOutcome> {
  const fail = (stage: StairwayStage, differences: string[], file: SqlFile | null = null): StepOutcome => ({
    failure: { tag: migration.tag, file: (file ?? migration.up).path, stage, differences },
  });
  const before = options.before ?? (await introspect(db));
  const foreignKeys = options.foreignKeys ?? (await ForeignKeyGuard.of(db));
  for (const warning of await seedRows(db, before, options.rowsPerTable, options.counter, options.plannedKeys, options.filled)) {
    options.warnings.push(`before ${migration.tag}: ${warning}`);
  }
  foreignKeys.forget(); // the generated rows were written outside its files
  // Only the tables the files name can change (foreign keys are off, so nothing cascades): the others are not read.
  const named = tablesNamedBy([migration.up, ...(migration.down ? [migration.down] : [])]);
  if (named) for (const table of named) options.filled?.delete(table);
  else options.filled?.clear();
  const data = await readRows(db, before, named);

  const up = await attempt(() => runInTransaction(db, migration.up, foreignKeys));
  if (up) return fail('up', [up]);
  const afterUp = await introspect(db);
  if (options.expectedAfterUp) {
    const differences = compareSchemas(options.expectedAfterUp.schema, afterUp, { expected: options.expectedAfterUp.label, actual: 'the schema after the up' });
    if (differences.length > 0) return fail('schema', differences);
  }
  if (options.rowsKeptByUp) {
    const changed = compareRows(data, await readRows(db, afterUp, named), { tables: new Set(), columns: new Set() }, { verb: 'did not come through the up', tail: '' });
    if (changed.length > 0) return fail('data', changed);
  }

  const down = migration.down;
  if (!down) return fail('down', [`${migration.downPath} is missing: write it with 'write-down ${migration.tag}', or by hand`]);
  if (down.statements.length === 0 && migration.up.statements.length > 0) {
    return fail('down', [`${migration.downPath} holds no SQL: write the SQL that reverses ${migration.up.path}`], down);
  }
  const reverted = await attempt(() => runInTransaction(db, down, foreignKeys));
  if (reverted) return fail('down', [reverted], down);

  const schemaDifferences = compareSchemas(before, await introspect(db), { expected: 'the schema before the up', actual: 'the schema after the down' });
  if (schemaDifferences.length > 0) return fail('schema', schemaDifferences, down);

  const lost = parseDataLoss(down.dataLoss);
  const dataDifferences = compareRows(data, await readRows(db, before, named), lost, { verb: 'did not come back', tail: `; ${migration.downPath} has no data-loss note for them` });
  if (dataDifferences.length > 0) return fail('data', dataDifferences, down);

  const again = await attempt(() => runInTransaction(db, migration.up, foreignKeys));
  if (again) return fail('up-again', [again]);
  const afterSecondUp = await introspect(db);
  const secondUp = compareSchemas(afterUp, afterSecondUp, { expected: 'the schema after the first up', actual: 'the schema after the second up' });
  if (secondUp.length > 0) return fail('up-again', secondUp);
  return { failure: null, schema: afterSecondUp };
}

/** A file as `up`/`down` run it, without bookkeeping (the stairway's database is a scratch one). */
async function runInTransaction(db: Driver, file: SqlFile, foreignKeys: ForeignKeyGuard): Promise<void> {
  await applyFile(db, file, foreignKeys);
}

async function attempt(fn: () => Promise<void>): Promise<string | null> {
  try {
    await fn();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

type TableRows = Map<string, { columns: string[]; rows: Record<string, unknown>[] }>;

/**
 * The tables whose rows a migration's files can change: every table their statements name, or null (all of them)
 * when a statement is not one the parser knows (an UPDATE, a DELETE, anything hand-written).
 */
export function tablesNamedBy(files: readonly SqlFile[]): Set<string> | null {
  const named = new Set<string>();
  for (const statement of parseMigrationStatements(files.flatMap((f) => f.statements))) {
    switch (statement.kind) {
      case 'create-table':
      case 'drop-table':
      case 'drop-column':
      case 'add-column':
      case 'rename-column':
      case 'create-index':
      case 'create-trigger':
        named.add(statement.table);
        break;
      case 'rename-table':
        named.add(statement.table).add(statement.to);
        break;
      case 'insert-select':
        named.add(statement.table).add(statement.from);
        break;
      case 'drop-index':
      case 'create-view':
      case 'drop-view':
      case 'drop-trigger':
        break;
      case 'other':
        // Foreign-key pragmas and the transaction control the runner absorbs change no rows.
        if (!/^(?:pragma\s+foreign_keys\s*=\s*\w+|begin(?:\s+\w+)?(?:\s+transaction)?|(?:commit|end)(?:\s+transaction)?)\s*;?$/i.test(stripComments(statement.sql).trim())) return null;
        break;
      default:
        assertNever(statement);
    }
  }
  return named;
}

async function readRows(db: Queryable, schema: NormalizedSchema, only: Set<string> | null = null): Promise<TableRows> {
  const data: TableRows = new Map();
  for (const [table, shape] of Object.entries(schema.tables)) {
    if (only && !only.has(table)) continue;
    const columns = Object.entries(shape.columns).filter(([, c]) => c.hidden === 0).map(([name]) => name);
    const present = await db.all<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?", [table]);
    if (present[0]?.n !== 1 || columns.length === 0) continue;
    data.set(table, { columns, rows: await db.all<Record<string, unknown>>(`SELECT ${columns.map(q).join(', ')} FROM ${q(table)}`) });
  }
  return data;
}

/** Tables and `table.column`s that a down file's `-- data-loss:` notes name: their rows may go. */
export function parseDataLoss(notes: readonly string[]): { tables: Set<string>; columns: Set<string> } {
  const tables = new Set<string>();
  const columns = new Set<string>();
  for (const note of notes) {
    for (const m of note.matchAll(/\bcolumns?\s+[`"]?([\w$]+)[`"]?\.[`"]?([\w$]+)/gi)) columns.add(`${m[1]}.${m[2]}`);
    for (const m of note.matchAll(/\btables?\s+[`"]?([\w$]+)(?![\w$.])/gi)) tables.add(m[1]!);
  }
  return { tables, columns };
}

function compareRows(before: TableRows, after: TableRows, lost: { tables: Set<string>; columns: Set<string> }, phrase: { verb: string; tail: string }): string[] {
  const differences: string[] = [];
  for (const [table, { columns, rows }] of before) {
    if (rows.length === 0 || lost.tables.has(table)) continue;
    const now = after.get(table);
    if (!now) continue; // the schema comparison already reports a missing table
    const kept = columns.filter((c) => now.columns.includes(c) && !lost.columns.has(`${table}.${c}`));
    if (kept.length === 0) continue;
    // Compared as text: a change of type affinity (integer 5 becoming text '5') keeps the value.
    const key = (row: Record<string, unknown>) => JSON.stringify(kept.map((c) => (row[c] === null || row[c] === undefined ? null : Buffer.isBuffer(row[c]) ? `x'${(row[c] as Buffer).toString('hex')}'` : String(row[c]))));
    const remaining = new Map<string, number>();
    for (const row of now.rows) remaining.set(key(row), (remaining.get(key(row)) ?? 0) + 1);
    const missing = rows.filter((row) => {
      const k = key(row);
      const left = remaining.get(k) ?? 0;
      if (left === 0) return true;
      remaining.set(k, left - 1);
      return false;
    });
    if (missing.length === 0) continue;
    const show = (v: unknown) => (Buffer.isBuffer(v) ? `x'${v.toString('hex')}'` : v);
    const example = Object.fromEntries(kept.map((c) => [c, show(missing[0]![c])]));
    differences.push(
      `${missing.length} of ${rows.length} rows of ${table} ${phrase.verb} as they were in (${kept.join(', ')}), e.g. ${JSON.stringify(example)}${phrase.tail}`,
    );
  }
  return differences;
}
