import Database from 'better-sqlite3';
import { BetterSqliteDriver } from '../../src/db/better-sqlite3.js';
import { introspect, type NormalizedSchema } from '../../src/engine/diff/introspect.js';

/** The normalized schema of an open better-sqlite3 database (the runner's own introspection). */
export function schemaOf(db: Database.Database): Promise<NormalizedSchema> {
  return introspect(new BetterSqliteDriver(db));
}

/** Every row of a table with the given columns, in rowid order. */
export function rowsOf(db: Database.Database, table: string, columns: string[]): unknown[] {
  return db.prepare(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}" ORDER BY rowid`).all();
}

/** Column names of a table. */
export function columnsOf(db: Database.Database, table: string): string[] {
  return (db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as { name: string }[]).map((r) => r.name);
}
