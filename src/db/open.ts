import { existsSync } from 'node:fs';
import { openBetterSqlite } from './better-sqlite3.js';
import type { Driver } from './driver.js';
import { MigrateError } from '../engine/errors.js';
import { parseDatabaseUrl } from './url.js';

export interface OpenOptions {
  /**
   * For commands that only read: a file that does not exist yet is shown as an empty
   * database instead of being created.
   */
  readOnly?: boolean;
}

/**
 * Opens the database named by a URL with the driver the runner applies migrations through: better-sqlite3
 * for a file or memory, @libsql/client for a remote libSQL server (auth token from DATABASE_AUTH_TOKEN).
 */
export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Driver> {
  const location = parseDatabaseUrl(url);
  switch (location.kind) {
    case 'remote': {
      // Loaded only for a remote server: @libsql/client (its HTTP/WebSocket stack and native addon) is most of the
      // start-up time of a command on a local file.
      const { openLibsql } = await import('./libsql.js');
      return openLibsql(location.url);
    }
    case 'memory':
      return openBetterSqlite(location);
    case 'file':
      if (options.readOnly && !existsSync(location.path)) {
        if (location.fileMustExist) throw new MigrateError('DATABASE', `database file ${location.path} does not exist`);
        return openBetterSqlite({ kind: 'memory' });
      }
      return openBetterSqlite(location);
  }
}
