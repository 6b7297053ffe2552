import { openBetterSqlite } from '../../db/better-sqlite3.js';
import type { Driver } from '../../db/driver.js';
import type { Migration } from '../journal.js';
import { runFile } from '../executor.js';
import { introspect, type NormalizedSchema } from './introspect.js';
import { compareSchemas } from './compare.js';

/** Runs `fn` on a new empty in-memory database, closing it afterwards. */
export async function withScratchDatabase<T>(fn: (db: Driver) => Promise<T>): Promise<T> {
  const db = openBetterSqlite({ kind: 'memory' });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The schema that the migrations up to and including `position` give on an empty database. */
export async function schemaAt(migrations: readonly Migration[], position: number): Promise<NormalizedSchema> {
  return withScratchDatabase(async (db) => {
    for (const migration of migrations.slice(0, position + 1)) await runFile(db, migration.up);
    return introspect(db);
  });
}

/**
 * Checks a migration's down file on a scratch database: after the migrations before it, then its up,
 * then its down, the schema must be what it was before the up. Returns the differences (none: it restores).
 */
export async function checkDownRestores(migrations: readonly Migration[], position: number): Promise<string[]> {
  const migration = migrations[position];
  if (!migration?.down) return [`${migration?.tag ?? position} has no down file`];
  const down = migration.down;
  return withScratchDatabase(async (db) => {
    for (const previous of migrations.slice(0, position)) await runFile(db, previous.up);
    const before = await introspect(db);
    await runFile(db, migration.up);
    await runFile(db, down);
    return compareSchemas(before, await introspect(db), { expected: 'the schema before the up', actual: 'the schema after the down' });
  });
}
