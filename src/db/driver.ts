/** What the engine needs from a database connection; one implementation per driver. */
export interface Queryable {
  /** Runs one or more statements that return no rows. */
  exec(sql: string): Promise<void>;
  /** Runs one statement and returns its rows as objects. */
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs one statement with parameters, ignoring rows. */
  run(sql: string, params?: readonly unknown[]): Promise<void>;
}

export interface Driver extends Queryable {
  /** A label for messages: which library talks to the database. */
  readonly name: string;
  /**
   * Runs `fn` inside `BEGIN IMMEDIATE … COMMIT` (the write lock is taken up front),
   * rolling back when it throws.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
