/** Where the app's database lives when DATABASE_URL is not set: an embedded SQLite file. */
export const DEFAULT_DATABASE_URL = 'file:./data/bot.db';

/** drizzle-kit's output folder: migrations, their down files and `meta/`. */
export const MIGRATIONS_FOLDER = './drizzle';

/** The TypeScript models drizzle-kit reads. */
export const SCHEMA_PATH = './src/schema/index.ts';

/** drizzle's own bookkeeping table, shared with `drizzle-kit migrate`. */
export const MIGRATIONS_TABLE = '__drizzle_migrations';

/** The runner's own table: the lock that lets one runner at a time change the database. */
export const LOCK_TABLE = '__migrate_lock';

/** The database URL the app, the runner and drizzle-kit all use. */
export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.DATABASE_URL?.trim();
  return url ? url : DEFAULT_DATABASE_URL;
}
