import type { Queryable } from '../db/driver.js';
import { MIGRATIONS_TABLE } from '../config.js';
import type { AppliedRow } from './plan.js';

const table = `"${MIGRATIONS_TABLE}"`;

/** Exactly what drizzle-orm's SQLite migrators create, so `drizzle-kit migrate` shares the table. */
export const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS ${table} (
  id SERIAL PRIMARY KEY,
  hash text NOT NULL,
  created_at numeric
)`;

export async function migrationsTableExists(db: Queryable): Promise<boolean> {
  const rows = await db.all("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [MIGRATIONS_TABLE]);
  return rows.length > 0;
}

/** The applied rows, oldest first; none when the table does not exist yet. */
export async function readAppliedRows(db: Queryable): Promise<AppliedRow[]> {
  if (!(await migrationsTableExists(db))) return [];
  const rows = await db.all<{ hash: string; created_at: number | string | bigint }>(
    `SELECT hash, created_at FROM ${table} ORDER BY created_at, rowid`,
  );
  return rows.map((row) => ({ hash: row.hash, createdAt: Number(row.created_at) }));
}

export async function recordApplied(db: Queryable, row: AppliedRow): Promise<void> {
  await db.exec(CREATE_MIGRATIONS_TABLE);
  await db.run(`INSERT INTO ${table} ("hash", "created_at") VALUES (?, ?)`, [row.hash, row.createdAt]);
}

export async function recordReverted(db: Queryable, row: AppliedRow): Promise<void> {
  await db.run(`DELETE FROM ${table} WHERE created_at = ? AND hash = ?`, [row.createdAt, row.hash]);
}
