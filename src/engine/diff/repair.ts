import { matchingParen, parseStatement, plainColumn, splitTopLevel, stripComments, unquoteIdentifier, type ParsedStatement } from '../lint/statements.js';
import type { SqliteSnapshot } from './snapshot.js';

/**
 * Repairs of drizzle-kit 0.31's SQLite defects in a generated migration file (up or down), planned from the
 * file's chunks, facts about the schema the file starts from, and drizzle-kit's own definition of the tables
 * the file must end with. Pure: no database, no files. Each repaired statement carries a `-- repaired:` comment
 * saying what was changed and why, so that a reviewer sees it in the diff.
 */

/** The schema a migration file starts from, as far as the repairs need it. */
export interface SchemaFacts {
  /** Each table's columns in order, and whether its rowid is AUTOINCREMENT (has a `sqlite_sequence` counter). */
  tables: Record<string, { columns: string[]; autoincrement: boolean }>;
  /** Each view's CREATE VIEW text. */
  views: Record<string, string>;
  /** Each trigger's table and CREATE TRIGGER text. */
  triggers: Record<string, { table: string; sql: string }>;
}

/** drizzle-kit's own SQL for a table the file must leave behind: its CREATE TABLE and its CREATE INDEXes. */
export interface TableDefinition {
  createTable: string;
  createIndexes: string[];
}

export interface RepairResult {
  /** The file's chunks (what `--> statement-breakpoint` separates), repaired. */
  chunks: string[];
  /** One line per repair, for the developer's terminal. */
  repairs: string[];
}

/** The prefix of drizzle-kit's rebuild tables. */
const NEW_TABLE_PREFIX = '__new_';

/**
 * Repairs, in order:
 *   1. a column added with `ALTER TABLE … ADD` that SQLite refuses on a table with rows (an expression default,
 *      a STORED generated column), or a column of the target schema the file never adds (drizzle-kit skips a new
 *      STORED generated column): the table is rebuilt from drizzle-kit's own definition of it instead;
 *   2. every table rebuild (drizzle-kit's and those of step 1):
 *      - the `INSERT INTO __new_t (…) SELECT … FROM t` selects only columns `t` has at that point, and inserts no
 *        generated column (new columns take their defaults instead of failing or getting their own name as text);
 *      - views and triggers that name `t` are dropped before the rebuild and created again after it (SQLite
 *        refuses the rename otherwise, and DROP TABLE takes the table's triggers with it);
 *      - an AUTOINCREMENT table's `sqlite_sequence` counter is carried over (the rebuild would reset it to the
 *        highest id present, handing out the ids of deleted rows again).
 */
export function repairMigration(chunks: readonly string[], facts: SchemaFacts, target: Readonly<Record<string, TableDefinition>>): RepairResult {
  const repairs: string[] = [];
  const rebuilt = rebuildRefusedAdditions(chunks, facts, target, repairs);
  const repaired = repairRebuilds(rebuilt, facts, repairs);
  // Empty chunks (a file drizzle-kit wrote with no statement) would leave a breakpoint with nothing before it.
  return { chunks: repairs.length > 0 ? repaired.filter((text) => text.trim() !== '') : [...chunks], repairs };
}

/** A chunk's one statement, parsed; null for a chunk of several statements or none (written by hand). */
function statementOf(chunk: string): ParsedStatement | null {
  const sql = stripComments(chunk).trim();
  if (sql === '' || /;\s*\S/.test(sql.replace(/'(?:[^']|'')*'/g, "''"))) return null;
  return parseStatement({ statement: 0, sql });
}

/** A new chunk in drizzle-kit's layout (statement, newline), with the reason as a comment above it. */
function chunk(sql: string, reason?: string): string {
  const body = sql.trim().endsWith(';') ? sql.trim() : `${sql.trim()};`;
  return reason ? `-- repaired: ${reason}\n${body}\n` : `${body}\n`;
}

const bq = (name: string) => `\`${name.replace(/`/g, '``')}\``;
const dq = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Columns of each table as the chunks change them, starting from `facts` (drizzle-kit's own statement forms:
 * CREATE/DROP/RENAME TABLE, ADD/DROP/RENAME COLUMN).
 */
class LiveColumns {
  private readonly tables = new Map<string, { columns: string[]; generated: string[]; autoincrement: boolean }>();
  constructor(facts: SchemaFacts) {
    for (const [name, table] of Object.entries(facts.tables)) this.tables.set(name, { columns: [...table.columns], generated: [], autoincrement: table.autoincrement });
  }
  get(table: string) {
    return this.tables.get(table);
  }
  apply(statement: ParsedStatement | null, sql: string): void {
    if (!statement) return;
    switch (statement.kind) {
      case 'create-table':
        this.tables.set(statement.table, parseCreateTable(sql));
        break;
      case 'drop-table':
        this.tables.delete(statement.table);
        break;
      case 'rename-table': {
        const table = this.tables.get(statement.table);
        this.tables.delete(statement.table);
        if (table) this.tables.set(statement.to, table);
        break;
      }
      case 'add-column':
        this.tables.get(statement.table)?.columns.push(statement.column);
        break;
      case 'drop-column': {
        const table = this.tables.get(statement.table);
        if (table) table.columns = table.columns.filter((c) => c !== statement.column);
        break;
      }
      case 'rename-column': {
        const table = this.tables.get(statement.table);
        if (table) table.columns = table.columns.map((c) => (c === statement.column ? statement.to : c));
        break;
      }
      default:
        break;
    }
  }
}

/** Column names, generated columns and AUTOINCREMENT of a CREATE TABLE statement. */
export function parseCreateTable(sql: string): { columns: string[]; generated: string[]; autoincrement: boolean } {
  const text = stripComments(sql);
  const open = text.indexOf('(');
  const close = open === -1 ? -1 : matchingParen(text, open);
  const columns: string[] = [];
  const generated: string[] = [];
  if (close === -1) return { columns, generated, autoincrement: false };
  for (const part of splitTopLevel(text.slice(open + 1, close))) {
    if (/^(?:constraint|primary\s+key|unique|check|foreign\s+key)\b/i.test(part)) continue;
    const name = /^("(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]|[^\s]+)/.exec(part)?.[1];
    if (!name) continue;
    const column = unquoteIdentifier(name);
    columns.push(column);
    const definition = part.slice(name.length).replace(/'(?:[^']|'')*'/g, "''");
    if (/\bgenerated\s+always\s+as\b|\bas\s*\(/i.test(definition)) generated.push(column);
  }
  return { columns, generated, autoincrement: /\bautoincrement\b/i.test(text) };
}

/** Why SQLite refuses this `ADD COLUMN` on a table that holds rows, or null when it accepts it. */
function refusedAddition(definition: string): string | null {
  const text = definition.replace(/'(?:[^']|'')*'/g, "''");
  if (/\bstored\s*$/i.test(text) || /\bgenerated\s+always\b[\s\S]*\bstored\b/i.test(text)) return 'SQLite cannot ADD a STORED generated column';
  if (/\bdefault\s*\(/i.test(text)) return 'SQLite cannot ADD a column whose default is an expression to a table with rows';
  if (/\bdefault\s+current_(?:time|date|timestamp)\b/i.test(text)) return 'SQLite cannot ADD a column defaulting to CURRENT_TIME/DATE/TIMESTAMP to a table with rows';
  return null;
}

/** Step 1: replaces the additions SQLite refuses, and the columns drizzle-kit skipped, by a rebuild of the table. */
function rebuildRefusedAdditions(chunks: readonly string[], facts: SchemaFacts, target: Readonly<Record<string, TableDefinition>>, repairs: string[]): string[] {
  const live = new LiveColumns(facts);
  const reasons = new Map<string, string[]>();
  const note = (table: string, reason: string) => reasons.set(table, [...(reasons.get(table) ?? []), reason]);
  const addedHere = new Map<string, string[]>();
  for (const text of chunks) {
    const statement = statementOf(text);
    if (statement?.kind === 'add-column') {
      addedHere.set(statement.table, [...(addedHere.get(statement.table) ?? []), statement.column]);
      const refused = refusedAddition(statement.definition);
      if (refused) note(statement.table, `${refused} (${statement.column})`);
    }
    live.apply(statement, stripComments(text));
  }
  for (const [table, definition] of Object.entries(target)) {
    const now = live.get(table);
    if (!now) continue;
    const missing = parseCreateTable(definition.createTable).columns.filter((c) => !now.columns.includes(c));
    if (missing.length > 0) note(table, `drizzle-kit wrote no statement adding ${missing.join(', ')} (it skips a new STORED generated column)`);
  }
  if (reasons.size === 0) return [...chunks];

  let result = [...chunks];
  for (const [table, why] of reasons) {
    const definition = target[table];
    if (!definition) continue; // not a table the file must leave behind: nothing to rebuild it from
    // The rebuild creates every column and index of the table: drop the file's own additions to it.
    const rebuiltIndexes = new Set(definition.createIndexes.map((sql) => statementOf(sql)).map((s) => (s?.kind === 'create-index' ? s.index : '')));
    result = result.filter((text) => {
      const statement = statementOf(text);
      if (statement?.kind === 'add-column') return statement.table !== table;
      if (statement?.kind === 'create-index') return !(statement.table === table && rebuiltIndexes.has(statement.index));
      return true;
    });
    const created = parseCreateTable(definition.createTable);
    // The columns the table has when the rebuild runs: what it had, without the additions just removed.
    const existing = (live.get(table)?.columns ?? []).filter((c) => !(addedHere.get(table) ?? []).includes(c));
    const insertable = created.columns.filter((c) => !created.generated.includes(c) && existing.includes(c));
    const newTable = `${NEW_TABLE_PREFIX}${table}`;
    const reason = `${why.join('; ')}: rebuilt from drizzle-kit's definition of ${table} instead`;
    result.push(
      chunk('PRAGMA foreign_keys=OFF', reason),
      chunk(renameCreatedTable(definition.createTable, table, newTable)),
      chunk(`INSERT INTO ${bq(newTable)}(${insertable.map(dq).join(', ')}) SELECT ${insertable.map(dq).join(', ')} FROM ${bq(table)}`),
      chunk(`DROP TABLE ${bq(table)}`),
      chunk(`ALTER TABLE ${bq(newTable)} RENAME TO ${bq(table)}`),
      chunk('PRAGMA foreign_keys=ON'),
      ...definition.createIndexes.map((sql) => chunk(sql)),
    );
    repairs.push(`${table}: ${reason}`);
  }
  return result;
}

/** `CREATE TABLE \`t\` (…)` → `CREATE TABLE \`__new_t\` (…)`. */
export function renameCreatedTable(createTable: string, table: string, newTable: string): string {
  const head = /^\s*create\s+table\s+(?:if\s+not\s+exists\s+)?("(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]|[^\s(]+)/i.exec(createTable);
  if (!head || unquoteIdentifier(head[1]!) !== table) throw new Error(`not the CREATE TABLE of ${table}: ${createTable.slice(0, 60)}`);
  return `CREATE TABLE ${bq(newTable)}${createTable.slice(head[0].length)}`;
}

/** Whether SQL text names `name` as an identifier (quoted or not). */
function mentions(sql: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(String.raw`(^|[^\w$])["\x60\[]?${escaped}["\x60\]]?($|[^\w$])`, 'i').test(stripComments(sql));
}

/** Step 2: makes every `__new_t` rebuild keep its rows, its dependants and its AUTOINCREMENT counter. */
function repairRebuilds(chunks: readonly string[], facts: SchemaFacts, repairs: string[]): string[] {
  const live = new LiveColumns(facts);
  const views = new Map(Object.entries(facts.views));
  const triggers = new Map(Object.entries(facts.triggers));
  /** Views and triggers dropped around the rebuild of each table, to create again after its rename. */
  const pending = new Map<string, { name: string; kind: 'view' | 'trigger'; sql: string }[]>();
  const result: string[] = [];

  for (const text of chunks) {
    const statement = statementOf(text);
    const sql = stripComments(text).trim();
    const rebuiltTable = statement?.kind === 'create-table' && statement.table.startsWith(NEW_TABLE_PREFIX) ? statement.table.slice(NEW_TABLE_PREFIX.length) : null;

    if (rebuiltTable && live.get(rebuiltTable)) {
      const dependants = dependantsOf(rebuiltTable, views, triggers);
      if (dependants.length > 0) {
        const names = dependants.map((d) => `${d.kind} ${d.name}`).join(', ');
        const why = [
          dependants.some((d) => d.kind === 'view') ? 'SQLite refuses the rename while a view names the dropped table' : '',
          dependants.some((d) => d.kind === 'trigger') ? 'DROP TABLE takes its triggers with it' : '',
        ].filter(Boolean).join(', and ');
        const reason = `${names} ${dependants.length === 1 ? 'names' : 'name'} ${rebuiltTable}: dropped before its rebuild and created again after it (${why})`;
        // Dropped dependants-last-first, created again in the order found (a view before the views that read it).
        [...dependants].reverse().forEach((d, i) => result.push(chunk(`DROP ${d.kind.toUpperCase()} IF EXISTS ${bq(d.name)}`, i === 0 ? reason : undefined)));
        pending.set(rebuiltTable, dependants);
        repairs.push(`${rebuiltTable}: ${reason}`);
      }
    }

    if (statement?.kind === 'insert-select' && statement.table.startsWith(NEW_TABLE_PREFIX) && statement.columns.length === statement.selected.length) {
      const table = statement.from;
      const old = live.get(table);
      const created = live.get(statement.table);
      const generated = created?.generated ?? [];
      if (old) {
        // A selected expression (not a plain column name) is the developer's: it stays.
        const keep = statement.columns
          .map((column, i) => ({ column, selected: statement.selected[i]! }))
          .filter(({ column, selected }) => {
            if (generated.includes(column)) return false;
            const source = plainColumn(selected);
            return source === null || old.columns.includes(source);
          });
        if (keep.length < statement.columns.length) {
          const left = statement.columns.filter((c) => !keep.some((k) => k.column === c));
          const newColumns = left.filter((c) => !generated.includes(c));
          const why = [
            newColumns.length > 0 ? `${newColumns.length === 1 ? 'it is a new column' : 'they are new columns'} ${table} does not have yet (upstream drizzle-orm #5822): left out, existing rows take the default` : '',
            left.some((c) => generated.includes(c)) ? `${left.filter((c) => generated.includes(c)).join(', ')} generated: SQLite computes ${left.length === 1 ? 'it' : 'them'}` : '',
          ].filter(Boolean).join('; ');
          const reason = `drizzle-kit's rebuild copied ${left.join(', ')} from ${table}; ${why}`;
          result.push(chunk(`INSERT INTO ${bq(statement.table)}(${keep.map((k) => dq(k.column)).join(', ')}) SELECT ${keep.map((k) => k.selected).join(', ')} FROM ${bq(table)}`, reason));
          repairs.push(`${table}: ${reason}`);
        } else result.push(text);
        if (old.autoincrement && created?.autoincrement) {
          const reason = `carries ${table}'s AUTOINCREMENT counter over the rebuild (it would restart at the highest id present and reuse the ids of deleted rows)`;
          const seq = `(SELECT seq FROM sqlite_sequence WHERE name = '${table.replace(/'/g, "''")}')`;
          const newName = `'${statement.table.replace(/'/g, "''")}'`;
          result.push(
            chunk(`INSERT INTO sqlite_sequence(name, seq) SELECT ${newName}, 0 WHERE ${seq} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ${newName})`, reason),
            chunk(`UPDATE sqlite_sequence SET seq = max(seq, ${seq}) WHERE name = ${newName} AND ${seq} IS NOT NULL`),
          );
          repairs.push(`${table}: ${reason}`);
        }
        live.apply(statement, sql);
        continue;
      }
    }

    result.push(text);
    live.apply(statement, sql);
    if (statement?.kind === 'create-view') views.set(statement.view, sql);
    if (statement?.kind === 'drop-view') views.delete(statement.view);
    if (statement?.kind === 'create-trigger') triggers.set(statement.trigger, { table: statement.table, sql });
    if (statement?.kind === 'drop-trigger') triggers.delete(statement.trigger);
    if (statement?.kind === 'drop-table') for (const [name, t] of triggers) if (t.table === statement.table) triggers.delete(name);
    if (statement?.kind === 'rename-table' && statement.table.startsWith(NEW_TABLE_PREFIX)) {
      for (const d of pending.get(statement.to) ?? []) {
        result.push(chunk(d.sql));
        if (d.kind === 'view') views.set(d.name, d.sql);
        else triggers.set(d.name, { table: statement.to, sql: d.sql });
      }
      pending.delete(statement.to);
    }
  }
  return result;
}

/** Views that read `table`, directly or through other such views, then the triggers on or naming any of them. */
function dependantsOf(
  table: string,
  views: ReadonlyMap<string, string>,
  triggers: ReadonlyMap<string, { table: string; sql: string }>,
): { name: string; kind: 'view' | 'trigger'; sql: string }[] {
  const names = [table];
  const found: { name: string; kind: 'view' | 'trigger'; sql: string }[] = [];
  for (let i = 0; i < names.length; i++) {
    for (const [name, sql] of views) {
      if (!names.includes(name) && mentions(sql, names[i]!)) {
        names.push(name);
        found.push({ name, kind: 'view', sql });
      }
    }
  }
  for (const [name, trigger] of triggers) {
    if (names.includes(trigger.table) || names.some((n) => mentions(trigger.sql, n))) found.push({ name, kind: 'trigger', sql: trigger.sql });
  }
  return found;
}

/**
 * A down file's CREATE INDEX of an index the database held before the up, written as the database held it
 * (`indexes`: name to `sqlite_schema.sql`). drizzle-kit writes an expression index's expression as a quoted
 * column name (`lower(email)` in backticks), which SQLite refuses, and a hand edit of the up may have changed an
 * index the snapshots do not show. Texts that differ only in spacing or in the quoting of plain names are left.
 */
export function restoreIndexDefinitions(chunks: readonly string[], indexes: Readonly<Record<string, string>>): RepairResult {
  const repairs: string[] = [];
  const repaired = chunks.map((text) => {
    const statement = statementOf(text);
    if (statement?.kind !== 'create-index' || !Object.hasOwn(indexes, statement.index)) return text;
    const held = indexes[statement.index]!;
    if (comparableSql(held) === comparableSql(stripComments(text))) return text;
    const reason = `index ${statement.index} on ${statement.table} created as the database held it before the up (drizzle-kit's text differs: an expression quoted as a column, or a hand-edited up)`;
    repairs.push(reason);
    return chunk(held, reason);
  });
  return { chunks: repairs.length > 0 ? repaired : [...chunks], repairs };
}

/** Spacing, case, a final semicolon and the quotes around plain names removed; a quoted expression stays quoted. */
function comparableSql(sql: string): string {
  return sql
    .replace(/`(\w+)`|"(\w+)"|\[(\w+)\]/g, '$1$2$3')
    .replace(/\s+/g, ' ')
    .replace(/\s*;\s*$/, '')
    .trim()
    .toLowerCase();
}

/**
 * A down file's table rebuild (`CREATE TABLE __new_t`) of a table the database held before the up, with the
 * CREATE TABLE text the database held (`tables`: name to `sqlite_schema.sql`), where both name the same columns
 * in the same order: the snapshots can differ from the database where an up was edited by hand (SQLite refuses
 * `ADD` with an expression default, so people add the column plain), and the down must give back the table as it
 * was, not as the snapshot says it was. Other differences are left to the down's check to report.
 */
export function restoreTableDefinitions(chunks: readonly string[], tables: Readonly<Record<string, string>>): RepairResult {
  const repairs: string[] = [];
  const repaired = chunks.map((text) => {
    const statement = statementOf(text);
    if (statement?.kind !== 'create-table' || !statement.table.startsWith(NEW_TABLE_PREFIX)) return text;
    const table = statement.table.slice(NEW_TABLE_PREFIX.length);
    if (!Object.hasOwn(tables, table)) return text;
    const held = tables[table]!;
    const written = stripComments(text).trim();
    if (parseCreateTable(held).columns.join('\0') !== parseCreateTable(written).columns.join('\0')) return text;
    const asHeld = renameCreatedTable(held, table, statement.table);
    if (comparableSql(asHeld) === comparableSql(written)) return text;
    const reason = `table ${table} rebuilt as the database held it before the up (the snapshot's definition differs: a hand-edited migration)`;
    repairs.push(reason);
    return chunk(asHeld, reason);
  });
  return { chunks: repairs.length > 0 ? repaired : [...chunks], repairs };
}

/**
 * drizzle-kit's CREATE INDEX statements for indexes on expressions, written again from the snapshot: drizzle-kit
 * 0.31 squashes an index's columns into one comma-separated string and splits it again, so an expression with a
 * comma (`date(at, 'unixepoch')`) becomes two "columns", and it quotes an expression as a column name wherever it
 * has no `internal` entry for it (`lower(email)` in backticks in a table rebuild). An index part is an expression
 * when the snapshot says so or when it is not a column of the table. Statements of other indexes are kept as
 * drizzle-kit wrote them. Pure.
 */
export function withExpressionIndexes(statements: readonly string[], snapshot: SqliteSnapshot): string[] {
  const internal = snapshot.internal as { indexes?: Record<string, { columns?: Record<string, { isExpression?: boolean }> } | undefined> } | undefined;
  const indexes = new Map<string, { table: string; columns: string[]; isUnique: boolean; where?: string; expression: (part: string) => boolean }>();
  for (const table of Object.values(snapshot.tables)) {
    for (const index of Object.values(table.indexes)) {
      const expression = (part: string) => internal?.indexes?.[index.name]?.columns?.[part]?.isExpression === true || !Object.hasOwn(table.columns, part);
      if (index.columns.some(expression)) indexes.set(index.name, { table: table.name, ...index, expression });
    }
  }
  if (indexes.size === 0) return [...statements];
  return statements.map((sql) => {
    const statement = parseStatement({ statement: 0, sql });
    const index = statement.kind === 'create-index' ? indexes.get(statement.index) : undefined;
    if (!index || statement.kind !== 'create-index' || statement.table !== index.table) return sql;
    const parts = index.columns.map((part) => (index.expression(part) ? part : bq(part))).join(',');
    return `CREATE ${index.isUnique ? 'UNIQUE ' : ''}INDEX ${bq(statement.index)} ON ${bq(index.table)} (${parts})${index.where ? ` WHERE ${index.where}` : ''};`;
  });
}
