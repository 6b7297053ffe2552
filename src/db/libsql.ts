import { createClient, type Client, type InArgs, type ResultSet, type Transaction } from '@libsql/client';
import { MigrateError } from '../engine/errors.js';
import type { Driver, Queryable } from './driver.js';
import { redactUrl } from './url.js';

const SET_FOREIGN_KEYS = /^\s*PRAGMA\s+foreign_keys\s*=\s*(ON|OFF|TRUE|FALSE|YES|NO|1|0)\s*;?\s*$/i;
const GET_FOREIGN_KEYS = /^\s*PRAGMA\s+foreign_keys\s*;?\s*$/i;

/**
 * A remote libSQL database (sqld, Turso) through @libsql/client.
 *
 * Over HTTP every request may run on a different server connection ("stream"), so a connection setting
 * sent on its own reaches nothing that follows. This driver therefore behaves like one connection for the
 * one setting the runner changes: `PRAGMA foreign_keys = ON|OFF` run outside a transaction is remembered
 * (and `PRAGMA foreign_keys` reads it back), and every stream the driver opens after that starts with it.
 * A transaction is one stream, in this order: `BEGIN DEFERRED` (sent by @libsql/client; takes no lock),
 * `ROLLBACK; PRAGMA foreign_keys = …; BEGIN IMMEDIATE` (the pragma only has effect outside a transaction),
 * then the caller's statements, `COMMIT` or `ROLLBACK`. So the executor's foreign-key procedure (enforcement
 * off outside the transaction, `PRAGMA foreign_key_check` before commit) runs exactly as on a file.
 */
export class LibsqlDriver implements Driver {
  readonly name = '@libsql/client';
  /** The connection-level `foreign_keys` setting to replay on each stream; undefined: the server's default. */
  #foreignKeys: boolean | undefined;

  constructor(
    private readonly client: Client,
    private readonly url: string,
  ) {}

  async exec(sql: string): Promise<void> {
    const setting = SET_FOREIGN_KEYS.exec(sql);
    if (setting) {
      this.#foreignKeys = ['ON', 'TRUE', 'YES', '1'].includes(setting[1]!.toUpperCase());
      return;
    }
    await this.#call(() => this.client.executeMultiple(`${this.#prelude()}${sql}`));
  }

  async all<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    if (this.#foreignKeys !== undefined && GET_FOREIGN_KEYS.test(sql)) return [{ foreign_keys: this.#foreignKeys ? 1 : 0 } as T];
    // Reads do not depend on foreign_keys (foreign_key_check works either way), so they need no prelude.
    return rowsOf<T>(await this.#call(() => this.client.execute({ sql, args: params as InArgs })));
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<void> {
    if (this.#foreignKeys === undefined) {
      await this.#call(() => this.client.execute({ sql, args: params as InArgs }));
    } else {
      await this.transaction((tx) => tx.run(sql, params));
    }
  }

  /**
   * `BEGIN IMMEDIATE … COMMIT` on one stream, with the remembered `foreign_keys` setting applied to that
   * stream before the BEGIN; rolled back when `fn` throws.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const setting = this.#foreignKeys;
    const tx = await this.#call(() => this.client.transaction(setting === undefined ? 'write' : 'deferred'));
    try {
      if (setting !== undefined) {
        // @libsql/client starts every transaction with its own BEGIN; end that (deferred, so it held no
        // lock), set the pragma where it takes effect, and take the write lock, all on the same stream.
        await this.#call(() => tx.executeMultiple(`ROLLBACK; PRAGMA foreign_keys = ${setting ? 'ON' : 'OFF'}; BEGIN IMMEDIATE`));
      }
      const result = await fn(this.#queryable(tx));
      await this.#call(() => tx.commit());
      return result;
    } catch (error) {
      // A failed statement may already have ended the transaction, or the stream may be gone.
      await tx.rollback().catch(() => {});
      throw error;
    } finally {
      tx.close();
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }

  #queryable(tx: Transaction): Queryable {
    return {
      exec: async (sql) => {
        await this.#call(() => tx.executeMultiple(sql));
      },
      all: async <T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []) =>
        rowsOf<T>(await this.#call(() => tx.execute({ sql, args: params as InArgs }))),
      run: async (sql, params = []) => {
        await this.#call(() => tx.execute({ sql, args: params as InArgs }));
      },
    };
  }

  #prelude(): string {
    return this.#foreignKeys === undefined ? '' : `PRAGMA foreign_keys = ${this.#foreignKeys ? 'ON' : 'OFF'};\n`;
  }

  /** Runs a client call, turning failures to reach or log in to the server into one-line errors. */
  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw describeConnectionError(error, this.url) ?? error;
    }
  }
}

/** Rows as plain objects keyed by column name. */
function rowsOf<T>(result: ResultSet): T[] {
  return result.rows.map((row) => Object.fromEntries(result.columns.map((column, i) => [column, row[i]])) as T);
}

function httpStatusOf(error: unknown): number | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const status = (e as { status?: unknown }).status;
    if (typeof status === 'number') return status;
  }
  return undefined;
}

/** The server refused us or could not be reached: say so in one line, without the token. */
function describeConnectionError(error: unknown, url: string): MigrateError | null {
  const where = `the libSQL server at ${redactUrl(url)}`;
  const status = httpStatusOf(error);
  if (status === 401 || status === 403) {
    const token = process.env.DATABASE_AUTH_TOKEN ? 'the token in DATABASE_AUTH_TOKEN' : 'no auth token (DATABASE_AUTH_TOKEN is not set)';
    return new MigrateError('DATABASE', `${where} refused ${token} (HTTP ${status}); nothing was changed`, { cause: error });
  }
  if (status !== undefined) return new MigrateError('DATABASE', `${where} answered HTTP ${status}: ${oneLine((error as Error).message)}`, { cause: error });
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return new MigrateError('DATABASE', `cannot reach ${where}: ${cause?.code ?? cause?.message ?? error.message}; nothing was changed`, { cause: error });
  }
  return null;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Opens a remote libSQL database; the auth token comes from DATABASE_AUTH_TOKEN. */
export function openLibsql(url: string): LibsqlDriver {
  try {
    const client = createClient({ url, authToken: process.env.DATABASE_AUTH_TOKEN || undefined });
    return new LibsqlDriver(client, url);
  } catch (error) {
    throw new MigrateError('BAD_URL', `bad database URL '${redactUrl(url)}': ${oneLine((error as Error).message)}`, { cause: error });
  }
}
