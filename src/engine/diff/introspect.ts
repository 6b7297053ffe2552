import type { Queryable } from '../../db/driver.js';
import { LOCK_TABLE, MIGRATIONS_TABLE } from '../../config.js';

/**
 * A database's schema as normalized rows from SQLite's pragmas, so that two schemas compare
 * equal when they are the same structure, whatever the whitespace or quoting of their SQL.
 */
export interface NormalizedSchema {
  tables: Record<string, TableShape>;
  views: Record<string, string>;
  triggers: Record<string, string>;
}

export interface TableShape {
  columns: Record<string, ColumnShape>;
  /** Keyed by name for CREATE INDEX indexes, by kind and columns for SQLite's automatic ones. */
  indexes: Record<string, IndexShape>;
  foreignKeys: string[];
  checks: string[];
  autoincrement: boolean;
  withoutRowid: boolean;
  strict: boolean;
}

export interface ColumnShape {
  type: string;
  notNull: boolean;
  default: string | null;
  /** 1-based position in the primary key, 0 when not part of it. */
  primaryKey: number;
  /** 0 normal, 2 virtual generated, 3 stored generated (pragma_table_xinfo's `hidden`). */
  hidden: number;
}

export interface IndexShape {
  unique: boolean;
  columns: string[];
  /** Normalized CREATE INDEX text for indexes written by hand or by drizzle-kit (covers WHERE and expressions). */
  definition: string | null;
}

/** Tables that belong to migration tools, not to the app's schema. */
export const BOOKKEEPING_TABLES: ReadonlySet<string> = new Set([MIGRATIONS_TABLE, LOCK_TABLE, 'alembic_version']);

/** Collapses whitespace, drops identifier quotes and lower-cases, so formatting differences do not count. */
export function normalizeSql(sql: string): string {
  return sql
    .replace(/["`[\]]/g, '')
    .replace(/\s+/g, ' ')
    .replace(/\s*([(),=<>])\s*/g, '$1')
    .trim()
    .toLowerCase();
}

interface MasterRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

/** Table shapes by connection, keyed by the SQL they follow from; shared, so never modified by a caller. */
const shapeCache = new WeakMap<Queryable, Map<string, TableShape>>();
/** Whole schemas by connection, keyed by the text of its sqlite_master; frozen, as they are shared. */
const schemaCache = new WeakMap<Queryable, Map<string, NormalizedSchema>>();
/** The stairway goes back and forth between two schemas; a few more cover generate's trial. */
const CACHED_SCHEMAS = 8;

/**
 * The schema of `db` as normalized rows. sqlite_master is read as one JSON value: making a JavaScript object of
 * each row was most of the cost of a read, and the same text is the same schema, so a schema seen before on this
 * connection is handed out again (the stairway reads the schema three times per migration, and two of those give
 * a schema it has just seen).
 */
export async function introspect(db: Queryable): Promise<NormalizedSchema> {
  const [{ objects: json } = { objects: '[]' }] = await db.all<{ objects: string }>(
    `SELECT json_group_array(json_array(type, name, tbl_name, sql)) AS objects
       FROM (SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name)`,
  );
  let schemas = schemaCache.get(db);
  if (!schemas) schemaCache.set(db, (schemas = new Map()));
  const seen = schemas.get(json);
  if (seen) return seen;
  const objects = (JSON.parse(json) as [string, string, string, string | null][]).map(([type, name, tbl_name, sql]): MasterRow => ({ type, name, tbl_name, sql }));
  const schema: NormalizedSchema = { tables: {}, views: {}, triggers: {} };
  // A table's shape follows from its SQL and its indexes' SQL: reused while those are unchanged.
  let shapes = shapeCache.get(db);
  if (!shapes) shapeCache.set(db, (shapes = new Map()));
  const indexSql = new Map<string, string[]>();
  for (const object of objects) if (object.type === 'index') indexSql.set(object.tbl_name, [...(indexSql.get(object.tbl_name) ?? []), `${object.name}\u0000${object.sql ?? ''}`]);
  for (const object of objects) {
    if (BOOKKEEPING_TABLES.has(object.tbl_name)) continue;
    if (object.type === 'table') {
      const key = [object.name, object.sql ?? '', ...(indexSql.get(object.name) ?? [])].join('\u0001');
      let shape = shapes.get(key);
      if (!shape) shapes.set(key, (shape = await tableShape(db, object)));
      schema.tables[object.name] = shape;
    }
    else if (object.type === 'view') schema.views[object.name] = normalizeSql(object.sql ?? '');
    else if (object.type === 'trigger') schema.triggers[object.name] = normalizeSql(object.sql ?? '');
  }
  for (const part of [schema.tables, schema.views, schema.triggers, schema]) Object.freeze(part);
  if (schemas.size >= CACHED_SCHEMAS) schemas.delete(schemas.keys().next().value!);
  schemas.set(json, schema);
  return schema;
}

async function tableShape(db: Queryable, table: MasterRow): Promise<TableShape> {
  const sql = table.sql ?? '';
  const columns: Record<string, ColumnShape> = {};
  const columnRows = await db.all<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number; hidden: number }>(
    'SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?)',
    [table.name],
  );
  for (const c of columnRows) {
    columns[c.name] = {
      type: c.type.toUpperCase(),
      notNull: c.notnull === 1,
      default: c.dflt_value === null ? null : normalizeSql(c.dflt_value),
      primaryKey: c.pk,
      hidden: c.hidden,
    };
  }

  const indexes: Record<string, IndexShape> = {};
  const indexRows = await db.all<{ name: string; unique: number; origin: string }>(
    'SELECT name, "unique", origin FROM pragma_index_list(?)',
    [table.name],
  );
  for (const index of indexRows) {
    const keyColumns = await db.all<{ name: string | null; desc: number; coll: string }>(
      'SELECT name, "desc", coll FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno',
      [index.name],
    );
    const columnsOfIndex = keyColumns.map((c) => `${c.name ?? '<expr>'}${c.desc ? ' desc' : ''}${c.coll !== 'BINARY' ? ` collate ${c.coll}` : ''}`);
    const unique = index.unique === 1;
    if (index.origin === 'c') {
      const [definition] = await db.all<{ sql: string | null }>("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", [index.name]);
      indexes[index.name] = { unique, columns: columnsOfIndex, definition: definition?.sql ? normalizeSql(definition.sql) : null };
    } else {
      // Automatic indexes (UNIQUE / PRIMARY KEY constraints) get names from their position in the table's SQL.
      indexes[`${index.origin === 'pk' ? 'primary key' : 'unique'}(${columnsOfIndex.join(',')})`] = { unique, columns: columnsOfIndex, definition: null };
    }
  }

  const fkRows = await db.all<{ id: number; seq: number; table: string; from: string; to: string | null; on_update: string; on_delete: string; match: string }>(
    'SELECT id, seq, "table", "from", "to", on_update, on_delete, "match" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
    [table.name],
  );
  const byId = new Map<number, typeof fkRows>();
  for (const row of fkRows) byId.set(row.id, [...(byId.get(row.id) ?? []), row]);
  const foreignKeys = [...byId.values()]
    .map((rows) => {
      const first = rows[0]!;
      const from = rows.map((r) => r.from).join(',');
      const to = rows.map((r) => r.to ?? '<pk>').join(',');
      return `(${from}) references ${first.table}(${to}) on update ${first.on_update.toLowerCase()} on delete ${first.on_delete.toLowerCase()}`;
    })
    .sort();

  return {
    columns,
    indexes,
    foreignKeys,
    checks: extractChecks(sql),
    autoincrement: /\bautoincrement\b/i.test(sql),
    withoutRowid: /\bwithout\s+rowid\b/i.test(sql),
    strict: /\)\s*(?:without\s+rowid\s*,\s*)?strict\b/i.test(sql),
  };
}

/** CHECK constraints only exist in the table's SQL: pull out each `CHECK(...)` with balanced parentheses. */
export function extractChecks(sql: string): string[] {
  const checks: string[] = [];
  const pattern = /\bcheck\s*\(/gi;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(sql)) !== null) {
    let depth = 1;
    let i = match.index + match[0].length;
    let quote: string | null = null;
    for (; i < sql.length && depth > 0; i++) {
      const ch = sql[i]!;
      if (quote) {
        if (ch === quote) quote = null;
      } else if (ch === "'" || ch === '"' || ch === '`') quote = ch;
      else if (ch === '(') depth++;
      else if (ch === ')') depth--;
    }
    checks.push(normalizeSql(sql.slice(match.index + match[0].length, i - 1)));
    pattern.lastIndex = i;
  }
  return checks.sort();
}
