import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { defineConfig } from 'drizzle-kit';
import { MIGRATIONS_FOLDER, MIGRATIONS_TABLE, SCHEMA_PATH, databaseUrlFromEnv } from './src/config.js';
import { parseDatabaseUrl, toLibsqlUrl } from './src/db/url.js';

// The same database as the app and the runner: DATABASE_URL, or the embedded default.
// drizzle-kit opens it with @libsql/client, so SQLAlchemy-style URLs are converted first.
const databaseUrl = databaseUrlFromEnv();
const location = parseDatabaseUrl(databaseUrl);
if (location.kind === 'file' && !location.readonly) mkdirSync(dirname(location.path), { recursive: true });

export default defineConfig({
  dialect: 'sqlite',
  schema: SCHEMA_PATH,
  out: MIGRATIONS_FOLDER,
  dbCredentials: { url: toLibsqlUrl(databaseUrl) },
  migrations: { table: MIGRATIONS_TABLE },
  strict: true,
  verbose: true,
});
