import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createClient, type Client, type ResultSet } from '@libsql/client';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import { databaseUrlFromEnv } from './config.js';
import { parseDatabaseUrl, redactUrl, toLibsqlUrl } from './db/url.js';
import { MigrateError } from './engine/errors.js';
import * as schema from './schema/index.js';

export type Schema = typeof schema;

/** The app's database: Drizzle over @libsql/client, typed by the whole schema (`db.query.users` included). */
export type Db = LibSQLDatabase<Schema> & { $client: Client };

/** A database or a transaction opened on it (`db.transaction(async (tx) => …)`); the query functions take either. */
export type DbOrTx = BaseSQLiteDatabase<'async', ResultSet, Schema>;

/** How long a writer waits for another connection's lock before failing with SQLITE_BUSY (the runner's default too). */
const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens the database named by `url`, or by `DATABASE_URL`, or the default `file:./data/bot.db`.
 * Every URL form of the runner is accepted (`file:`, plain paths, `:memory:`, SQLAlchemy `sqlite:///…`,
 * `libsql://` / `http(s)://` / `ws(s)://`). For a file database the folder is created, the journal is
 * switched to WAL, and every connection gets a busy timeout (`?timeout=<ms>` in the URL, 5000 by default)
 * and foreign-key enforcement. `DATABASE_AUTH_TOKEN`, when set, is handed to the client and never printed.
 *
 * @param url a database URL; defaults to `env.DATABASE_URL`.
 * @param env where `DATABASE_URL` and `DATABASE_AUTH_TOKEN` are read from.
 */
export async function createDb(url?: string, env: NodeJS.ProcessEnv = process.env): Promise<Db> {
  const given = url ?? databaseUrlFromEnv(env);
  const location = parseDatabaseUrl(given);
  if (location.kind === 'file') {
    // @libsql/client has no read-only mode: refuse rather than open for writing what was asked to be read-only.
    if (location.readonly) {
      throw new MigrateError('UNSUPPORTED_URL', `mode=ro is not supported by the app's driver (@libsql/client): ${redactUrl(given)}`);
    }
    if (location.fileMustExist && !existsSync(location.path)) {
      throw new MigrateError('DATABASE', `database file ${location.path} does not exist (mode=rw)`);
    }
    mkdirSync(dirname(location.path), { recursive: true });
  }

  const authToken = env.DATABASE_AUTH_TOKEN?.trim() || undefined;
  const client = createClient({
    url: toLibsqlUrl(given),
    ...(authToken ? { authToken } : {}),
    // @libsql/client keeps a pool of connections and opens another one whenever a transaction holds one,
    // so `PRAGMA busy_timeout` run here would reach only the connection that ran it. The `timeout` option
    // is applied by the client to every connection it opens.
    ...(location.kind === 'file' ? { timeout: location.timeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS } : {}),
  });
  const db = drizzle(client, { schema });

  if (location.kind === 'file') {
    try {
      // Stored in the database file, so once is enough for every connection: readers do not block the writer.
      await client.execute('PRAGMA journal_mode=WAL');
      // Per connection too, and there is no client option for it: libsql enables foreign keys in every new
      // connection by default. Check it, so that a libsql build without that default fails here and not
      // silently on some pooled connection later.
      const fk = await client.execute('PRAGMA foreign_keys');
      if (fk.rows[0]?.[0] !== 1) throw new Error('libsql opened the connection with foreign keys off');
    } catch (error) {
      client.close();
      throw new MigrateError('DATABASE', `cannot set up database ${location.path}: ${(error as Error).message}`, { cause: error });
    }
  }
  return db;
}

/** Closes the database's connections. Queries on it fail afterwards; an open transaction is rolled back. */
export function closeDb(db: Db): void {
  db.$client.close();
}
