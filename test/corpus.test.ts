// The corpus: migration histories shaped like real projects' (test/fixtures/corpus/, written by its build.ts from
// real drizzle-kit output, then edited by hand as people edit it), each run through the real CLI in a temp project:
// up (with rows put in where the pattern needs data, counted afterwards), write-down, status, stamp, check's history
// and replay, verify, down base, up,
// and the final schema compared with plain better-sqlite3 applying the same files in BEGIN…COMMIT per file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { check } from '../src/checks.js';
import { WIDE_ROWS_PER_TABLE, WIDE_TABLES, wideSeedSql } from './fixtures/corpus/wide.js';
import { ROOT, makeProject, type TempProject } from './helpers/project.js';

interface Seed {
  /** Applied up to this revision first; then the rows go in, and the rest is applied. */
  after: string;
  sql: string;
}

interface CorpusCase {
  name: string;
  seeds: Seed[];
  /** After the first `up` to head: a table's row count, or the value of a `SELECT` (a key that starts with SELECT). */
  expect: Record<string, number>;
  /**
   * Why the history fails today, as the test reports it (`<command>: <first line of its error>`), or null when it
   * passes. Flip an entry to null when a fix lands.
   */
  todo: string | null;
}

const CASES: CorpusCase[] = [
  {
    name: 'wrapper-chunks',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO users (id, email, name) VALUES (1, 'a@x', 'Ann'), (2, 'b@x', 'Bo'), (3, 'c@x', 'Cy');
              INSERT INTO posts (id, user_id, title, body) VALUES (1, 1, 'p1', 'b'), (2, 1, 'p2', NULL), (3, 2, 'p3', 'b'), (4, 3, 'p4', NULL), (5, 3, 'p5', 'x');
              INSERT INTO comments (id, post_id, user_id, text) VALUES (1, 1, 2, 'c'), (2, 1, 3, 'c'), (3, 2, 1, 'c'), (4, 3, 1, 'c'), (5, 4, 2, 'c'), (6, 5, 1, 'c'), (7, 5, 2, 'c'), (8, 5, 3, 'c');`,
      },
    ],
    expect: { users: 3, posts: 5, comments: 8, "SELECT count(*) FROM posts WHERE status = 'published'": 3 },
    todo: null,
  },
  {
    name: 'wrapper-one-chunk',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO orgs (id, name) VALUES (1, 'acme'), (2, 'initech');
              INSERT INTO members (id, org_id, email, role) VALUES (1, 1, 'a@x', 'owner'), (2, 1, 'b@x', 'member'), (3, 2, 'c@x', 'owner');
              INSERT INTO invites (id, org_id, invited_by, email) VALUES (1, 1, 1, 'd@x'), (2, 1, 2, 'e@x'), (3, 2, 3, 'f@x');`,
      },
    ],
    expect: { orgs: 2, members: 3, invites: 3, 'SELECT count(*) FROM invites WHERE invited_by IS NOT NULL': 3 },
    todo: null,
  },
  {
    name: 'data-fixes',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO tags (id, name) VALUES (1, 'News'), (2, 'news '), (3, ' NEWS'), (4, 'Tech'), (5, 'tech');
              INSERT INTO items (id, title, tag_id, legacy_code) VALUES (1, 'Hello World', 1, 'a'), (2, 'Second post', 2, NULL), (3, 'Third', 3, NULL), (4, 'Gadgets', 5, 'z'), (5, 'Untagged', NULL, NULL);`,
      },
    ],
    // the dedupe migration deletes three tags itself, after pointing their items at the survivors
    expect: { tags: 2, items: 5, item_stats: 5, "SELECT count(*) FROM items WHERE slug = 'hello-world'": 1, 'SELECT count(*) FROM items WHERE tag_id = 1': 3 },
    todo: null,
  },
  {
    name: 'fts5-content',
    seeds: [{ after: '0001', sql: "INSERT INTO notes (id, title, body) VALUES (1, 'alpha note', 'first body'), (2, 'beta', 'second alpha'), (3, 'gamma', 'third');" }],
    expect: { notes: 3, "SELECT count(*) FROM notes_fts WHERE notes_fts MATCH 'alpha'": 2 },
    todo: null,
  },
  {
    name: 'fts5-standalone',
    seeds: [{ after: '0001', sql: "INSERT INTO docs (id, slug, content) VALUES (1, 'intro', 'running fast'), (2, 'usage', NULL), (3, 'faq', 'runs');" }],
    expect: { docs: 3, docs_fts: 3, "SELECT count(*) FROM docs_fts WHERE docs_fts MATCH 'run'": 2 },
    todo: null,
  },
  {
    name: 'wide-cascade',
    seeds: [{ after: '0000', sql: wideSeedSql() }],
    expect: Object.fromEntries(WIDE_TABLES.map((t) => [t.name, WIDE_ROWS_PER_TABLE])),
    todo: null,
  },
  {
    name: 'composite-keys',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'b');
              INSERT INTO groups (id, title) VALUES (1, 'g1'), (2, 'g2');
              INSERT INTO memberships (id, user_id, group_id) VALUES (1, 1, 1), (2, 1, 2), (3, 2, 1);`,
      },
      { after: '0002', sql: "INSERT INTO member_roles (user_id, group_id, role) VALUES (1, 1, 'admin'), (1, 1, 'member'), (1, 2, 'member'), (2, 1, 'member');" },
    ],
    expect: { users: 2, groups: 2, memberships: 3, member_roles: 4 },
    todo: null,
  },
  {
    name: 'pk-change',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO users (id, email) VALUES (1, 'a@x'), (2, 'b@x');
              INSERT INTO settings (key, value) VALUES ('theme', 'dark'), ('lang', 'en'), ('tz', NULL);
              INSERT INTO sessions (id, token, user_id) VALUES (1, 't1', 1), (2, 't2', 1), (3, 't3', 2);`,
      },
    ],
    expect: { users: 2, settings: 3, sessions: 3 },
    todo: null,
  },
  {
    name: 'renames',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO authors (id, name) VALUES (1, 'A'), (2, 'B');
              INSERT INTO books (id, author_id, title) VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'z');`,
      },
    ],
    expect: { writers: 2, titles: 3 },
    todo: null,
  },
  {
    name: 'expression-defaults',
    seeds: [{ after: '0000', sql: "INSERT INTO events (id, name) VALUES (1, 'a'), (2, 'b');" }],
    expect: { events: 2, reminders: 0, 'SELECT count(*) FROM events WHERE seen_at IS NOT NULL': 2 },
    todo: null,
  },
  {
    name: 'v5-snapshots',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO users (id, email, name) VALUES (1, 'a@x', 'A'), (2, 'b@x', NULL);
              INSERT INTO pets (id, owner_id, name, species) VALUES (1, 1, 'Rex', NULL), (2, 1, 'Tom', 'cat'), (3, 2, 'Fido', 'dog');`,
      },
    ],
    expect: { users: 2, pets: 3, "SELECT count(*) FROM pets WHERE species = 'cat'": 2 },
    todo: null,
  },
  {
    name: 'v5-upgraded',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO users (id, email, name) VALUES (1, 'a@x', 'A'), (2, 'b@x', NULL);
              INSERT INTO pets (id, owner_id, name, species) VALUES (1, 1, 'Rex', NULL), (2, 1, 'Tom', 'cat'), (3, 2, 'Fido', 'dog');`,
      },
    ],
    expect: { users: 2, pets: 3 },
    todo: null,
  },
  {
    name: 'views',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO customers (id, name, active) VALUES (1, 'a', 1), (2, 'b', 0), (3, NULL, 1);
              INSERT INTO orders (id, customer_id, total, status) VALUES (1, 1, 50, NULL), (2, 1, 70, 'paid'), (3, 2, 10, NULL), (4, 3, 5, NULL), (5, 3, 1, 'x');`,
      },
    ],
    expect: { customers: 3, orders: 5, active_customers: 2, customer_totals: 3, big_customers: 1 },
    todo: null,
  },
  {
    name: 'indexes-autoincrement',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO logs (level, msg, at) VALUES ('info', 'a', 0), ('warn', 'b', 86400), ('info', 'c', 1), ('error', 'd', 2), ('info', 'e', 3);
              DELETE FROM logs WHERE id = 5;
              INSERT INTO accounts (email, plan) VALUES ('A@x', 'free'), ('b@x', 'pro'), (NULL, 'pro');`,
      },
    ],
    expect: { logs: 4, accounts: 3 },
    todo: null,
  },
  {
    name: 'checks-generated',
    seeds: [{ after: '0001', sql: "INSERT INTO products (id, price, qty) VALUES (1, 10, 2), (2, 5, 0), (3, 1, 1); INSERT INTO kv (k, v) VALUES ('a', 'b');" }],
    expect: { products: 3, kv: 2, 'SELECT sum(total) FROM products': 21, "SELECT count(*) FROM products WHERE label = '#1'": 1 },
    todo: null,
  },
  {
    name: 'triggers-audit',
    seeds: [{ after: '0001', sql: "INSERT INTO wallets (id, owner, balance) VALUES (1, 'a', 10), (2, 'b', NULL), (3, 'c', 5);" }],
    expect: { wallets: 3, audit: 3, 'SELECT count(*) FROM wallets WHERE balance = 0': 1 },
    todo: null,
  },
  {
    name: 'long-90',
    seeds: [
      {
        after: '0000',
        sql: `INSERT INTO accounts (id, title) VALUES (1, 'a'), (2, 'b');
              INSERT INTO projects (id, title, accounts_id) VALUES (1, 'p', 1), (2, 'q', 2), (3, 'r', 1);
              INSERT INTO tasks (id, title, projects_id) VALUES (1, 't', 1), (2, 'u', 1), (3, 'v', 2), (4, 'w', 3);`,
      },
    ],
    expect: { accounts: 2, projects: 3, tasks: 4 },
    todo: null,
  },
];

const BREAKPOINT = '--> statement-breakpoint';
/** The runner's and drizzle's own tables: not part of what a history makes. */
const BOOKKEEPING = new Set(['__drizzle_migrations', '__migrate_lock']);

/** A failing step, said in one line: which command, and the first line of what it printed. */
class StepFailed extends Error {}

interface SchemaRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

/** `sqlite_schema` without the bookkeeping tables, whitespace in the SQL collapsed, in a stable order. */
function normalizedSchema(db: Database.Database): SchemaRow[] {
  const rows = db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name').all() as SchemaRow[];
  return rows.filter((r) => !BOOKKEEPING.has(r.tbl_name)).map((r) => ({ ...r, sql: r.sql === null ? null : r.sql.replace(/\s+/g, ' ').trim() }));
}

/** What plain better-sqlite3 makes of the folder: each file in journal order, its chunks in order, in BEGIN…COMMIT. */
function referenceSchema(folder: string): SchemaRow[] {
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  const db = new Database(':memory:');
  try {
    for (const { tag } of journal.entries) {
      const text = readFileSync(join(folder, `${tag}.sql`), 'utf8');
      db.exec('BEGIN');
      for (const chunk of text.split(BREAKPOINT)) if (chunk.trim()) db.exec(chunk);
      db.exec('COMMIT');
    }
    return normalizedSchema(db);
  } finally {
    db.close();
  }
}

function withDb<T>(project: TempProject, use: (db: Database.Database) => T): T {
  const db = project.open();
  try {
    return use(db);
  } finally {
    db.close();
  }
}

async function cli(project: TempProject, args: string[]): Promise<string> {
  const result = await project.migrate(args);
  if (result.code !== 0) {
    // verify prints one line per migration on stdout, FAIL on the failing one; errors are one line on stderr
    const lines = `${result.stderr}\n${result.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
    const line = lines.find((l) => /^(error|FAIL)\b/.test(l)) ?? lines.join(' ').slice(0, 300) ?? `exit ${result.code}`;
    throw new StepFailed(`${args.join(' ')}: ${line}`);
  }
  return result.stdout;
}

async function runHistory(c: CorpusCase): Promise<void> {
  const project = makeProject({ fixture: join('corpus', c.name) });
  try {
    for (const seed of c.seeds) {
      await cli(project, ['up', seed.after]);
      withDb(project, (db) => db.exec(seed.sql));
    }
    await cli(project, ['up']);
    const counts = withDb(project, (db) =>
      Object.fromEntries(Object.keys(c.expect).map((key) => [key, (db.prepare(/^select/i.test(key) ? key : `SELECT count(*) FROM "${key}"`).pluck().get() as number) ?? 0])),
    );
    if (JSON.stringify(counts) !== JSON.stringify(c.expect)) throw new StepFailed(`rows after up: ${JSON.stringify(counts)}, expected ${JSON.stringify(c.expect)}`);

    await cli(project, ['write-down']);
    const status = JSON.parse(await cli(project, ['status', '--json'])) as { problems: { kind: string; message: string }[] };
    if (status.problems.length) throw new StepFailed(`status: ${status.problems.map((p) => `[${p.kind}] ${p.message}`).join('; ')}`);
    // Every check replays the files as up runs them: stamp's comparison, and check's history and replay (the
    // project's models are not the history's, so check's model comparisons are left out).
    await cli(project, ['stamp', 'head']);
    const checked = await check({ migrationsFolder: project.path('drizzle'), schemaPath: join(ROOT, 'src', 'schema', 'index.ts') });
    const disagreeing = checked.findings.filter((f) => f.check === 'history' || f.kind === 'migration-fails' || f.kind === 'models-sql-fails');
    if (disagreeing.length) throw new StepFailed(`check: ${disagreeing.map((f) => `[${f.check}/${f.kind}] ${f.message}`).join('; ')}`);
    await cli(project, ['verify']);
    await cli(project, ['down', 'base']);
    const left = withDb(project, (db) => normalizedSchema(db).filter((r) => r.name !== 'sqlite_sequence'));
    if (left.length) throw new StepFailed(`down base left ${left.map((r) => `${r.type} ${r.name}`).join(', ')}`);
    await cli(project, ['up']);

    const actual = withDb(project, normalizedSchema);
    const expected = referenceSchema(join(ROOT, 'test', 'fixtures', 'corpus', c.name));
    assert.deepEqual(actual, expected, 'the schema after down base and up is what plain better-sqlite3 makes of the same files');
  } finally {
    project.cleanup();
  }
}

// Two histories at a time: each step is a child process, so two keep both cores busy without oversubscribing them.
describe('corpus of real-shaped drizzle-kit histories', { concurrency: 2 }, () => {
  for (const c of CASES) {
    it(c.name, c.todo ? { todo: c.todo } : {}, () => runHistory(c));
  }
});
