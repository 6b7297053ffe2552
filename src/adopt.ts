import { existsSync, rmSync } from 'node:fs';
import { getTableName } from 'drizzle-orm';
import { openBetterSqlite, type BetterSqliteDriver } from './db/better-sqlite3.js';
import { parseDatabaseUrl } from './db/url.js';
import {
  ALEMBIC_TABLE,
  copySql,
  describeConversion,
  effectsOf,
  leftoverColumns,
  planAdoption,
  parseColumnDrop,
  parseColumnRename,
  copyTallySql,
  sourceTallySql,
  unconvertibleSql,
  valueSql,
  type AdoptionFlags,
  type AdoptionPlan,
  type AppColumnRule,
  type ColumnMapping,
  type CopyContext,
  type SourceTable,
  type TablePlan,
  type TargetTable,
} from './engine/adopt/plan.js';
import { removeBackup, writeBackup, type BackupInfo } from './engine/backup.js';
import { CREATE_MIGRATIONS_TABLE, recordApplied } from './engine/bookkeeping.js';
import { replayUp, withScratchDatabase } from './engine/diff/scratch.js';
import { MigrateError } from './engine/errors.js';
import { loadMigrations, type Migration } from './engine/journal.js';
import { quoteIdentifier as q } from './engine/lint/statements.js';
import { BASE, resolveRevision, revisionLabel } from './engine/revisions.js';
import { sha256Hex } from './queries/password.js';
import { normalizeEmail } from './queries/users.js';
import { context, type ProtectionOptions, type RunnerOptions } from './runner.js';
import { users } from './schema/index.js';

/**
 * The app's columns that the query layer reads in its own form: emails normalised, reset tokens stored as their
 * SHA-256. Named from the models, so a rename there cannot leave a stale rule behind.
 */
export const APP_COLUMN_RULES: readonly AppColumnRule[] = [
  { table: getTableName(users), column: users.email.name, conversion: 'email' },
  { table: getTableName(users), column: users.passwordResetToken.name, conversion: 'reset-token', pairedWith: users.passwordResetExpires.name },
  { table: getTableName(users), column: users.passwordResetExpires.name, conversion: 'reset-expires', pairedWith: users.passwordResetToken.name },
];

/** The name a source table is moved to while its rows are copied into the table of the same name. */
const MOVED_PREFIX = '__adopt_source_';

export interface AdoptOptions extends RunnerOptions, ProtectionOptions {
  /** `<table>.<old>=<new>`: the source column that fills a target column of another name. */
  renameColumns?: string[];
  /** `<table>.<column>`: a source column whose data is let go. */
  dropColumns?: string[];
  /** A source table (with rows) that the migrations do not have, let go. */
  dropTables?: string[];
  /** The revision whose schema the database is taken to (default head). */
  to?: string;
  dryRun?: boolean;
  /** The clock, for what counts as an expired reset token (tests). */
  now?: Date;
}

export interface AdoptedTable {
  table: string;
  source: string | null;
  rows: number;
  columns: ColumnMapping[];
}

export interface AdoptResult {
  database: string;
  dryRun: boolean;
  /** The runner's revision the database is at afterwards (or would be). */
  revision: string;
  /** The Alembic revision the database was at (from alembic_version), if it had one. */
  alembicRevision: string | null;
  backup: BackupInfo | null;
  tables: AdoptedTable[];
  droppedColumns: AdoptionPlan['droppedColumns'];
  droppedTables: AdoptionPlan['droppedTables'];
  /** What the conversions did, one line each (emails normalised, reset tokens carried or cleared, …). */
  notes: string[];
  /** Why it cannot be done (a dry run lists them; a real run stops at them). */
  refusals: string[];
}

/**
 * `adopt`: takes a database made elsewhere to the schema of the migrations up to `to`, keeping every row.
 *
 * Everything happens in one write transaction on the database itself, with the write lock taken first: the
 * target schema (the migrations' own, replayed on a scratch database) is created next to the source tables
 * (moved aside), every row is copied with one INSERT … SELECT per table converting values in SQL, the copy is
 * checked (row counts, every value read back, foreign keys, integrity), the source tables are dropped and the
 * bookkeeping rows written, and it commits. So no write of another connection can land between the copy and the
 * swap (it waits for the lock, or gets SQLITE_BUSY: never a silent loss), an app connection left open sees the
 * new schema at its next statement instead of writing into a replaced file, and a killed adoption is rolled back
 * by SQLite (no half-written file is left to trip on). What the plan alone can refuse is refused before the
 * backup; what only the data shows (a value that does not convert, keys that collide once converted) is found
 * by the copy and its checks, and then named by a closer look at the source, the transaction rolled back and the
 * backup removed: a refused adoption leaves the file and its folder as they were.
 */
export async function adopt(options: AdoptOptions): Promise<AdoptResult> {
  const ctx = context(options);
  const location = parseDatabaseUrl(ctx.url);
  if (location.kind !== 'file') throw new MigrateError('ADOPT_REFUSED', `adopt takes a database file; ${ctx.url} is ${location.kind === 'memory' ? 'an in-memory database' : 'a remote database'}`);
  const path = location.path;
  if (!existsSync(path)) throw new MigrateError('ADOPT_REFUSED', `there is no database at ${path} to adopt`);
  const flags = parseFlags(options);
  const migrations = loadMigrations(ctx.folder);
  const position = resolveRevision(options.to ?? 'head', migrations);
  if (position === BASE) throw new MigrateError('ADOPT_REFUSED', "adopt takes a database to a revision's schema; 'base' has none (there are no migrations to adopt into)");
  const target = await targetSchema(migrations.slice(0, position + 1));
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);

  const db = openBetterSqlite({ ...location, readonly: false, fileMustExist: true, timeoutMs: options.lockTimeoutMs ?? 5000 });
  try {
    // Switched off outside the transaction (SQLite ignores it inside): the copy goes table by table, and the
    // foreign keys are checked once, on the whole copy, before the commit.
    await db.exec('PRAGMA foreign_keys = OFF');
    try {
      await db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw new MigrateError('LOCKED', `another connection is writing to ${path}: stop the app before adopting (${(error as Error).message}); nothing was changed`, { cause: error });
    }
    let backup: BackupInfo | null = null;
    try {
      const source = await sourceFacts(db, target.tables, flags);
      const alembicRevision = await alembicVersion(db, source);
      const plan = planAdoption(source.tables, target.tables, flags, APP_COLUMN_RULES);
      defineFunctions(db);
      const result: AdoptResult = {
        database: path,
        dryRun: options.dryRun === true,
        revision: revisionLabel(position, migrations),
        alembicRevision,
        backup: null,
        tables: plan.tables.map(({ table, source: from, rows, columns }) => ({ table, source: from, rows, columns })),
        droppedColumns: plan.droppedColumns,
        droppedTables: plan.droppedTables,
        notes: [],
        refusals: plan.refusals,
      };
      // A dry run looks at every value (slow, thorough); a real run copies, and looks closer only where the copy or
      // its checks fail, and then refuses with what the dry run would have said.
      const thorough = options.dryRun || plan.tables.some((t) => t.source !== null && t.match.kind === 'none');
      if (plan.refusals.length === 0 && thorough) {
        const inspected = await inspectData(db, plan, target, now);
        result.refusals = inspected.refusals;
        result.notes = inspected.notes;
      }
      if (options.dryRun) return result;
      if (result.refusals.length > 0) throw refusal(result.refusals);
      if (options.backup !== false) backup = result.backup = await writeBackup(path, alembicRevision ? `alembic-${alembicRevision}` : 'before-adopt', { keep: options.keepBackups, budget: options.backupBudget });
      try {
        const notes = await carryOut(db, plan, target, source, migrations.slice(0, position + 1), now);
        if (!thorough) result.notes = notes;
        await db.exec('COMMIT');
      } catch (error) {
        if (!(error instanceof CopyFailed)) throw error;
        await db.exec('ROLLBACK');
        // A refused adoption leaves nothing behind; a backup it found already taken is not its own to remove.
        if (backup && !backup.reused) removeBackup(backup);
        const { refusals } = await inspectData(db, plan, target, now);
        throw refusal(refusals.length > 0 ? refusals : [error.message]);
      }
      return result;
    } catch (error) {
      // A failed statement can end the transaction itself; ROLLBACK would then fail.
      if (db.inTransaction) await db.exec('ROLLBACK');
      throw error;
    }
  } finally {
    await db.close();
  }
}

/** The copy or one of its checks failed on the data: the adoption is refused after a closer look at the source. */
class CopyFailed extends Error {}

function parseFlags(options: AdoptOptions) {
  try {
    return {
      renameColumns: (options.renameColumns ?? []).map(parseColumnRename),
      dropColumns: (options.dropColumns ?? []).map(parseColumnDrop),
      dropTables: options.dropTables ?? [],
    };
  } catch (error) {
    throw new MigrateError('BAD_TARGET', (error as Error).message, { cause: error });
  }
}

/** One line for all refusals: the first ones in full, the rest counted. */
function refusal(refusals: readonly string[]): MigrateError {
  const listed = refusals.slice(0, 3);
  const more = refusals.length > listed.length ? `; and ${refusals.length - listed.length} more (see --dry-run)` : '';
  return new MigrateError('ADOPT_REFUSED', `cannot adopt: ${listed.join('; ')}${more}; nothing was changed`);
}

/** The functions the conversions call where SQL has none: the query layer's email form, and SHA-256. */
function defineFunctions(db: BetterSqliteDriver): void {
  db.defineFunction('adopt_email', (value: unknown) => (typeof value === 'string' ? normalizeEmail(value) : null));
  db.defineFunction('adopt_sha256', (value: unknown) => (typeof value === 'string' ? sha256Hex(value) : null));
}

interface SchemaObject {
  type: string;
  name: string;
  tbl_name: string;
  sql: string;
}

interface TargetSchema {
  tables: TargetTable[];
  /** Every object the migrations make, in the order they made them. */
  objects: SchemaObject[];
  /** Each table's unique keys (UNIQUE constraints and indexes on columns), for the collision check. */
  uniqueKeys: { table: string; index: string; columns: string[] }[];
}

/** The schema of the migrations, replayed on a scratch database as `up` would apply them. */
async function targetSchema(migrations: readonly Migration[]): Promise<TargetSchema> {
  return withScratchDatabase(async (db) => {
    await replayUp(db, migrations);
    const objects = await db.all<SchemaObject>("SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid");
    const tables: TargetTable[] = [];
    const uniqueKeys: TargetSchema['uniqueKeys'] = [];
    for (const object of objects.filter((o) => o.type === 'table')) {
      const columns = await db.all<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number; hidden: number }>(
        'SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid',
        [object.name],
      );
      const withoutRowid = /\bwithout\s+rowid\s*$/i.test(object.sql.trim().replace(/;$/, ''));
      const keys = columns.filter((c) => c.pk > 0);
      tables.push({
        name: object.name,
        withoutRowid,
        columns: columns.map((c) => ({
          name: c.name,
          declaredType: c.type,
          notNull: c.notnull === 1,
          hasDefault: c.dflt_value !== null,
          generated: c.hidden === 2 || c.hidden === 3,
          rowid: !withoutRowid && keys.length === 1 && c.pk === 1 && c.type.toUpperCase() === 'INTEGER',
        })),
      });
      for (const index of await db.all<{ name: string; unique: number; origin: string }>('SELECT name, "unique", origin FROM pragma_index_list(?)', [object.name])) {
        if (index.unique !== 1) continue;
        const parts = await db.all<{ name: string | null }>('SELECT name FROM pragma_index_info(?) ORDER BY seqno', [index.name]);
        if (parts.some((p) => p.name === null)) continue; // on an expression: left to the index itself to refuse
        uniqueKeys.push({ table: object.name, index: index.name, columns: parts.map((p) => p.name!) });
      }
    }
    return { tables, objects, uniqueKeys };
  });
}

interface SourceFacts {
  tables: SourceTable[];
  /** Indexes, views and triggers of the source: dropped before the copy (the target has its own). */
  dependants: { type: string; name: string }[];
}

/** The source's tables, their row counts, and the value counts of the columns no target column takes. */
async function sourceFacts(db: BetterSqliteDriver, target: readonly TargetTable[], flags: AdoptionFlags): Promise<SourceFacts> {
  const rows = await db.all<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid");
  const described = [];
  for (const table of rows) {
    const columns = await db.all<{ name: string; type: string }>('SELECT name, type FROM pragma_table_xinfo(?) ORDER BY cid', [table.name]);
    described.push({ ...table, columns });
  }
  const leftover = leftoverColumns(described, target, flags);
  const tables: SourceTable[] = [];
  for (const table of described) {
    const counted = table.columns.filter((c) => leftover.get(table.name)?.has(c.name));
    const [count] = await db.all<Record<string, number>>(`SELECT ${['count(*) AS "*"', ...counted.map((c, i) => `count(${q(c.name)}) AS c${i}`)].join(', ')} FROM ${q(table.name)}`);
    tables.push({
      name: table.name,
      rows: count!['*']!,
      withoutRowid: /\bwithout\s+rowid\s*$/i.test(table.sql.trim().replace(/;$/, '')),
      columns: table.columns.map((c) => {
        const i = counted.indexOf(c);
        return { name: c.name, declaredType: c.type, values: i === -1 ? null : count![`c${i}`]! };
      }),
    });
  }
  const dependants = await db.all<{ type: string; name: string }>("SELECT type, name FROM sqlite_schema WHERE type IN ('index', 'view', 'trigger') AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%'");
  return { tables, dependants };
}

async function alembicVersion(db: BetterSqliteDriver, source: SourceFacts): Promise<string | null> {
  if (!source.tables.some((t) => t.name === ALEMBIC_TABLE)) return null;
  const rows = await db.all<{ version_num: string }>(`SELECT version_num FROM ${q(ALEMBIC_TABLE)}`);
  return rows.map((r) => r.version_num).join(', ') || null;
}

/** A value as a message shows it: text in quotes (cut at 60 characters), numbers as they are, blobs by size. */
function shown(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Buffer.isBuffer(value)) return `a ${value.length}-byte blob`;
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

/**
 * Reads the source once per table (one aggregate scan) for the values that would not convert or would break a
 * NOT NULL column, and what the conversions will do (for the report); then each unique key of the target, over
 * the converted values. Writes nothing.
 */
async function inspectData(db: BetterSqliteDriver, plan: AdoptionPlan, target: TargetSchema, now: number): Promise<{ refusals: string[]; notes: string[] }> {
  const refusals: string[] = [];
  const notes: string[] = [];
  for (const table of plan.tables) {
    if (table.source === null || table.rows === 0) continue;
    const ctx: CopyContext = { now, sourceTable: table.source };
    const targetTable = target.tables.find((t) => t.name === table.table)!;
    const probes: { sql: string; message: (rowid: number, value: unknown) => string; source: string }[] = [];
    for (const mapping of table.columns) {
      if (mapping.source === null || mapping.conversion === null) continue;
      const column = targetTable.columns.find((c) => c.name === mapping.target)!;
      const bad = unconvertibleSql(mapping, table, ctx, APP_COLUMN_RULES);
      if (bad) {
        probes.push({
          sql: bad,
          source: mapping.source,
          message: (rowid, value) =>
            `${table.table} row ${rowid} (rowid): ${mapping.source} holds ${shown(value)}, which is not ${describeConversion(mapping.conversion!)} for ${table.table}.${mapping.target}; fix or clear the value, then adopt again`,
        });
      }
      if (column.notNull && !column.rowid) {
        probes.push({
          sql: `(${valueSql(mapping, table, ctx, APP_COLUMN_RULES)} IS NULL)`,
          source: mapping.source,
          message: (rowid, value) => `${table.table} row ${rowid} (rowid): ${table.table}.${mapping.target} is NOT NULL in the migrations, and the row holds ${shown(value)} in ${mapping.source}; give it a value, then adopt again`,
        });
      }
    }
    const effects = effectsOf(table, ctx, APP_COLUMN_RULES);
    const selects = [
      ...probes.map((p, i) => `min(CASE WHEN ${p.sql} THEN s.rowid END) AS p${i}`),
      ...effects.map((e, i) => `sum(CASE WHEN ${e.sql} THEN 1 ELSE 0 END) AS e${i}`),
    ];
    if (selects.length === 0) continue;
    const [found] = await db.all<Record<string, number | null>>(`SELECT ${selects.join(', ')} FROM ${q(table.source)} AS s`);
    for (const [i, probe] of probes.entries()) {
      const rowid = found![`p${i}`];
      if (rowid === null || rowid === undefined) continue;
      const [row] = await db.all<{ value: unknown }>(`SELECT ${q(probe.source)} AS value FROM ${q(table.source)} WHERE rowid = ?`, [rowid]);
      refusals.push(probe.message(rowid, row?.value));
    }
    for (const [i, effect] of effects.entries()) {
      const count = found![`e${i}`] ?? 0;
      if (count > 0) notes.push(effect.note(count));
    }
    refusals.push(...(await uniqueCollisions(db, table, target, ctx)));
  }
  return { refusals, notes };
}

/** Source rows that would share a unique key of the target once converted: named, both of them. */
async function uniqueCollisions(db: BetterSqliteDriver, table: TablePlan, target: TargetSchema, ctx: CopyContext): Promise<string[]> {
  const problems: string[] = [];
  for (const key of target.uniqueKeys.filter((k) => k.table === table.table)) {
    const mappings = key.columns.map((c) => table.columns.find((m) => m.target === c));
    if (mappings.some((m) => !m || m.source === null)) continue;
    const targetTable = target.tables.find((t) => t.name === table.table)!;
    // The rowid key is the source's own key: no two source rows share it.
    if (key.columns.length === 1 && targetTable.columns.find((c) => c.name === key.columns[0])?.rowid) continue;
    const values = mappings.map((m) => valueSql(m!, table, ctx, APP_COLUMN_RULES));
    const [collision] = await db.all<{ first: number; second: number }>(
      `SELECT min(s.rowid) AS first, max(s.rowid) AS second FROM ${q(table.source!)} AS s WHERE ${values.map((v) => `${v} IS NOT NULL`).join(' AND ')} GROUP BY ${values.join(', ')} HAVING count(*) > 1 LIMIT 1`,
    );
    if (!collision) continue;
    const sources = mappings.map((m) => m!.source!);
    const rows = await db.all<Record<string, unknown>>(`SELECT rowid AS _rowid, ${sources.map((s) => q(s)).join(', ')} FROM ${q(table.source!)} WHERE rowid IN (?, ?) ORDER BY rowid`, [collision.first, collision.second]);
    const describe = (row: Record<string, unknown> | undefined) => sources.map((s) => `${s} ${shown(row?.[s])}`).join(', ');
    problems.push(
      `${table.table} rows ${collision.first} and ${collision.second} (rowids: ${describe(rows[0])} and ${describe(rows[1])}) would share ${table.table}(${key.columns.join(', ')}) once converted, which ${key.index} keeps unique; merge or change one of them, then adopt again`,
    );
  }
  return problems;
}

/**
 * The adoption itself, inside the caller's transaction; returns what the conversions did. Throws CopyFailed where
 * the data breaks it (a constraint, a value that does not read back), anything else as it comes (the caller rolls
 * back either way).
 */
async function carryOut(db: BetterSqliteDriver, plan: AdoptionPlan, target: TargetSchema, source: SourceFacts, migrations: readonly Migration[], now: number): Promise<string[]> {
  for (const dependant of source.dependants) await db.exec(`DROP ${dependant.type.toUpperCase()} IF EXISTS ${q(dependant.name)}`);
  const copied = plan.tables.filter((t) => t.source !== null);
  const sourceNames = source.tables.map((t) => t.name);
  for (const name of sourceNames) await db.exec(`ALTER TABLE ${q(name)} RENAME TO ${q(MOVED_PREFIX + name)}`);

  // Tables and their indexes before the rows (the rows then go into each index in the copy's order, faster here than
  // a sort of a million keys afterwards); views and triggers after them (a trigger must not fire on the copy).
  const [structure, dependantsOfTarget] = [target.objects.filter((o) => o.type === 'table' || o.type === 'index'), target.objects.filter((o) => o.type !== 'table' && o.type !== 'index')];
  for (const object of structure) await db.exec(object.sql);
  for (const table of copied) {
    const ctx: CopyContext = { now, sourceTable: MOVED_PREFIX + table.source! };
    const sql = copySql(table, ctx, APP_COLUMN_RULES);
    if (!sql) continue;
    try {
      await db.run(sql);
    } catch (error) {
      throw new CopyFailed(`copying ${table.table} failed: ${(error as Error).message}`, { cause: error });
    }
    await carrySequence(db, table.table, ctx.sourceTable);
  }
  for (const object of dependantsOfTarget) {
    try {
      await db.exec(object.sql);
    } catch (error) {
      throw new CopyFailed(`creating ${object.type} ${object.name} on the copied rows failed: ${(error as Error).message}`, { cause: error });
    }
  }
  const notes = await checkCopy(db, copied, now);
  for (const name of sourceNames) await db.exec(`DROP TABLE ${q(MOVED_PREFIX + name)}`);
  await db.exec(CREATE_MIGRATIONS_TABLE);
  for (const migration of migrations) await recordApplied(db, { hash: migration.hash, createdAt: migration.when });
  const integrity = await db.all<{ integrity_check: string }>('PRAGMA integrity_check');
  if (integrity.length !== 1 || integrity[0]!.integrity_check !== 'ok') {
    throw new CopyFailed(`the copy fails PRAGMA integrity_check (${integrity.map((r) => r.integrity_check).slice(0, 3).join('; ')})`);
  }
  return notes;
}

/** An AUTOINCREMENT counter never goes back: the source's, when it was higher than the copied rows' largest id. */
async function carrySequence(db: BetterSqliteDriver, table: string, sourceTable: string): Promise<void> {
  const [sequence] = await db.all<{ n: number }>("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'sqlite_sequence'");
  if (!sequence || sequence.n === 0) return;
  await db.run('UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0)) WHERE name = ?', [sourceTable, table]);
}

/**
 * The copy checked before the commit: every row there, every stored value read back (present wherever its source
 * value is), every foreign key satisfied. Returns the effects counted,
 * as notes.
 */
async function checkCopy(db: BetterSqliteDriver, copied: readonly TablePlan[], now: number): Promise<string[]> {
  const notes: string[] = [];
  for (const table of copied) {
    const ctx: CopyContext = { now, sourceTable: MOVED_PREFIX + table.source! };
    const effects = effectsOf(table, ctx, APP_COLUMN_RULES).filter((e) => e.cheap);
    const [expected] = await db.all<Record<string, number | null>>(sourceTallySql(table, ctx, APP_COLUMN_RULES, effects)!);
    const [stored] = await db.all<Record<string, number | null>>(copyTallySql(table));
    if (stored!.rows !== expected!.rows) throw new CopyFailed(`${table.table} holds ${stored!.rows} rows after the copy, the source ${expected!.rows}`);
    for (const [i, column] of table.columns.entries()) {
      if (!(`n${i}` in stored!)) continue;
      const lost = (expected![`n${i}`] ?? 0) - (stored![`n${i}`] ?? 0);
      if (lost !== 0) throw new CopyFailed(`${lost} value(s) of ${table.table}.${column.target} did not convert`);
      if ((expected![`bad${i}`] ?? 0) > 0) throw new CopyFailed(`${expected![`bad${i}`]} value(s) of ${table.table}.${column.source} are not dates`);
    }
    effects.forEach((effect, i) => {
      const n = expected![`e${i}`] ?? 0;
      if (n > 0) notes.push(effect.note(n));
    });
  }
  const violations = await db.all<{ table: string; rowid: number; parent: string }>('PRAGMA foreign_key_check');
  if (violations.length > 0) {
    const first = violations[0]!;
    throw new CopyFailed(`${violations.length} row(s) would break a foreign key once copied, e.g. ${first.table} rowid ${first.rowid} references a missing row of ${first.parent}; fix them in the source, then adopt again`);
  }
  return notes;
}
