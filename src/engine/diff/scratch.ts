import { openBetterSqlite } from '../../db/better-sqlite3.js';
import type { Driver } from '../../db/driver.js';
import { ForeignKeyGuard } from '../foreign-keys.js';
import type { Migration } from '../journal.js';
import { applyFile } from '../procedure.js';
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

/** Applies the up files of `migrations` in order, each as `up` runs it (applyFile), without bookkeeping rows. */
export async function replayUp(db: Driver, migrations: readonly Migration[], guard?: ForeignKeyGuard): Promise<ForeignKeyGuard> {
  const foreignKeys = guard ?? (await ForeignKeyGuard.of(db));
  for (const migration of migrations) await applyFile(db, migration.up, foreignKeys);
  return foreignKeys;
}

/** The schema that the migrations up to and including `position` give on an empty database. */
export async function schemaAt(migrations: readonly Migration[], position: number): Promise<NormalizedSchema> {
  return withScratchDatabase(async (db) => {
    await replayUp(db, migrations.slice(0, position + 1));
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
    const guard = await replayUp(db, migrations.slice(0, position));
    const before = await introspect(db);
    await applyFile(db, migration.up, guard);
    await applyFile(db, down, guard);
    return compareSchemas(before, await introspect(db), { expected: 'the schema before the up', actual: 'the schema after the down' });
  });
}
