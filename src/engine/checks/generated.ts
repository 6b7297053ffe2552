import { writeFileSync } from 'node:fs';
import type { Queryable } from '../../db/driver.js';
import { drizzleKitDiff, type SnapshotDiff } from '../diff/down.js';
import { repairMigration, restoreIndexDefinitions, restoreTableDefinitions, type SchemaFacts, type TableDefinition } from '../diff/repair.js';
import { replayUp, withScratchDatabase } from '../diff/scratch.js';
import { emptySnapshot, readSnapshot } from '../diff/snapshot.js';
import { MigrateError } from '../errors.js';
import { applyFile } from '../procedure.js';
import { loadMigrations, splitStatements, STATEMENT_BREAKPOINT, type Migration } from '../journal.js';
import { parseMigrationStatements } from '../lint/statements.js';
import { schemaOfStatements } from './models.js';
import { Counter, snapshotForeignKeys } from './seed.js';
import { ROWS_PER_TABLE, stairwayStep } from './stairway.js';

/** One repaired statement: the file and the reason written above it. */
export interface Repair {
  file: string;
  reason: string;
}

export interface GeneratedMigrationCheck {
  tag: string;
  repairs: Repair[];
  /** Tables the trial could not fill with rows (the trial is weaker there). */
  warnings: string[];
}

/**
 * What `generate` does with a migration drizzle-kit has just written (and its down file): repairs drizzle-kit's
 * known SQLite defects in both files, then tries it on a scratch database filled with generated rows — up (the
 * schema must be what the snapshot of the models gives, every row kept), down (the schema before, every row back),
 * up again. Throws `GENERATED_MIGRATION_FAILS` naming the migration and the failing statement; the files stay.
 */
export async function repairAndTryMigration(folder: string, tag: string, diff: SnapshotDiff = drizzleKitDiff): Promise<GeneratedMigrationCheck> {
  const loaded = loadMigrations(folder);
  const original = loaded.find((m) => m.tag === tag);
  if (!original) throw new MigrateError('JOURNAL', `${tag} is not in the journal`);
  const before = original.position === 0 ? emptySnapshot() : readSnapshot(loaded[original.position - 1]!.snapshotPath);
  const after = readSnapshot(original.snapshotPath);
  // drizzle-kit's SQL for the models, once: the tables the up file must leave, and the schema it must give.
  const afterSql = await diff(emptySnapshot(), after);
  const repairs = await repairFiles(loaded, original, tableDefinitions(afterSql), async () => tableDefinitions(await diff(emptySnapshot(), before)));
  const migrations = repairs.length > 0 ? loadMigrations(folder) : loaded;
  const migration = migrations[original.position]!;
  const expected = await schemaOfStatements(afterSql);
  const warnings: string[] = [];
  const { failure } = await withScratchDatabase(async (db) => {
    const foreignKeys = await replayUp(db, migrations.slice(0, migration.position));
    await db.exec('PRAGMA foreign_keys = ON');
    return stairwayStep(db, migration, {
      foreignKeys,
      rowsPerTable: ROWS_PER_TABLE,
      counter: new Counter(),
      warnings,
      expectedAfterUp: { schema: expected, label: 'the models (its snapshot)' },
      rowsKeptByUp: true,
      plannedKeys: snapshotForeignKeys(after),
    });
  });
  if (failure) {
    const stage = { up: 'its up', down: 'its down file', schema: 'the schema check', data: 'the row check', 'up-again': 'its second up' }[failure.stage];
    throw new MigrateError(
      'GENERATED_MIGRATION_FAILS',
      `${tag} fails on a scratch database holding ${ROWS_PER_TABLE} generated rows per table, at ${stage}: ${failure.differences[0]}${advice(migration)}; ` +
        `the files are left in place: fix ${failure.file} by hand, or fix the models, remove ${tag} (its .sql, .down.sql, meta snapshot and journal entry) and generate again`,
    );
  }
  return { tag, repairs, warnings };
}

/** What to do about a failure the repairs cannot fix, when it is a known one. */
function advice(migration: Migration): string {
  const additions = parseMigrationStatements(migration.up.statements).filter((s) => s.kind === 'add-column' && s.notNull && !s.hasDefault && !s.generated);
  const names = additions.map((s) => (s.kind === 'add-column' ? `${s.table}.${s.column}` : '')).join(', ');
  return additions.length === 0
    ? ''
    : ` (SQLite cannot add a NOT NULL column without a default to a table that holds rows: give ${names} a default in the models, e.g. .default(…), or make it nullable)`;
}

/**
 * Repairs the up file on the schema of the migrations before it, then the down file on the schema after the
 * repaired up, its indexes as the database held them before the up.
 */
async function repairFiles(
  migrations: readonly Migration[],
  migration: Migration,
  upTarget: Record<string, TableDefinition>,
  downTarget: () => Promise<Record<string, TableDefinition>>,
): Promise<Repair[]> {
  return withScratchDatabase(async (db) => {
    const foreignKeys = await replayUp(db, migrations.slice(0, migration.position));
    const heldBefore = await heldDefinitions(db);
    const up = repairFile(migration.up, await schemaFacts(db), upTarget);
    try {
      await applyFile(db, { path: migration.up.path, text: up.text, statements: splitStatements(up.text) }, foreignKeys);
    } catch {
      return up.repairs; // the trial reports it; the down file cannot be repaired against a schema the up never made
    }
    if (!migration.down) return up.repairs;
    return [...up.repairs, ...repairFile(migration.down, await schemaFacts(db), await downTarget(), heldBefore).repairs];
  });
}

/**
 * What `write-down` does with the down files it has just written: the repairs `generate` makes to a down file,
 * on one scratch database that replays the history in order (each chosen down is repaired against the schema its
 * up leaves, with the indexes the database held before that up). Stops repairing where an up fails on the
 * scratch database: the check that follows reports that failure.
 */
export async function repairDownFiles(migrations: readonly Migration[], positions: readonly number[], diff: SnapshotDiff = drizzleKitDiff): Promise<Repair[]> {
  const chosen = new Set(positions);
  const last = Math.max(-1, ...positions);
  return withScratchDatabase(async (db) => {
    const foreignKeys = await replayUp(db, []);
    const repairs: Repair[] = [];
    for (const migration of migrations.slice(0, last + 1)) {
      const heldBefore = chosen.has(migration.position) ? await heldDefinitions(db) : NOTHING_HELD;
      try {
        await applyFile(db, migration.up, foreignKeys);
      } catch {
        return repairs;
      }
      if (!chosen.has(migration.position) || !migration.down) continue;
      const before = migration.position === 0 ? emptySnapshot() : readSnapshot(migrations[migration.position - 1]!.snapshotPath);
      const target = tableDefinitions(await diff(emptySnapshot(), before));
      repairs.push(...repairFile(migration.down, await schemaFacts(db), target, heldBefore).repairs);
    }
    return repairs;
  });
}

/** CREATE TABLE and CREATE INDEX texts, by name, as a database holds them. */
interface HeldDefinitions {
  tables: Record<string, string>;
  indexes: Record<string, string>;
}

const NOTHING_HELD: HeldDefinitions = { tables: {}, indexes: {} };

/**
 * Repairs one file, writing it when anything changed; returns its text as it now is. `held` (for a down file: the
 * database before its up) gives the tables and indexes it must create again as they were.
 */
function repairFile(
  file: { path: string; text: string },
  facts: SchemaFacts,
  target: Record<string, TableDefinition>,
  held: HeldDefinitions = NOTHING_HELD,
): { text: string; repairs: Repair[] } {
  // drizzle-kit writes `statement;\n--> statement-breakpoint\nstatement;`: splitting keeps each chunk's text as it was.
  const chunks = file.text.split(new RegExp(`${STATEMENT_BREAKPOINT}\\n?`));
  const asHeld = restoreTableDefinitions(chunks, held.tables);
  const rebuilt = repairMigration(asHeld.chunks, facts, target);
  const indexed = restoreIndexDefinitions(rebuilt.chunks, held.indexes);
  const reasons = [...asHeld.repairs, ...rebuilt.repairs, ...indexed.repairs];
  if (reasons.length === 0) return { text: file.text, repairs: [] };
  const text = indexed.chunks.join(`${STATEMENT_BREAKPOINT}\n`);
  writeFileSync(file.path, text);
  return { text, repairs: reasons.map((reason) => ({ file: file.path, reason })) };
}

/** The tables' and indexes' texts as the database holds them (not the automatic indexes of UNIQUE and PRIMARY KEY). */
async function heldDefinitions(db: Queryable): Promise<HeldDefinitions> {
  const rows = await db.all<{ type: string; name: string; sql: string }>(
    "SELECT type, name, sql FROM sqlite_schema WHERE type IN ('table', 'index') AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%'",
  );
  const held: HeldDefinitions = { tables: {}, indexes: {} };
  for (const row of rows) (row.type === 'table' ? held.tables : held.indexes)[row.name] = row.sql;
  return held;
}

/** The facts the repairs need about a database: tables' columns and AUTOINCREMENT, views and triggers with their SQL. */
export async function schemaFacts(db: Queryable): Promise<SchemaFacts> {
  const rows = await db.all<{ type: string; name: string; tbl_name: string; sql: string | null }>(
    "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite_%'",
  );
  const facts: SchemaFacts = { tables: {}, views: {}, triggers: {} };
  for (const row of rows) {
    if (row.type === 'table') {
      const columns = await db.all<{ name: string }>('SELECT name FROM pragma_table_xinfo(?) ORDER BY cid', [row.name]);
      facts.tables[row.name] = { columns: columns.map((c) => c.name), autoincrement: /\bautoincrement\b/i.test(row.sql ?? '') };
    } else if (row.type === 'view' && row.sql) facts.views[row.name] = row.sql;
    else if (row.type === 'trigger' && row.sql) facts.triggers[row.name] = { table: row.tbl_name, sql: row.sql };
  }
  return facts;
}

/** drizzle-kit's own CREATE TABLE and CREATE INDEX statements for every table, from its SQL for a whole snapshot. */
export function tableDefinitions(statements: readonly string[]): Record<string, TableDefinition> {
  const definitions: Record<string, TableDefinition> = {};
  const parsed = parseMigrationStatements(statements);
  for (const statement of parsed) {
    if (statement.kind === 'create-table') definitions[statement.table] = { createTable: statement.sql, createIndexes: [] };
  }
  for (const statement of parsed) {
    if (statement.kind === 'create-index') definitions[statement.table]?.createIndexes.push(statement.sql);
  }
  return definitions;
}
