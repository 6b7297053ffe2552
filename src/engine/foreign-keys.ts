import type { Queryable } from '../db/driver.js';
import { quoteIdentifier as q } from './lint/statements.js';

/** One row of `PRAGMA foreign_key_check`. */
export interface ForeignKeyViolation {
  table: string;
  rowid: number | null;
  parent: string;
}

interface KeyColumn {
  child: string;
  id: number;
  parent: string;
  from: string;
  to: string | null;
}

/**
 * The rows that violate a foreign key, as `PRAGMA foreign_key_check` reports them, found quickly when there are
 * none (the common case, checked before every commit). The pragma walks every child row in rowid order and looks
 * its parent up at random: 4 s for 1,000,000 children of a rebuilt parent here. One `NOT EXISTS` query per key
 * answers "is there any?" in a fraction of that; only when one finds a row does the pragma run, to report them.
 */
export async function findForeignKeyViolations(db: Queryable): Promise<ForeignKeyViolation[]> {
  const columns = await db.all<KeyColumn>(
    `SELECT m.name AS child, f.id AS id, f."table" AS parent, f."from" AS "from", f."to" AS "to"
       FROM sqlite_schema AS m JOIN pragma_foreign_key_list(m.name) AS f
      WHERE m.type = 'table' ORDER BY m.name, f.id, f.seq`,
  );
  if (columns.length === 0) return [];
  const keys = new Map<string, KeyColumn[]>();
  for (const column of columns) {
    const id = `${column.child}\u0000${column.id}`;
    keys.set(id, [...(keys.get(id) ?? []), column]);
  }
  for (const key of keys.values()) {
    if (await mayBeViolated(db, key)) return db.all<ForeignKeyViolation>('PRAGMA foreign_key_check');
  }
  return [];
}

/** Whether a child row may lack its parent (true also when the key cannot be checked this way: the pragma decides). */
async function mayBeViolated(db: Queryable, key: KeyColumn[]): Promise<boolean> {
  const { child, parent } = key[0]!;
  const parentColumns = await db.all<{ name: string; pk: number }>('SELECT name, pk FROM pragma_table_info(?)', [parent]);
  const childHasKey = `${key.map((k) => `c.${q(k.from)} IS NOT NULL`).join(' AND ')}`;
  if (parentColumns.length === 0) {
    // No parent table: every child row with a complete key is a violation.
    return (await db.all(`SELECT 1 FROM ${q(child)} AS c WHERE ${childHasKey} LIMIT 1`)).length > 0;
  }
  const primaryKey = parentColumns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
  const to = key.map((k, i) => k.to ?? primaryKey[i]);
  if (to.some((c) => c === undefined)) return true;
  // The parent's column on the left: its collation is the one the foreign key compares with.
  const matches = key.map((k, i) => `p.${q(to[i]!)} = c.${q(k.from)}`).join(' AND ');
  const orphan = await db.all(`SELECT 1 FROM ${q(child)} AS c WHERE ${childHasKey} AND NOT EXISTS (SELECT 1 FROM ${q(parent)} AS p WHERE ${matches}) LIMIT 1`);
  return orphan.length > 0;
}
