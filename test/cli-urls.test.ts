// End-to-end tests of database URLs (file:, plain paths, SQLAlchemy's sqlite:, DATABASE_URL, :memory:,
// query parameters, remote and foreign schemes) and of `stamp`, run as child processes in a temporary
// copy of the project. Each URL must land in the right file of the project folder, and nowhere else.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { appliedRows, makeProject, schemaDump, tableNames, type RunResult, type TempProject } from './helpers/project.js';

const INITIAL = '0000_initial_migration';

function assertExit(result: RunResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

function errorLine(result: RunResult): string {
  const lines = result.stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(lines.length, 1, `one error line in:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
  return lines[0]!;
}

/** The runner's own objects: tables whose names start with `__` (`__drizzle_migrations`, …) and their automatic indexes. */
const RUNNER_OBJECT = /^(sqlite_autoindex_)?__/;

interface Inspection {
  /** The app's tables (the runner's own left out). */
  tables: string[];
  hasBookkeeping: boolean;
  rows: { hash: string; created_at: number }[];
  /** Schema text of the app's objects only. */
  appSchema: string;
  /** Schema text of everything. */
  schema: string;
}

function inspect(project: TempProject, file: string): Inspection {
  const db = project.open(file);
  try {
    const schema = schemaDump(db);
    const appSchema = schema
      .split('\n')
      .filter((line) => line !== '' && !RUNNER_OBJECT.test((JSON.parse(line) as { name: string }).name))
      .join('\n');
    const all = tableNames(db);
    return { tables: all.filter((t) => !t.startsWith('__')), hasBookkeeping: all.includes('__drizzle_migrations'), rows: appliedRows(db), appSchema, schema };
  } finally {
    db.close();
  }
}

describe('database URL forms', () => {
  let project: TempProject;
  let expectedRow: { hash: string; created_at: number };

  /** `up` through one URL form, then `current` through another form of the same file: both must reach `file`. */
  const upThenCurrent = async (upUrl: string, currentUrl: string, file: string) => {
    assert.equal(existsSync(project.path(file)), false, `${file} does not exist yet`);
    const up = await project.migrate(['up', '--url', upUrl]);
    assertExit(up, 0, `up --url ${upUrl}`);
    assert.match(up.stdout, /^Applied 1 migration in .*: base -> 0000_initial_migration\.$/m);
    assert.ok(existsSync(project.path(file)), `up --url ${upUrl} created ${file}`);
    const { tables, hasBookkeeping, rows } = inspect(project, file);
    assert.deepEqual(tables, ['users']);
    assert.ok(hasBookkeeping);
    assert.deepEqual(rows, [expectedRow]);

    const current = await project.migrate(['current', '--url', currentUrl]);
    assertExit(current, 0, `current --url ${currentUrl}`);
    assert.equal(current.stdout, `${INITIAL} (head)\n`, `current --url ${currentUrl} reads ${file}`);
  };

  before(() => {
    project = makeProject({ fixture: 'initial' });
    const journal = JSON.parse(readFileSync(project.path('drizzle', 'meta', '_journal.json'), 'utf8')) as { entries: { when: number }[] };
    const upText = readFileSync(project.path('drizzle', `${INITIAL}.sql`)).toString();
    expectedRow = { hash: createHash('sha256').update(upText).digest('hex'), created_at: journal.entries[0]!.when };
  });
  after(() => {
    // No URL form fell back to the default database.
    assert.equal(existsSync(project.path('data')), false, 'data/ was never created');
    project.cleanup();
  });

  it('file:./x.db (current via sqlite:///x.db)', () => upThenCurrent('file:./x.db', 'sqlite:///x.db', 'x.db'));

  it('file:<absolute path> (current via sqlite:////<absolute path>)', () =>
    upThenCurrent(`file:${project.path('abs1.db')}`, `sqlite:///${project.path('abs1.db')}`, 'abs1.db'));

  it('file:///<absolute path> (current via the plain absolute path)', () =>
    upThenCurrent(`file://${project.path('abs2.db')}`, project.path('abs2.db'), 'abs2.db'));

  it('a plain relative path rel.db (current via file:rel.db)', () => upThenCurrent('rel.db', 'file:rel.db', 'rel.db'));

  it('sqlite:///rel2.db (current via the plain path)', () => upThenCurrent('sqlite:///rel2.db', 'rel2.db', 'rel2.db'));

  it('sqlite:////<absolute path> (current via file:///<absolute path>)', () =>
    upThenCurrent(`sqlite:///${project.path('abs3.db')}`, `file://${project.path('abs3.db')}`, 'abs3.db'));

  it('sqlite+aiosqlite:///rel3.db (current via the same URL)', () =>
    upThenCurrent('sqlite+aiosqlite:///rel3.db', 'sqlite+aiosqlite:///rel3.db', 'rel3.db'));

  it('DATABASE_URL is used when there is no --url, --url overrides it, and current does not create the missing file', async () => {
    const env = { DATABASE_URL: 'file:./envdir/env.db' };

    const overridden = await project.migrate(['up', '--url', 'file:./over.db'], env);
    assertExit(overridden, 0, 'up --url over DATABASE_URL');
    assert.ok(existsSync(project.path('over.db')), '--url wins');
    assert.deepEqual(inspect(project, 'over.db').rows, [expectedRow]);
    assert.equal(existsSync(project.path('envdir')), false, 'DATABASE_URL was not opened');

    const current = await project.migrate(['current'], env);
    assertExit(current, 0, 'current with DATABASE_URL on a missing file');
    assert.equal(current.stdout, 'base (1 pending)\n');
    assert.equal(existsSync(project.path('envdir')), false, 'current created neither the file nor its folder');

    const up = await project.migrate(['up'], env);
    assertExit(up, 0, 'up with DATABASE_URL');
    assert.ok(existsSync(project.path('envdir', 'env.db')), 'DATABASE_URL file created, with its folder');
    assert.deepEqual(inspect(project, 'envdir/env.db').rows, [expectedRow]);
  });

  it(':memory: migrates a throw-away database and writes no file', async () => {
    const was = readdirSync(project.dir).sort();
    const result = await project.migrate(['up', '--url', ':memory:']);
    assertExit(result, 0, 'up --url :memory:');
    assert.match(result.stdout, /^Applied 1 migration in .*: base -> 0000_initial_migration\.$/m);
    assert.deepEqual(readdirSync(project.dir).sort(), was);
  });

  it('mode=ro on a missing file exits 1 and creates nothing', async () => {
    const result = await project.migrate(['up', '--url', 'file:./ro.db?mode=ro']);
    assertExit(result, 1, 'up on a missing read-only file');
    assert.match(errorLine(result), /^error: cannot open database \.\/ro\.db: /);
    assert.equal(existsSync(project.path('ro.db')), false);
  });

  it('mode=ro on a migrated file: current works, down exits 1 and the database is unchanged', async () => {
    const was = inspect(project, 'x.db');
    assert.equal(was.rows.length, 1);

    const current = await project.migrate(['current', '--url', 'file:./x.db?mode=ro']);
    assertExit(current, 0, 'current on a read-only URL');
    assert.equal(current.stdout, `${INITIAL} (head)\n`);

    const down = await project.migrate(['down', '--url', 'file:./x.db?mode=ro']);
    assertExit(down, 1, 'down on a read-only URL');
    assert.match(errorLine(down), /readonly database/);
    assert.deepEqual(inspect(project, 'x.db'), was);
  });

  it('an unknown query parameter exits 1 naming it, and creates nothing', async () => {
    const result = await project.migrate(['up', '--url', 'file:./q.db?foo=1']);
    assertExit(result, 1, 'up with ?foo=1');
    assert.match(errorLine(result), /^error: unsupported query parameter 'foo' in database URL 'file:\.\/q\.db\?foo=1' \(supported: mode, timeout\)$/);
    assert.equal(existsSync(project.path('q.db')), false);
  });

  it('a libsql:// URL is opened through @libsql/client: an unreachable server exits 1 with a one-line error', async () => {
    // A loopback port nothing listens on; test/remote-libsql.test.ts covers a real (test double) server.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const result = await project.migrate(['up', '--url', `libsql://127.0.0.1:${port}?tls=0`]);
    assertExit(result, 1, 'up with libsql://');
    assert.match(errorLine(result), new RegExp(`^error: cannot reach the libSQL server at libsql://127\\.0\\.0\\.1:${port}\\?tls=0: ECONNREFUSED; nothing was changed$`));
  });

  it('a postgres:// URL exits 1: unsupported scheme', async () => {
    const result = await project.migrate(['up', '--url', 'postgres://x']);
    assertExit(result, 1, 'up with postgres://');
    assert.match(errorLine(result), /^error: unsupported database URL scheme 'postgres:' in 'postgres:\/\/x'/);
  });
});

describe('stamp', () => {
  let project: TempProject;
  let upText: string;
  let expectedRow: { hash: string; created_at: number };

  /** Creates a database file of the project by running SQL directly, without the runner. */
  const createDb = (file: string, sql: string) => {
    const db = new Database(project.path(file));
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
  };

  before(() => {
    project = makeProject({ fixture: 'initial' });
    upText = readFileSync(project.path('drizzle', `${INITIAL}.sql`)).toString();
    const journal = JSON.parse(readFileSync(project.path('drizzle', 'meta', '_journal.json'), 'utf8')) as { entries: { when: number }[] };
    expectedRow = { hash: createHash('sha256').update(upText).digest('hex'), created_at: journal.entries[0]!.when };
  });
  after(() => project.cleanup());

  it('stamp head adopts a database made by running the migration SQL directly; current then shows the head', async () => {
    createDb('adopt.db', upText);
    const was = inspect(project, 'adopt.db');
    assert.deepEqual(was.tables, ['users']);

    const result = await project.migrate(['stamp', 'head', '--url', 'file:./adopt.db']);
    assertExit(result, 0, 'stamp head');
    assert.equal(result.stdout, `Stamped ${INITIAL} (was base); no SQL was run.\n`);
    assert.equal(result.stderr, '');
    const now = inspect(project, 'adopt.db');
    assert.deepEqual(now.tables, ['users']);
    assert.ok(now.hasBookkeeping);
    assert.deepEqual(now.rows, [expectedRow]);
    assert.equal(now.appSchema, was.appSchema, 'no SQL of the migration was run');
    assert.equal(was.appSchema, was.schema, 'the adopted database had nothing of the runner');

    const current = await project.migrate(['current', '--url', 'file:./adopt.db']);
    assertExit(current, 0, 'current after stamp');
    assert.equal(current.stdout, `${INITIAL} (head)\n`);
  });

  it('stamp base removes the bookkeeping rows of a database whose tables are gone', async () => {
    createDb('adopt.db', 'DROP TABLE `users`;');
    const result = await project.migrate(['stamp', 'base', '--url', 'adopt.db']);
    assertExit(result, 0, 'stamp base');
    assert.equal(result.stdout, `Stamped base (was ${INITIAL}); no SQL was run.\n`);
    assert.deepEqual(inspect(project, 'adopt.db').rows, []);
  });

  it('stamp head on a database whose users table lacks a column exits 1 listing the difference; --force stamps anyway', async () => {
    // The initial migration without `updated_at`.
    createDb('drifted.db', upText.replace(/\n\t`updated_at`[^\n]*\n/, '\n').replace(/NOT NULL,\n\);/, 'NOT NULL\n);'));
    const was = inspect(project, 'drifted.db');
    assert.deepEqual(was.tables, ['users']);

    const refused = await project.migrate(['stamp', 'head', '--url', 'file:./drifted.db']);
    assertExit(refused, 1, 'stamp head on a drifted database');
    assert.equal(
      errorLine(refused),
      `error: the database does not match ${INITIAL}: column users.updated_at is missing from the database (pass --force to stamp anyway)`,
    );
    assert.deepEqual(inspect(project, 'drifted.db'), was, 'a refused stamp leaves the database exactly as it was');

    const forced = await project.migrate(['stamp', 'head', '--force', '--url', 'file:./drifted.db']);
    assertExit(forced, 0, 'stamp head --force');
    assert.equal(forced.stderr, 'warning: column users.updated_at is missing from the database\n');
    assert.equal(forced.stdout, `Stamped ${INITIAL} (was base) despite 1 difference(s); no SQL was run.\n`);
    assert.deepEqual(inspect(project, 'drifted.db').rows, [expectedRow]);
  });

  it('stamp base --force on a database that still has its tables removes the rows and warns about the tables', async () => {
    const result = await project.migrate(['stamp', 'base', '--force', '--url', 'file:./drifted.db', '--json']);
    assertExit(result, 0, 'stamp base --force --json');
    const out = JSON.parse(result.stdout) as { ok: boolean; from: string; to: string; differences: string[] };
    assert.deepEqual(out, {
      ok: true,
      from: INITIAL,
      to: 'base',
      differences: ['table users is in the database but not in the migrations up to base'],
    });
    const now = inspect(project, 'drifted.db');
    assert.deepEqual(now.rows, []);
    assert.deepEqual(now.tables, ['users'], 'stamp runs no SQL: users stays');
  });

  it('a database that also has an alembic_version table stamps fine (the table is not compared, and is left alone)', async () => {
    createDb(
      'alembic.db',
      `${upText};\nCREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));\nINSERT INTO alembic_version (version_num) VALUES ('1a2b3c4d5e6f');`,
    );
    const result = await project.migrate(['stamp', 'head', '--url', 'sqlite:///alembic.db']);
    assertExit(result, 0, 'stamp head with alembic_version');
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, `Stamped ${INITIAL} (was base); no SQL was run.\n`);
    const now = inspect(project, 'alembic.db');
    assert.deepEqual(now.tables, ['alembic_version', 'users']);
    assert.ok(now.hasBookkeeping);
    assert.deepEqual(now.rows, [expectedRow]);
    const db = project.open('alembic.db');
    try {
      assert.deepEqual(db.prepare('SELECT version_num FROM alembic_version').all(), [{ version_num: '1a2b3c4d5e6f' }]);
    } finally {
      db.close();
    }
  });
});
