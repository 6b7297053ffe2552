import { readFileSync, writeFileSync } from 'node:fs';
import type { Queryable } from '../../db/driver.js';
import { drizzleKitDiff, type SnapshotDiff } from '../diff/down.js';
import { introspect, type NormalizedSchema } from '../diff/introspect.js';
import { repairMigration, type SchemaFacts, type TableDefinition } from '../diff/repair.js';
import { withScratchDatabase } from '../diff/scratch.js';
import { emptySnapshot, readSnapshot, type SqliteSnapshot } from '../diff/snapshot.js';
import { MigrateError } from '../errors.js';
import { runFile } from '../executor.js';
import { loadMigrations, splitStatements, STATEMENT_BREAKPOINT, type Migration } from '../journal.js';
import { parseMigrationStatements } from '../lint/statements.js';
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
  const repairs = await repairFiles(folder, tag, diff);
  const migrations = loadMigrations(folder);
  const migration = migrations.find((m) => m.tag === tag)!;
  const snapshot = readSnapshot(migration.snapshotPath);
  const expected = await schemaOfSnapshot(snapshot, diff);
  const warnings: string[] = [];
  const failure = await withScratchDatabase(async (db) => {
    for (const previous of migrations.slice(0, migration.position)) await runFile(db, previous.up);
    await db.exec('PRAGMA foreign_keys = ON');
    return stairwayStep(db, migration, {
      rowsPerTable: ROWS_PER_TABLE,
      counter: new Counter(),
      warnings,
      expectedAfterUp: { schema: expected, label: 'the models (its snapshot)' },
      rowsKeptByUp: true,
      plannedKeys: snapshotForeignKeys(snapshot),
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

/** Repairs the up file on the schema of the migrations before it, then the down file on the schema after the repaired up. */
async function repairFiles(folder: string, tag: string, diff: SnapshotDiff): Promise<Repair[]> {
  const migrations = loadMigrations(folder);
  const migration = migrations.find((m) => m.tag === tag);
  if (!migration) throw new MigrateError('JOURNAL', `${tag} is not in the journal`);
  const before = migration.position === 0 ? emptySnapshot() : readSnapshot(migrations[migration.position - 1]!.snapshotPath);
  const after = readSnapshot(migration.snapshotPath);
  return withScratchDatabase(async (db) => {
    for (const previous of migrations.slice(0, migration.position)) await runFile(db, previous.up);
    const repairs = repairFile(migration.up.path, await schemaFacts(db), await tableDefinitions(after, diff));
    const up = readFileSync(migration.up.path, 'utf8');
    try {
      await runFile(db, { path: migration.up.path, text: up, statements: splitStatements(up) });
    } catch {
      return repairs; // the trial reports it; the down file cannot be repaired against a schema the up never made
    }
    if (migration.down) repairs.push(...repairFile(migration.downPath, await schemaFacts(db), await tableDefinitions(before, diff)));
    return repairs;
  });
}

function repairFile(path: string, facts: SchemaFacts, target: Record<string, TableDefinition>): Repair[] {
  const text = readFileSync(path, 'utf8');
  // drizzle-kit writes `statement;\n--> statement-breakpoint\nstatement;`: splitting keeps each chunk's text as it was.
  const chunks = text.split(new RegExp(`${STATEMENT_BREAKPOINT}\\n?`));
  const repaired = repairMigration(chunks, facts, target);
  if (repaired.repairs.length === 0) return [];
  writeFileSync(path, repaired.chunks.join(`${STATEMENT_BREAKPOINT}\n`));
  return repaired.repairs.map((reason) => ({ file: path, reason }));
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

/** drizzle-kit's own CREATE TABLE and CREATE INDEX statements for every table of a snapshot. */
export async function tableDefinitions(snapshot: SqliteSnapshot, diff: SnapshotDiff = drizzleKitDiff): Promise<Record<string, TableDefinition>> {
  const definitions: Record<string, TableDefinition> = {};
  const statements = await diff(emptySnapshot(), { ...snapshot, views: {} });
  for (const parsed of parseMigrationStatements(statements)) {
    if (parsed.kind === 'create-table') definitions[parsed.table] = { createTable: parsed.sql, createIndexes: [] };
  }
  for (const parsed of parseMigrationStatements(statements)) {
    if (parsed.kind === 'create-index') definitions[parsed.table]?.createIndexes.push(parsed.sql);
  }
  return definitions;
}

/** The schema drizzle-kit's SQL for a snapshot gives on an empty database. */
async function schemaOfSnapshot(snapshot: SqliteSnapshot, diff: SnapshotDiff): Promise<NormalizedSchema> {
  const statements = await diff(emptySnapshot(), snapshot);
  return withScratchDatabase(async (db) => {
    for (const statement of statements) await db.exec(statement);
    return introspect(db);
  });
}
