import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, TransactionRollbackError } from 'drizzle-orm';
import { closeDb, createDb, type Db } from '../src/db.js';
import { upgrade } from '../src/runner.js';
import { users } from '../src/schema/index.js';

const MIGRATIONS = join(import.meta.dirname, '..', 'drizzle');

interface Pragmas {
  journalMode: unknown;
  foreignKeys: unknown;
  busyTimeout: unknown;
}

/** Runs a statement and returns the first column of its first row. */
async function scalar(db: Pick<Db, 'values'>, query: string): Promise<unknown> {
  const rows = await db.values<[unknown]>(sql.raw(query));
  return rows[0]?.[0];
}

async function pragmas(db: Pick<Db, 'values'>): Promise<Pragmas> {
  return {
    journalMode: await scalar(db, 'PRAGMA journal_mode'),
    foreignKeys: await scalar(db, 'PRAGMA foreign_keys'),
    busyTimeout: await scalar(db, 'PRAGMA busy_timeout'),
  };
}

const SERVER_PRAGMAS: Pragmas = { journalMode: 'wal', foreignKeys: 1, busyTimeout: 5000 };

describe('createDb on a migrated file database', () => {
  let dir: string;
  let url: string;
  let db: Db;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'queries-db-'));
    url = 'file:' + join(dir, 'bot.db');
    await upgrade({ url, migrationsFolder: MIGRATIONS });
    db = await createDb(url);
  });

  after(async () => {
    closeDb(db);
    await rm(dir, { recursive: true, force: true });
  });

  it('sets WAL, foreign keys and a busy timeout', async () => {
    assert.deepEqual(await pragmas(db), SERVER_PRAGMAS);
  });

  it('keeps them after a transaction', async () => {
    await db.transaction(async (tx) => {
      assert.deepEqual(await pragmas(tx), SERVER_PRAGMAS);
    });
    assert.deepEqual(await pragmas(db), SERVER_PRAGMAS);
  });

  it('has them on the other connection the client opens while a transaction holds one', async () => {
    await db.transaction(async (tx) => {
      await tx.insert(users).values({ email: 'uncommitted@example.com', passwordHash: 'x' });
      // Not seeing the uncommitted row proves that this query ran on another connection.
      assert.equal(await scalar(db, "SELECT count(*) FROM users WHERE email = 'uncommitted@example.com'"), 0);
      assert.deepEqual(await pragmas(db), SERVER_PRAGMAS);
      tx.rollback();
    }).catch((error: unknown) => {
      if (!(error instanceof TransactionRollbackError)) throw error;
    });
    assert.equal(await scalar(db, 'SELECT count(*) FROM users'), 0);
    assert.deepEqual(await pragmas(db), SERVER_PRAGMAS);
  });

  it('enforces foreign keys', async () => {
    await db.run(sql.raw('CREATE TABLE fk_child (user_id INTEGER REFERENCES users(id))'));
    await assert.rejects(db.run(sql.raw('INSERT INTO fk_child VALUES (12345)')), (error: Error) =>
      /FOREIGN KEY constraint failed/.test(String(error.cause)),
    );
  });

  it('offers relational queries typed by the schema', async () => {
    await db.insert(users).values({ email: 'rel@example.com', passwordHash: 'x' });
    const found = await db.query.users.findFirst({ columns: { email: true }, where: (u, { eq }) => eq(u.email, 'rel@example.com') });
    assert.deepEqual(found, { email: 'rel@example.com' });
  });

  it('takes the busy timeout from ?timeout=<ms>, on every connection', async () => {
    const other = await createDb(url + '?timeout=250');
    try {
      assert.equal(await scalar(other, 'PRAGMA busy_timeout'), 250);
      await other.transaction(async () => {
        assert.equal(await scalar(other, 'PRAGMA busy_timeout'), 250);
      });
    } finally {
      closeDb(other);
    }
  });

  it('reads DATABASE_URL when no URL is given, SQLAlchemy forms included', async () => {
    const fromEnv = await createDb(undefined, { DATABASE_URL: 'sqlite+aiosqlite:///' + join(dir, 'bot.db') });
    try {
      assert.equal(await scalar(fromEnv, "SELECT count(*) FROM sqlite_schema WHERE name = 'users'"), 1);
    } finally {
      closeDb(fromEnv);
    }
  });
});

describe('createDb, other cases', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'queries-db-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the folder of a new file database', async () => {
    const path = join(dir, 'nested', 'new.db');
    const db = await createDb('file:' + path);
    closeDb(db);
    assert.ok(existsSync(path));
  });

  it('refuses mode=ro, which @libsql/client cannot honour, and mode=rw on a missing file', async () => {
    await assert.rejects(createDb('file:' + join(dir, 'ro.db') + '?mode=ro'), /mode=ro is not supported/);
    await assert.rejects(createDb('file:' + join(dir, 'missing.db') + '?mode=rw'), /does not exist/);
    assert.equal(existsSync(join(dir, 'missing.db')), false);
  });

  it('opens an in-memory database', async () => {
    const db = await createDb(':memory:');
    assert.equal(await scalar(db, 'SELECT 1 + 1'), 2);
    closeDb(db);
  });

  it('closeDb closes the connections', async () => {
    const db = await createDb('file:' + join(dir, 'closed.db'));
    closeDb(db);
    await assert.rejects(db.run(sql`SELECT 1`), (error: Error) => /client is closed/i.test(String(error.cause)));
  });
});

describe('DATABASE_AUTH_TOKEN', () => {
  const TOKEN = 'tok-3c1f9e-secret';

  /** A stand-in libSQL server that records the headers of each request and refuses it. */
  async function withServer(fn: (url: string, seen: IncomingHttpHeaders[]) => Promise<void>): Promise<void> {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      res.statusCode = 500;
      res.end('refused by the test server');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }

  /** Runs fn while collecting everything written to stdout, stderr and the console. */
  async function captureOutput(fn: () => Promise<void>): Promise<string> {
    const chunks: string[] = [];
    const record = (...args: unknown[]): void => void chunks.push(args.map(String).join(' '));
    const { stdout, stderr } = process;
    const saved = { out: stdout.write, err: stderr.write, console: { ...console } };
    stdout.write = ((chunk: unknown) => (record(chunk), true)) as typeof stdout.write;
    stderr.write = ((chunk: unknown) => (record(chunk), true)) as typeof stderr.write;
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) console[method] = record;
    try {
      await fn();
    } finally {
      stdout.write = saved.out;
      stderr.write = saved.err;
      Object.assign(console, saved.console);
    }
    return chunks.join('\n');
  }

  it('is sent to the server as a bearer token and never printed', async () => {
    await withServer(async (url, seen) => {
      let failure: unknown;
      const output = await captureOutput(async () => {
        const db = await createDb(url, { DATABASE_AUTH_TOKEN: TOKEN });
        failure = await db.run(sql`SELECT 1`).then(() => undefined, (error: unknown) => error);
        closeDb(db);
      });
      assert.equal(seen.length > 0, true, 'the client reached the server');
      assert.equal(seen[0]?.authorization, `Bearer ${TOKEN}`);
      assert.ok(failure instanceof Error, 'the stand-in server refuses the query');
      assert.ok(!output.includes(TOKEN), 'the token was printed');
      assert.ok(!String(failure.stack).includes(TOKEN) && !String(failure.cause).includes(TOKEN), 'the token is in the error');
    });
  });

  it('is not sent when unset', async () => {
    await withServer(async (url, seen) => {
      const db = await createDb(url, {});
      await assert.rejects(db.run(sql`SELECT 1`));
      closeDb(db);
      assert.equal(seen[0]?.authorization, undefined);
    });
  });
});
