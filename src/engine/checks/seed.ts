import type { Queryable } from '../../db/driver.js';
import type { NormalizedSchema } from '../diff/introspect.js';
import type { SqliteSnapshot } from '../diff/snapshot.js';
import { affinityOf } from '../affinity.js';
import { assertNever } from '../errors.js';
import { quoteIdentifier as q } from '../lint/statements.js';

/** Hands out numbers no generated value has used yet, so every generated value is unique. */
export class Counter {
  private value = 0;
  next(): number {
    return ++this.value;
  }
}

interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  pk: number;
  hidden: number;
}

/** A foreign key as seeding follows it. */
export interface SeedForeignKey {
  parent: string;
  from: string[];
  /** Referenced columns (the parent's primary key when the constraint names none). */
  to: string[];
}

/**
 * Tops every table up to `count` generated rows, parents before children (following the table's foreign keys
 * and the `plannedKeys` a migration is about to add), with values that fit: each value
 * of the column's type affinity, unique across the whole run (so UNIQUE and PRIMARY KEY hold), never NULL,
 * and foreign keys pointing at existing parent rows (a self-reference points at its own row). Runs with
 * foreign keys off, then drops the rows `PRAGMA foreign_key_check` still finds (a cycle of NOT NULL keys).
 * Returns warnings for the tables it could not fill (e.g. a CHECK constraint the values do not meet).
 */
export async function seedRows(
  db: Queryable,
  schema: NormalizedSchema,
  count: number,
  counter: Counter,
  plannedKeys: Readonly<Record<string, SeedForeignKey[]>> = {},
  filled: Set<string> = new Set(),
): Promise<string[]> {
  const warnings: string[] = [];
  // A table that already holds enough rows (from the steps before) is left as it is: rows would pile up otherwise,
  // and every later step would read and compare them all. Only the tables to fill, and their parents, are examined;
  // the tables `filled` names (the caller knows their rows did not change since) are not even counted.
  const present = new Map<string, number>();
  for (const table of Object.keys(schema.tables)) {
    if (filled.has(table)) continue;
    const [{ n } = { n: 0 }] = await db.all<{ n: number }>(`SELECT count(*) AS n FROM ${q(table)}`);
    present.set(table, n);
    if (n >= count) filled.add(table);
  }
  const tables = [...present].filter(([, n]) => n < count).map(([table]) => table);
  if (tables.length === 0) return warnings;
  const info = new Map<string, { columns: ColumnInfo[]; foreignKeys: SeedForeignKey[] }>();
  const load = async (table: string) => {
    if (!info.has(table) && Object.hasOwn(schema.tables, table)) info.set(table, { columns: await columnsOf(db, table), foreignKeys: [] });
  };
  for (const table of tables) {
    await load(table);
    for (const { parent } of await db.all<{ parent: string }>('SELECT DISTINCT "table" AS parent FROM pragma_foreign_key_list(?)', [table])) await load(parent);
    for (const fk of plannedKeys[table] ?? []) await load(fk.parent);
  }
  for (const table of tables) {
    // Keys the next migration adds are followed too: rows that break them would fail it for no fault of its own.
    const has = (t: string, columns: string[]) => columns.every((c) => info.get(t)?.columns.some((x) => x.name === c));
    const planned = (plannedKeys[table] ?? []).filter((fk) => has(table, fk.from) && has(fk.parent, fk.to));
    info.get(table)!.foreignKeys = [...(await foreignKeysOf(db, table, info)), ...planned];
  }

  const [{ foreign_keys: enforced } = { foreign_keys: 0 }] = await db.all<{ foreign_keys: number }>('PRAGMA foreign_keys');
  await db.exec('PRAGMA foreign_keys = OFF');
  try {
    for (const table of parentsFirst(tables, info)) {
      const missing = count - present.get(table)!;
      const { columns, foreignKeys } = info.get(table)!;
      const insertable = columns.filter((c) => c.hidden === 0);
      const parentRows = new Map<SeedForeignKey, Record<string, unknown>[]>();
      for (const fk of foreignKeys) if (fk.parent !== table) parentRows.set(fk, await unreferencedParents(db, table, fk));
      for (let i = 0; i < missing; i++) {
        const row: Record<string, unknown> = {};
        for (const column of insertable) row[column.name] = valueFor(column.type, counter.next());
        let fits = true;
        for (const fk of foreignKeys) {
          const candidates = fk.parent === table ? [row] : parentRows.get(fk)!;
          const parent = candidates.length > 0 ? candidates[i % candidates.length]! : null;
          fk.from.forEach((column, k) => {
            const type = insertable.find((x) => x.name === column)?.type ?? '';
            row[column] = parent ? keyValueFor(type, parent[fk.to[k]!] ?? null) : null;
          });
          if (!parent && fk.from.some((c) => insertable.find((x) => x.name === c)?.notNull)) fits = false;
        }
        if (!fits) {
          warnings.push(`no rows generated for ${table}: its NOT NULL foreign key has no parent row to point at`);
          break;
        }
        const names = insertable.map((c) => c.name);
        try {
          await db.run(`INSERT INTO ${q(table)} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`, names.map((n) => row[n]));
        } catch (error) {
          warnings.push(`no rows generated for ${table}: ${(error as Error).message}`);
          break;
        }
      }
    }
    const violations = await db.all<{ table: string; rowid: number | null }>('PRAGMA foreign_key_check');
    for (const v of violations) {
      if (v.rowid !== null) await db.run(`DELETE FROM ${q(v.table)} WHERE rowid = ?`, [v.rowid]);
    }
    if (violations.length > 0) warnings.push(`${violations.length} generated row(s) removed again: their foreign keys found no parent`);
  } finally {
    await db.exec(`PRAGMA foreign_keys = ${enforced ? 'ON' : 'OFF'}`);
  }
  return warnings;
}

/** The foreign keys of every table of a drizzle-kit snapshot (the schema after a migration), for `plannedKeys`. */
export function snapshotForeignKeys(snapshot: SqliteSnapshot): Record<string, SeedForeignKey[]> {
  return Object.fromEntries(
    Object.entries(snapshot.tables).map(([name, table]) => [
      name,
      Object.values(table.foreignKeys).map((fk) => ({ parent: fk.tableTo, from: fk.columnsFrom, to: fk.columnsTo })),
    ]),
  );
}

async function columnsOf(db: Queryable, table: string): Promise<ColumnInfo[]> {
  const rows = await db.all<{ name: string; type: string; notnull: number; pk: number; hidden: number }>(
    'SELECT name, type, "notnull", pk, hidden FROM pragma_table_xinfo(?)',
    [table],
  );
  return rows.map((r) => ({ name: r.name, type: r.type, notNull: r.notnull === 1, pk: r.pk, hidden: r.hidden }));
}

async function foreignKeysOf(db: Queryable, table: string, info: Map<string, { columns: ColumnInfo[] }>): Promise<SeedForeignKey[]> {
  const rows = await db.all<{ id: number; table: string; from: string; to: string | null }>(
    'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
    [table],
  );
  const byId = new Map<number, typeof rows>();
  for (const row of rows) byId.set(row.id, [...(byId.get(row.id) ?? []), row]);
  const keys: SeedForeignKey[] = [];
  for (const group of byId.values()) {
    const parent = group[0]!.table;
    const parentColumns = info.get(parent)?.columns;
    if (!parentColumns) continue; // a parent that does not exist: nothing to point at, SQLite reports it itself
    const primaryKey = parentColumns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    const to = group.map((r, k) => r.to ?? primaryKey[k] ?? 'rowid');
    keys.push({ parent, from: group.map((r) => r.from), to });
  }
  return keys;
}

/** Parents before children (self-references and cycles do not order anything; cycles keep name order). */
function parentsFirst(tables: string[], info: Map<string, { foreignKeys: SeedForeignKey[] }>): string[] {
  const ordered: string[] = [];
  const remaining = new Set(tables);
  while (remaining.size > 0) {
    const ready = [...remaining].filter((t) => info.get(t)!.foreignKeys.every((fk) => fk.parent === t || !remaining.has(fk.parent)));
    const next = ready.length > 0 ? ready : [[...remaining].sort()[0]!];
    for (const t of next) {
      ordered.push(t);
      remaining.delete(t);
    }
  }
  return ordered;
}

/** Parent rows no row of the child points at yet first (so a UNIQUE foreign key gets distinct parents), then the others. */
async function unreferencedParents(db: Queryable, child: string, fk: SeedForeignKey): Promise<Record<string, unknown>[]> {
  const select = fk.to.map((c) => `p.${q(c)} AS ${q(c)}`).join(', ');
  const join = fk.from.map((c, k) => `c.${q(c)} = p.${q(fk.to[k]!)}`).join(' AND ');
  try {
    const fresh = await db.all<Record<string, unknown>>(`SELECT ${select} FROM ${q(fk.parent)} AS p WHERE NOT EXISTS (SELECT 1 FROM ${q(child)} AS c WHERE ${join})`);
    if (fresh.length > 0) return fresh;
    return await db.all<Record<string, unknown>>(`SELECT ${select} FROM ${q(fk.parent)} AS p`);
  } catch {
    return [];
  }
}

/**
 * A value of the column's type affinity, distinct for each `n`, that every later change of affinity keeps as the
 * same text (which is how the stairway compares rows): text that no affinity takes for a number, integers, reals
 * with a fraction (an integral real would be written '7.0' by a TEXT column and '7' once it came back through an
 * INTEGER one), blobs (never converted). A column without a type gets text, as an app would store there.
 */
export function valueFor(declaredType: string, n: number): unknown {
  if (declaredType.trim().toUpperCase() === 'ANY') return `value ${n}`; // a STRICT table's ANY keeps whatever it is given
  const affinity = affinityOf(declaredType);
  switch (affinity) {
    case 'INTEGER':
    case 'NUMERIC':
      return n;
    case 'TEXT':
      return `value ${n}`;
    case 'BLOB':
      return declaredType.trim() === '' ? `value ${n}` : Buffer.from(`value ${n}`);
    case 'REAL':
      return n + 0.5;
    default:
      return assertNever(affinity);
  }
}

/**
 * A parent's key value as the child's column should hold it: what an app writing the same key there would store,
 * and what survives any later change of the column's affinity unchanged. The value read back from the parent is a JS
 * number even when SQLite holds an integer, and a JS number is bound as a REAL: an integer key 13 bound into a TEXT
 * column is stored as '13.0', which a rebuild to INTEGER makes 13 and a rebuild back to TEXT makes '13', and the
 * row no longer compares equal. So integers go in as integers (BigInt, bound as INTEGER), and as their decimal text
 * into a TEXT column, which is also how SQLite converts an INTEGER to TEXT.
 */
export function keyValueFor(declaredType: string, value: unknown): unknown {
  if (typeof value !== 'number' && typeof value !== 'bigint') return value; // text, blob and NULL keep their storage class
  const integral = typeof value === 'bigint' || Number.isSafeInteger(value);
  const affinity = affinityOf(declaredType);
  switch (affinity) {
    case 'TEXT':
      return String(value);
    case 'REAL':
      return Number(value);
    case 'INTEGER':
    case 'NUMERIC':
    case 'BLOB':
      return integral ? BigInt(value) : value;
    default:
      return assertNever(affinity);
  }
}
