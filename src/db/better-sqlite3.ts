import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { MigrateError } from '../engine/errors.js';
import type { Driver, Queryable } from './driver.js';
import type { DatabaseLocation } from './url.js';

/** How long a writer waits for another connection's lock before failing. */
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** Enough for every distinct query of a run; a bound so that generated SQL cannot grow the cache without end. */
const MAX_CACHED_STATEMENTS = 1000;

export class BetterSqliteDriver implements Driver {
  readonly name = 'better-sqlite3';

  /** Prepared statements by SQL text: the stairway and introspection run the same few queries thousands of times. */
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }

  async all<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.prepare(sql).all(...params) as T[];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<void> {
    this.prepare(sql).run(...params);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn(this);
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      // A failed statement may already have ended the transaction (SQLite does so on some errors).
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Whether a transaction is open on this connection (SQLite ends one itself on some errors). */
  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  /**
   * Makes a JavaScript function callable from SQL on this connection (what `adopt` needs for Unicode
   * normalisation and SHA-256, which SQLite lacks). better-sqlite3 only: libSQL's client cannot.
   */
  defineFunction(name: string, fn: (...args: never[]) => unknown): void {
    this.db.function(name, { deterministic: true }, fn as (...args: unknown[]) => unknown);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

let addonPath: string | undefined | null = null;

/**
 * better-sqlite3's compiled addon, named directly: left to itself it finds the file through the `bindings` package,
 * which searches a dozen paths and costs about 9 ms of every command's start-up. Undefined (that search) when the
 * build put it elsewhere.
 */
function nativeBinding(): string | undefined {
  if (addonPath === null) {
    const root = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
    const candidate = join(root, 'build', 'Release', 'better_sqlite3.node');
    addonPath = existsSync(candidate) ? candidate : undefined;
  }
  return addonPath;
}

/** Opens a local database (file or memory) through better-sqlite3. */
export function openBetterSqlite(location: Exclude<DatabaseLocation, { kind: 'remote' }>): BetterSqliteDriver {
  if (location.kind === 'memory') return new BetterSqliteDriver(new Database(':memory:', { nativeBinding: nativeBinding() }));
  if (!location.readonly && !location.fileMustExist) mkdirSync(dirname(location.path), { recursive: true });
  try {
    const db = new Database(location.path, {
      readonly: location.readonly,
      fileMustExist: location.fileMustExist,
      timeout: location.timeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
      nativeBinding: nativeBinding(),
    });
    return new BetterSqliteDriver(db);
  } catch (error) {
    throw new MigrateError('DATABASE', `cannot open database ${location.path}: ${(error as Error).message}`, { cause: error });
  }
}
