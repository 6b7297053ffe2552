import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compareSchemas } from '../diff/compare.js';
import { drizzleKitDiff, type SnapshotDiff } from '../diff/down.js';
import { introspect, type NormalizedSchema } from '../diff/introspect.js';
import { schemaAt, withScratchDatabase } from '../diff/scratch.js';
import { findAmbiguities } from '../diff/renames.js';
import { emptySnapshot, type SqliteSnapshot } from '../diff/snapshot.js';
import { MigrateError } from '../errors.js';
import type { Migration } from '../journal.js';

/**
 * drizzle-kit's own JSON for the TypeScript models (what `drizzle-kit generate` would write as the next
 * snapshot, with `prevId` as its parent). drizzle-kit is a devDependency, so it is loaded only here; the schema
 * module is imported by URL.
 */
export async function modelSnapshot(schemaPath: string, prevId?: string): Promise<SqliteSnapshot> {
  const absolute = resolve(schemaPath);
  if (!existsSync(absolute)) throw new MigrateError('SCHEMA_LOAD', `the models' schema file ${schemaPath} does not exist (the schema of drizzle.config.ts)`);
  let api: typeof import('drizzle-kit/api');
  try {
    api = await import('drizzle-kit/api');
  } catch (error) {
    throw new MigrateError('DRIZZLE_KIT_MISSING', `comparing the models needs drizzle-kit, a devDependency: install it (npm ci without --omit=dev): ${(error as Error).message}`, { cause: error });
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (error) {
    throw new MigrateError('SCHEMA_LOAD', `cannot import the models from ${schemaPath}: ${(error as Error).message}`, { cause: error });
  }
  return (await api.generateSQLiteDrizzleJson(module, prevId)) as unknown as SqliteSnapshot;
}

/** One difference between the models and the migrations. */
export interface ModelDifference {
  /** ungenerated: SQL drizzle-kit would write; possible-rename: added and removed names (drizzle-kit would ask); no-sql: JSON differs, no SQL. */
  kind: 'ungenerated' | 'possible-rename' | 'no-sql';
  message: string;
  /** The SQL drizzle-kit would generate for it, when it can say without asking about renames. */
  statements: string[];
}

/**
 * What the models hold that the last snapshot (the schema the migrations were generated for) does not.
 * When a table, column or view was both removed and added, drizzle-kit's diff would ask in a terminal whether
 * it is a rename; that case is answered here with the added and removed names, without calling the diff.
 */
export async function compareModelsWithSnapshot(last: SqliteSnapshot, models: SqliteSnapshot, diff: SnapshotDiff = drizzleKitDiff): Promise<ModelDifference[]> {
  const renames = possibleRenames(last, models);
  if (renames.length > 0) return renames.map((message) => ({ kind: 'possible-rename', message, statements: [] }));
  const statements = await diff(last, models);
  if (statements.length > 0) {
    return [{ kind: 'ungenerated', message: `the models have changes that no migration holds; drizzle-kit would generate:\n${statements.join('\n')}`, statements }];
  }
  // drizzle-kit 0.31 writes no SQL for some changes (a new stored generated column): compare the JSON too.
  return structuralDifferences(last, models).map((message) => ({ kind: 'no-sql', message, statements: [] }));
}

/** The changes drizzle-kit would ask about, as check's lines: each added and removed name. */
function possibleRenames(last: SqliteSnapshot, models: SqliteSnapshot): string[] {
  const lines: string[] = [];
  for (const ambiguity of findAmbiguities(last, models)) {
    const label = (name: string) => (ambiguity.kind === 'column' ? `column ${ambiguity.table}.${name}` : `${ambiguity.kind} ${name}`);
    for (const name of ambiguity.added) lines.push(`${label(name)} is in the models but in no migration`);
    for (const name of ambiguity.removed) lines.push(`${label(name)} is in the migrations but not in the models`);
  }
  return lines;
}

function structuralDifferences(last: SqliteSnapshot, models: SqliteSnapshot): string[] {
  const lines: string[] = [];
  for (const kind of ['tables', 'views'] as const) {
    const a = (last[kind] ?? {}) as Record<string, unknown>;
    const b = (models[kind] ?? {}) as Record<string, unknown>;
    for (const name of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (canonical(a[name]) !== canonical(b[name])) {
        lines.push(`${kind === 'tables' ? 'table' : 'view'} ${name} in the models differs from the last snapshot, though drizzle-kit generates no SQL for it (e.g. a stored generated column, which drizzle-kit 0.31 skips)`);
      }
    }
  }
  return lines;
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
  );
}

/**
 * Model-match (pytest-alembic's test_model_definitions_match_ddl): the schema every migration gives on an
 * empty database against the schema drizzle-kit's SQL for the models gives on another, compared as
 * normalized structure. Catches a hand-edited migration and changes the generator missed.
 */
export async function compareModelsWithMigrations(
  migrations: readonly Migration[],
  models: SqliteSnapshot,
  diff: SnapshotDiff = drizzleKitDiff,
  label = 'the models',
): Promise<string[]> {
  const fromMigrations = await schemaAt(migrations, migrations.length - 1);
  // drizzle-kit's SQL for the models failing is not the migrations failing: said apart, so check names the right one.
  const fromModels = await schemaOfStatements(await diff(emptySnapshot(), models)).catch((error: Error) => {
    throw new MigrateError('MODELS_SQL_FAILS', `drizzle-kit's SQL for ${label} does not run on an empty database: ${error.message}`, { cause: error });
  });
  return compareSchemas(fromModels, fromMigrations, { expected: label, actual: 'the migrations' });
}

/** The schema that drizzle-kit's SQL for a snapshot (its diff from the empty one) gives on an empty database. */
export async function schemaOfStatements(statements: readonly string[]): Promise<NormalizedSchema> {
  return withScratchDatabase(async (db) => {
    for (const statement of statements) await db.exec(statement);
    return introspect(db);
  });
}
