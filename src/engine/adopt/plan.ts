import { affinityOf } from '../affinity.js';
import { quoteIdentifier as q } from '../lint/statements.js';

/**
 * Adoption of a database made elsewhere (the Python app's, made by SQLAlchemy and Alembic): which source column
 * fills which column of the migrations' schema, converted how, and what is refused. Pure: the facts come in, the
 * plan and the SQL that carries it out go out; src/adopt.ts runs it.
 */

export interface SourceColumn {
  name: string;
  declaredType: string;
  /**
   * How many rows hold a value (not NULL) here; counted only for the columns no target column takes
   * (`leftoverColumns`), which are all the plan asks about: null elsewhere.
   */
  values: number | null;
}

export interface SourceTable {
  name: string;
  columns: SourceColumn[];
  rows: number;
  withoutRowid: boolean;
}

export interface TargetColumn {
  name: string;
  declaredType: string;
  notNull: boolean;
  hasDefault: boolean;
  /** A generated column: SQLite computes it, nothing is copied into it. */
  generated: boolean;
  /** The table's INTEGER PRIMARY KEY (the rowid): SQLite numbers rows that come without one. */
  rowid: boolean;
}

export interface TargetTable {
  name: string;
  columns: TargetColumn[];
  withoutRowid: boolean;
}

/**
 * How a value becomes the target column's:
 * - copy: the same affinity on both sides, SQLite stores it as it is;
 * - integer, real, text: numbers written as text and integral reals become numbers, numbers become text;
 * - boolean: 0/1 as SQLAlchemy's BOOLEAN stores them, and true/false/t/f/yes/no as text;
 * - datetime-seconds: SQLAlchemy's DATETIME text (`YYYY-MM-DD HH:MM:SS[.ffffff]`, `T` or space, a zone or none,
 *   naive meaning UTC as `datetime.utcnow` wrote it) to seconds since the epoch, the models' `mode: 'timestamp'`;
 *   fractions of a second are dropped (the column holds seconds);
 * - email: the query layer's stored form (NFC, trimmed, lower-cased);
 * - reset-token / reset-expires: a pending reset token, stored raw by the Python app, becomes the layer's stored
 *   form (its SHA-256), so the link in the user's mail still works; an expired one is cleared with its expiry.
 */
export type Conversion = 'copy' | 'integer' | 'real' | 'text' | 'boolean' | 'datetime-seconds' | 'email' | 'reset-token' | 'reset-expires';

/** A column of the app's tables whose values the query layer reads in its own form (see `Conversion`). */
export interface AppColumnRule {
  table: string;
  column: string;
  conversion: 'email' | 'reset-token' | 'reset-expires';
  /** For the reset token: its expiry column in the target; for the expiry: its token column. */
  pairedWith?: string;
}

export interface ColumnMapping {
  target: string;
  /** The source column that fills it; null: it takes its default (or SQLite's rowid numbering). */
  source: string | null;
  conversion: Conversion | null;
}

export interface TablePlan {
  table: string;
  /** The source table (its name: tables are matched by name), or null: the target table starts empty. */
  source: string | null;
  rows: number;
  columns: ColumnMapping[];
  /**
   * How a target row is matched with its source row (for the read-back): by its INTEGER PRIMARY KEY column, filled
   * from the source (`column`); by the source's rowid, copied as the target's (`rowid`); or not at all, in a
   * WITHOUT ROWID table (`none`: its values are checked by the row counts and the constraints only).
   */
  match: { kind: 'column'; column: string } | { kind: 'rowid' } | { kind: 'none' };
}

export interface ColumnRename {
  table: string;
  from: string;
  to: string;
}

export interface AdoptionFlags {
  renameColumns: ColumnRename[];
  dropColumns: { table: string; column: string }[];
  dropTables: string[];
}

export interface AdoptionPlan {
  tables: TablePlan[];
  /** Source columns left behind: dropped by a flag, or holding no value. */
  droppedColumns: { table: string; column: string; values: number; reason: 'flag' | 'empty' }[];
  /** Source tables left behind: dropped by a flag, empty, or the Alembic bookkeeping. */
  droppedTables: { table: string; rows: number; reason: 'flag' | 'empty' | 'alembic' }[];
  /** Why the adoption cannot go on, one line each (empty: it can). */
  refusals: string[];
}

/** Tables no adoption copies: SQLite's own, and Alembic's bookkeeping (its revision is reported instead). */
export const ALEMBIC_TABLE = 'alembic_version';
/** The runner's bookkeeping: a database that has it is already managed by migrations. */
const RUNNER_TABLES = new Set(['__drizzle_migrations', '__migrate_lock']);

/** Parses `--rename-column <table>.<old>=<new>`. */
export function parseColumnRename(text: string): ColumnRename {
  const match = /^([^.=\s]+)\.([^.=\s]+)=([^.=\s]+)$/.exec(text.trim());
  if (!match) throw new TypeError(`--rename-column ${text}: expected <table>.<old>=<new>, e.g. users.hashed_password=password_hash`);
  return { table: match[1]!, from: match[2]!, to: match[3]! };
}

/** Parses `--drop-column <table>.<column>`. */
export function parseColumnDrop(text: string): { table: string; column: string } {
  const match = /^([^.=\s]+)\.([^.=\s]+)$/.exec(text.trim());
  if (!match) throw new TypeError(`--drop-column ${text}: expected <table>.<column>, e.g. users.is_active`);
  return { table: match[1]!, column: match[2]! };
}

/** What the source's declared type says its values are, for the choice of a conversion. */
function sourceKind(declaredType: string): 'datetime' | 'boolean' | 'other' {
  const type = declaredType.toUpperCase();
  if (/DATE|TIME/.test(type)) return 'datetime';
  if (/BOOL/.test(type)) return 'boolean';
  return 'other';
}

/** The conversion from a source column to a target column of the given declared types. */
export function conversionFor(sourceType: string, targetType: string): Conversion {
  const kind = sourceKind(sourceType);
  const target = affinityOf(targetType);
  if (target === 'INTEGER') {
    if (kind === 'datetime') return 'datetime-seconds';
    if (kind === 'boolean') return 'boolean';
    return affinityOf(sourceType) === 'INTEGER' ? 'copy' : 'integer';
  }
  if (target === 'TEXT') return affinityOf(sourceType) === 'TEXT' ? 'copy' : 'text';
  if (target === 'REAL') return affinityOf(sourceType) === 'REAL' ? 'copy' : 'real';
  return 'copy';
}

/** The source column that fills each target column of a table (by the rename flags, else by name). */
function sourceNames(table: TargetTable, flags: AdoptionFlags): Map<string, string> {
  const renames = flags.renameColumns.filter((r) => r.table === table.name);
  const renamedAway = new Set(renames.map((r) => r.from));
  const dropped = new Set(flags.dropColumns.filter((d) => d.table === table.name).map((d) => d.column));
  const names = new Map<string, string>();
  for (const column of table.columns) {
    if (column.generated) continue;
    const renamed = renames.find((r) => r.to === column.name)?.from;
    const name = renamed ?? (renamedAway.has(column.name) || dropped.has(column.name) ? undefined : column.name);
    if (name !== undefined) names.set(column.name, name);
  }
  return names;
}

/**
 * The source columns no target column takes, by table: the only ones whose values the plan needs counted (a
 * column holding data is refused unless dropped; an empty one goes quietly). Pure.
 */
export function leftoverColumns(source: readonly { name: string; columns: readonly { name: string }[] }[], target: readonly TargetTable[], flags: AdoptionFlags): Map<string, Set<string>> {
  const leftover = new Map<string, Set<string>>();
  for (const table of source) {
    const into = target.find((t) => t.name === table.name);
    if (!into || flags.dropTables.includes(table.name)) continue;
    const used = new Set(sourceNames(into, flags).values());
    leftover.set(table.name, new Set(table.columns.map((c) => c.name).filter((c) => !used.has(c))));
  }
  return leftover;
}

/** The plan: every target table with the source columns that fill it, and every refusal. Pure. */
export function planAdoption(source: readonly SourceTable[], target: readonly TargetTable[], flags: AdoptionFlags, rules: readonly AppColumnRule[]): AdoptionPlan {
  const refusals: string[] = [];
  const droppedColumns: AdoptionPlan['droppedColumns'] = [];
  const droppedTables: AdoptionPlan['droppedTables'] = [];
  const sourceByName = new Map(source.map((t) => [t.name, t]));
  const targetByName = new Map(target.map((t) => [t.name, t]));

  for (const table of source) {
    if (table.withoutRowid && targetByName.has(table.name) && !flags.dropTables.includes(table.name)) {
      refusals.push(`table ${table.name} is a WITHOUT ROWID table: adopt copies rowid tables only (copy it by hand after adopting, or --drop-table ${table.name})`);
    }
    if (RUNNER_TABLES.has(table.name)) {
      refusals.push(`the database already has the runner's table ${table.name}: it is managed by these migrations; use status and up instead of adopt`);
    }
  }
  // Flags that name nothing are mistakes, not no-ops: said before anything else.
  for (const rename of flags.renameColumns) {
    const from = sourceByName.get(rename.table);
    if (!from) refusals.push(`--rename-column ${rename.table}.${rename.from}=${rename.to}: the database has no table ${rename.table}`);
    else if (!from.columns.some((c) => c.name === rename.from)) refusals.push(`--rename-column ${rename.table}.${rename.from}=${rename.to}: table ${rename.table} has no column ${rename.from} (it has ${from.columns.map((c) => c.name).join(', ')})`);
    const to = targetByName.get(rename.table);
    if (from && !to) refusals.push(`--rename-column ${rename.table}.${rename.from}=${rename.to}: the migrations have no table ${rename.table}`);
    else if (to && !to.columns.some((c) => c.name === rename.to)) refusals.push(`--rename-column ${rename.table}.${rename.from}=${rename.to}: the migrations' table ${rename.table} has no column ${rename.to} (it has ${to.columns.map((c) => c.name).join(', ')})`);
  }
  for (const drop of flags.dropColumns) {
    const from = sourceByName.get(drop.table);
    if (!from) refusals.push(`--drop-column ${drop.table}.${drop.column}: the database has no table ${drop.table}`);
    else if (!from.columns.some((c) => c.name === drop.column)) refusals.push(`--drop-column ${drop.table}.${drop.column}: table ${drop.table} has no column ${drop.column}`);
    if (flags.renameColumns.some((r) => r.table === drop.table && r.from === drop.column)) refusals.push(`--drop-column ${drop.table}.${drop.column} and --rename-column of the same column: give one of them`);
  }
  for (const name of flags.dropTables) if (!sourceByName.has(name)) refusals.push(`--drop-table ${name}: the database has no table ${name}`);

  const tables: TablePlan[] = [];
  for (const table of target) {
    const from = sourceByName.get(table.name);
    if (!from || flags.dropTables.includes(table.name)) {
      tables.push({
        table: table.name,
        source: null,
        rows: 0,
        columns: table.columns.filter((c) => !c.generated).map((c) => ({ target: c.name, source: null, conversion: null })),
        match: { kind: 'none' },
      });
      continue;
    }
    const renamedAway = new Set(flags.renameColumns.filter((r) => r.table === table.name).map((r) => r.from));
    const dropped = new Set(flags.dropColumns.filter((d) => d.table === table.name).map((d) => d.column));
    const names = sourceNames(table, flags);
    const columns: ColumnMapping[] = [];
    const used = new Set<string>();
    for (const column of table.columns.filter((c) => !c.generated)) {
      const name = names.get(column.name);
      const found = name === undefined ? undefined : from.columns.find((c) => c.name === name);
      if (!found) {
        if (column.notNull && !column.hasDefault && !column.rowid && from.rows > 0) {
          refusals.push(
            `${table.name}.${column.name} is NOT NULL without a default in the migrations, and no column of the database's ${table.name} fills it (${from.rows} rows): ` +
              `name the column that holds it with --rename-column ${table.name}.<column>=${column.name}`,
          );
        }
        columns.push({ target: column.name, source: null, conversion: null });
        continue;
      }
      used.add(found.name);
      const rule = rules.find((r) => r.table === table.name && r.column === column.name);
      columns.push({ target: column.name, source: found.name, conversion: rule?.conversion ?? conversionFor(found.declaredType, column.declaredType) });
    }
    for (const column of from.columns) {
      if (used.has(column.name)) continue;
      const values = column.values ?? 0;
      if (dropped.has(column.name)) droppedColumns.push({ table: table.name, column: column.name, values, reason: 'flag' });
      else if (values === 0) droppedColumns.push({ table: table.name, column: column.name, values: 0, reason: 'empty' });
      else if (!renamedAway.has(column.name)) {
        refusals.push(
          `column ${table.name}.${column.name} holds data (${values} of ${from.rows} rows) that the migrations' ${table.name} has no column for: ` +
            `keep it with --rename-column ${table.name}.${column.name}=<column>, or let it go with --drop-column ${table.name}.${column.name}`,
        );
      }
    }
    const key = table.columns.find((c) => c.rowid);
    const match: TablePlan['match'] = table.withoutRowid
      ? { kind: 'none' }
      : key && columns.some((c) => c.target === key.name && c.source !== null)
        ? { kind: 'column', column: key.name }
        : { kind: 'rowid' };
    tables.push({ table: table.name, source: from.name, rows: from.rows, columns, match });
  }

  for (const table of source) {
    if (targetByName.has(table.name) || RUNNER_TABLES.has(table.name)) {
      if (flags.dropTables.includes(table.name) && targetByName.has(table.name)) droppedTables.push({ table: table.name, rows: table.rows, reason: 'flag' });
      continue;
    }
    if (table.name === ALEMBIC_TABLE) droppedTables.push({ table: table.name, rows: table.rows, reason: 'alembic' });
    else if (flags.dropTables.includes(table.name)) droppedTables.push({ table: table.name, rows: table.rows, reason: 'flag' });
    else if (table.rows === 0) droppedTables.push({ table: table.name, rows: 0, reason: 'empty' });
    else refusals.push(`table ${table.name} holds ${table.rows} rows and the migrations have no table ${table.name}: add it to the models and generate a migration first, or let it go with --drop-table ${table.name}`);
  }
  return { tables, droppedColumns, droppedTables, refusals };
}

/** What the SQL of a table's copy needs to know besides its plan. */
export interface CopyContext {
  /** Seconds since the epoch at the start of the adoption: what "expired" is measured against. */
  now: number;
  /** The source table's name as the copy reads it (the original is renamed out of the way). */
  sourceTable: string;
}

/** A source column as an expression of the copy's SELECT. */
const col = (name: string) => `s.${q(name)}`;

/** SQLAlchemy DATETIME text (or seconds already) to seconds; NULL for a value SQLite cannot read as a time. */
function seconds(value: string): string {
  // SQLite's date parser refuses leading spaces: trimmed only when the value as it is does not parse.
  return `(CASE typeof(${value}) WHEN 'integer' THEN ${value} WHEN 'text' THEN coalesce(unixepoch(${value}), unixepoch(trim(${value}))) END)`;
}

/** Text that holds a whole number in decimal (an optional sign, digits only). */
function integerText(value: string): string {
  return `(trim(${value}) GLOB '[0-9]*' AND NOT trim(${value}) GLOB '*[^0-9]*' OR trim(${value}) GLOB '[-+][0-9]*' AND NOT substr(trim(${value}), 2) GLOB '*[^0-9]*')`;
}

/** The SQL expression that gives a mapped column's value from the source row `s`. Pure. */
export function valueSql(mapping: ColumnMapping, plan: TablePlan, ctx: CopyContext, rules: readonly AppColumnRule[]): string {
  if (mapping.source === null || mapping.conversion === null) throw new Error(`${plan.table}.${mapping.target} has no source`);
  const x = col(mapping.source);
  switch (mapping.conversion) {
    case 'copy':
      return x;
    case 'integer':
      return `(CASE WHEN typeof(${x}) = 'integer' THEN ${x} WHEN typeof(${x}) = 'real' AND ${x} = CAST(${x} AS INTEGER) THEN CAST(${x} AS INTEGER) WHEN typeof(${x}) = 'text' AND ${integerText(x)} THEN CAST(trim(${x}) AS INTEGER) END)`;
    case 'real':
      return `(CASE WHEN typeof(${x}) IN ('integer', 'real') THEN CAST(${x} AS REAL) WHEN typeof(${x}) = 'text' AND trim(${x}) GLOB '*[0-9]*' AND NOT trim(${x}) GLOB '*[^0-9.eE+-]*' THEN CAST(trim(${x}) AS REAL) END)`;
    case 'text':
      return `(CASE WHEN typeof(${x}) IN ('integer', 'real', 'text') THEN CAST(${x} AS TEXT) END)`;
    case 'boolean':
      return `(CASE WHEN typeof(${x}) = 'integer' AND ${x} IN (0, 1) THEN ${x} WHEN typeof(${x}) = 'text' AND lower(trim(${x})) IN ('1', 'true', 't', 'yes', 'y') THEN 1 WHEN typeof(${x}) = 'text' AND lower(trim(${x})) IN ('0', 'false', 'f', 'no', 'n') THEN 0 END)`;
    case 'datetime-seconds':
      return seconds(x);
    case 'email':
      // ASCII (as many bytes as characters) needs no Unicode normalisation: SQLite's trim (of the whitespace
      // JavaScript's trim removes in ASCII) and lower do it without a call into JavaScript.
      return `(CASE WHEN typeof(${x}) <> 'text' THEN NULL WHEN octet_length(${x}) <> length(${x}) THEN adopt_email(${x}) ELSE lower(trim(${x}, ' ' || char(9, 10, 11, 12, 13))) END)`;
    case 'reset-token':
    case 'reset-expires': {
      const { token, expires } = resetPair(mapping, plan, rules);
      const pending = `(${token} IS NOT NULL AND ${seconds(expires)} > ${ctx.now})`;
      return mapping.conversion === 'reset-token' ? `(CASE WHEN ${pending} THEN adopt_sha256(${token}) END)` : `(CASE WHEN ${pending} THEN ${seconds(expires)} END)`;
    }
  }
}

/** The source expressions of a reset token and its expiry (either may be missing: then nothing is pending). */
function resetPair(mapping: ColumnMapping, plan: TablePlan, rules: readonly AppColumnRule[]): { token: string; expires: string } {
  const rule = rules.find((r) => r.table === plan.table && r.column === mapping.target);
  const other = plan.columns.find((c) => c.target === rule?.pairedWith);
  const otherSource = other?.source ? col(other.source) : 'NULL';
  return mapping.conversion === 'reset-token' ? { token: col(mapping.source!), expires: otherSource } : { token: otherSource, expires: col(mapping.source!) };
}

/**
 * A predicate on the source row that is true where the value cannot be converted (it would become NULL though
 * it is not). A cleared expired reset token is no such value: its expiry is what must be readable.
 */
export function unconvertibleSql(mapping: ColumnMapping, plan: TablePlan, ctx: CopyContext, rules: readonly AppColumnRule[]): string | null {
  if (mapping.source === null || mapping.conversion === null || mapping.conversion === 'copy') return null;
  const x = col(mapping.source);
  if (mapping.conversion === 'reset-token') return null;
  if (mapping.conversion === 'reset-expires') return `(${x} IS NOT NULL AND ${seconds(x)} IS NULL)`;
  return `(${x} IS NOT NULL AND ${valueSql(mapping, plan, ctx, rules)} IS NULL)`;
}

/** What a conversion expects, for the message that names a value it could not convert. */
export function describeConversion(conversion: Conversion): string {
  switch (conversion) {
    case 'copy':
      return 'the value as it is';
    case 'integer':
      return 'a whole number';
    case 'real':
      return 'a number';
    case 'text':
      return 'text';
    case 'boolean':
      return 'a boolean (0/1, true/false)';
    case 'datetime-seconds':
    case 'reset-expires':
      return 'a date and time (YYYY-MM-DD HH:MM:SS[.ffffff], T or space, a zone or none)';
    case 'email':
      return 'an email as text';
    case 'reset-token':
      return 'a reset token as text';
  }
}

/**
 * The copy of one table: `INSERT INTO t (…) SELECT <converted values> FROM <source> AS s`, with the source's rowid
 * as the target's where no INTEGER PRIMARY KEY column is filled (so each row can be found again). Pure.
 */
export function copySql(plan: TablePlan, ctx: CopyContext, rules: readonly AppColumnRule[]): string | null {
  const mapped = plan.columns.filter((c) => c.source !== null);
  if (plan.source === null || mapped.length === 0) return null;
  const targets = mapped.map((c) => q(c.target));
  const values = mapped.map((c) => valueSql(c, plan, ctx, rules));
  if (plan.match.kind === 'rowid') {
    targets.unshift('rowid');
    values.unshift('s.rowid');
  }
  return `INSERT INTO ${q(plan.table)} (${targets.join(', ')}) SELECT ${values.join(', ')} FROM ${q(ctx.sourceTable)} AS s`;
}

/** Something a conversion changes, counted for the report: a predicate on the source row `s`. */
export interface Effect {
  sql: string;
  note: (count: number) => string;
  /**
   * Counted by a real run too (a cheap predicate). The others (every email converted again, every date's text
   * searched for a fraction) cost a real run a second pass of conversions: only the dry run counts them.
   */
  cheap: boolean;
}

/** What the conversions of a table change that the operator should hear about, as predicates on the source. Pure. */
export function effectsOf(plan: TablePlan, ctx: CopyContext, rules: readonly AppColumnRule[]): Effect[] {
  const effects: Effect[] = [];
  for (const mapping of plan.columns) {
    if (mapping.source === null || mapping.conversion === null) continue;
    const x = col(mapping.source);
    const stored = valueSql(mapping, plan, ctx, rules);
    if (mapping.conversion === 'email') {
      effects.push({ sql: `${x} IS NOT ${stored}`, note: (n) => `${n} email(s) of ${plan.table}.${mapping.target} stored in the query layer's form (NFC, trimmed, lower-cased)`, cheap: false });
    } else if (mapping.conversion === 'reset-token') {
      effects.push({ sql: `${stored} IS NOT NULL`, note: (n) => `${n} pending reset token(s) of ${plan.table} carried over as the layer stores them (SHA-256): the links already mailed still work until they expire`, cheap: true });
      effects.push({ sql: `${x} IS NOT NULL AND ${stored} IS NULL`, note: (n) => `${n} expired reset token(s) of ${plan.table} cleared, with their expiry`, cheap: true });
    } else if (mapping.conversion === 'datetime-seconds') {
      effects.push({
        sql: `typeof(${x}) = 'text' AND ${x} GLOB '*:[0-9][0-9].*[1-9]*'`,
        note: (n) => `${n} value(s) of ${plan.table}.${mapping.target} had fractions of a second, dropped (the column holds seconds)`,
        cheap: false,
      });
    }
  }
  return effects;
}

/**
 * The check of a copy, as two tallies that must agree: one pass over the source (`sourceTallySql`) and one over the
 * copy (`copyTallySql`), both giving `rows` and, for each converted column i, `n<i>`: how many values it holds. In
 * the source that is how many values it must have once converted (every value it holds; for a reset token and its
 * expiry, the pending ones), in the copy how many it has: a value that did not convert (it became NULL) makes them
 * differ. The source's tally also counts in `bad<i>` expiries that do not read as dates (their token would be
 * cleared as if expired), which must be 0, and each effect in `e<i>`. What a stored value is otherwise follows from
 * the copy's SQL: each conversion yields one storage class, the one its target column's affinity keeps, and no
 * trigger exists while the rows go in. Reading every stored value back this way costs two scans, where a
 * row-by-row comparison costs a join and every conversion again (the dry run looks row by row, to name rows). Pure.
 */
export function sourceTallySql(plan: TablePlan, ctx: CopyContext, rules: readonly AppColumnRule[], effects: readonly Effect[]): string | null {
  if (plan.source === null) return null;
  const parts = ['count(*) AS rows'];
  plan.columns.forEach((c, i) => {
    if (c.source === null || c.conversion === null || c.conversion === 'copy') return;
    const x = col(c.source);
    if (c.conversion === 'reset-token' || c.conversion === 'reset-expires') {
      parts.push(`sum(${valueSql(c, plan, ctx, rules)} IS NOT NULL) AS n${i}`);
      if (c.conversion === 'reset-expires') parts.push(`sum(CASE WHEN ${x} IS NOT NULL THEN ${seconds(x)} IS NULL ELSE 0 END) AS bad${i}`);
    } else {
      parts.push(`count(${x}) AS n${i}`);
    }
  });
  effects.forEach((e, i) => parts.push(`sum(CASE WHEN ${e.sql} THEN 1 ELSE 0 END) AS e${i}`));
  return `SELECT ${parts.join(', ')} FROM ${q(ctx.sourceTable)} AS s`;
}

/** The copy's side of the check (see `sourceTallySql`). Pure. */
export function copyTallySql(plan: TablePlan): string {
  const parts = ['count(*) AS rows'];
  plan.columns.forEach((c, i) => {
    if (c.source === null || c.conversion === null || c.conversion === 'copy') return;
    const t = `t.${q(c.target)}`;
    parts.push(`count(${t}) AS n${i}`);
  });
  return `SELECT ${parts.join(', ')} FROM ${q(plan.table)} AS t`;
}
