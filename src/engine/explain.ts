import type { Queryable } from '../db/driver.js';

/**
 * Says which rows break a constraint that made a migration fail, where SQLite's message tells which
 * table and columns: `NOT NULL constraint failed: __new_users.name` (a drizzle-kit rebuild, so the rows
 * are in `users`) or `UNIQUE constraint failed: users.email`. Run after the rollback, on the old data.
 * Returns null when there is nothing more to say.
 */
export async function explainConstraintFailure(db: Queryable, message: string): Promise<string | null> {
  const match = /(NOT NULL|UNIQUE) constraint failed: (.+)$/m.exec(message);
  if (!match) return null;
  const columns = match[2]!.split(',').map((part) => part.trim().split('.'));
  const table = columns[0]?.[0]?.replace(/^__new_/, '');
  const names = columns.map((c) => c[1]).filter((c): c is string => c !== undefined);
  if (!table || names.length === 0) return null;
  const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;
  try {
    if (match[1] === 'NOT NULL') {
      const column = names[0]!;
      const rows = await db.all<{ rowid: number }>(`SELECT rowid AS rowid FROM ${quoted(table)} WHERE ${quoted(column)} IS NULL LIMIT 5`);
      const [{ n } = { n: 0 }] = await db.all<{ n: number }>(`SELECT count(*) AS n FROM ${quoted(table)} WHERE ${quoted(column)} IS NULL`);
      if (n === 0) return null;
      return `${n} row(s) of ${table} hold NULL in ${column} (rowid ${rows.map((r) => r.rowid).join(', ')}${n > rows.length ? ', …' : ''}): give them a value first, or give the column a default`;
    }
    const list = names.map(quoted).join(', ');
    const groups = await db.all<Record<string, unknown> & { n: number }>(
      `SELECT ${list}, count(*) AS n FROM ${quoted(table)} GROUP BY ${list} HAVING count(*) > 1 ORDER BY n DESC LIMIT 5`,
    );
    const [{ total } = { total: 0 }] = await db.all<{ total: number }>(
      `SELECT count(*) AS total FROM (SELECT 1 FROM ${quoted(table)} GROUP BY ${list} HAVING count(*) > 1)`,
    );
    if (total === 0) return null;
    const shown = groups.map((g) => `${names.map((c) => JSON.stringify(g[c])).join(', ')} (${g.n} rows)`).join('; ');
    return `${total} value(s) of ${table}(${names.join(', ')}) are duplicated, e.g. ${shown}: remove the duplicates first`;
  } catch {
    return null; // the table or column is not there under that name: SQLite's own message stands
  }
}
