// The runner on a remote libSQL database: the real CLI, as child processes, with DATABASE_URL=http://… pointing
// at the Hrana-over-HTTP test double of sqld (test/helpers/hrana-server.ts) that serves a SQLite file.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startHranaServer, type HranaServer } from './helpers/hrana-server.js';
import { appliedRows, makeProject, schemaDump, tableNames, type RunResult, type TempProject } from './helpers/project.js';

const TOKEN = 'tok-Remote-s3cr3t-7f1c';
const outputs: string[] = [];

function assertExit(result: RunResult, code: number, what: string): void {
  outputs.push(result.stdout, result.stderr);
  assert.equal(result.code, code, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
}

/** A project with the renames fixture (down files written), a backing file, and a test server on it. */
async function remoteProject(token = TOKEN): Promise<{ project: TempProject; server: HranaServer; env: Record<string, string> }> {
  const project = makeProject({ fixture: 'renames' });
  assertExit(await project.migrate(['write-down']), 0, 'write-down');
  const server = await startHranaServer({ file: project.path('remote.db'), token });
  return { project, server, env: { DATABASE_URL: server.url, DATABASE_AUTH_TOKEN: TOKEN } };
}

/** Adds a hand-written migration after the last one. */
async function addMigration(project: TempProject, name: string, up: string, down: string): Promise<void> {
  assertExit(await project.migrate(['new', name]), 0, `new ${name}`);
  const files = readdirSync(project.path('drizzle'));
  const upFile = files.find((f) => f.endsWith(`_${name}.sql`));
  const downFile = files.find((f) => f.endsWith(`_${name}.down.sql`));
  assert.ok(upFile && downFile, `files of ${name}: ${files.join(', ')}`);
  writeFileSync(project.path('drizzle', upFile), up);
  writeFileSync(project.path('drizzle', downFile), down);
}

describe('remote libSQL (Hrana over HTTP)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    for (const text of outputs) assert.equal(text.includes(TOKEN), false, `the token was printed: ${text}`);
  });

  describe('commands', () => {
    let project: TempProject;
    let server: HranaServer;
    let env: Record<string, string>;
    before(async () => {
      ({ project, server, env } = await remoteProject());
      cleanups.push(() => server.close(), () => project.cleanup());
    });

    it('up applies every migration, with the same bookkeeping rows as a file database', async () => {
      const result = await project.migrate(['up'], env);
      assertExit(result, 0, 'up');
      assert.match(result.stdout, /No backup taken: the database is remote/);
      assert.match(result.stdout, /Running upgrade base -> 0000_init/);
      assert.match(result.stdout, /Applied 3 migrations/);
      assertExit(await project.migrate(['up', '--url', 'file:./local.db']), 0, 'up on a file');
      const remote = project.open('remote.db');
      const local = project.open('local.db');
      try {
        assert.equal(appliedRows(remote).length, 3);
        assert.deepEqual(appliedRows(remote), appliedRows(local));
        assert.deepEqual(tableNames(remote), tableNames(local));
        assert.equal(schemaDump(remote), schemaDump(local));
      } finally {
        remote.close();
        local.close();
      }
      assert.equal(server.openStreams(), 0, 'every stream was closed');
    });

    it('current, history and status read the remote database', async () => {
      const current = await project.migrate(['current'], env);
      assertExit(current, 0, 'current');
      assert.match(current.stdout, /0002_renames/);
      const history = await project.migrate(['history'], env);
      assertExit(history, 0, 'history');
      assert.match(history.stdout, /0000_init/);
      assert.match(history.stdout, /0001_rebuild_parent/);
      const status = await project.migrate(['status'], env);
      assertExit(status, 0, 'status');
      assert.match(status.stdout, /0002_renames/);
    });

    it('down reverts one migration, down base all of them', async () => {
      assertExit(await project.migrate(['down'], env), 0, 'down');
      let db = project.open('remote.db');
      assert.equal(appliedRows(db).length, 2);
      assert.ok(tableNames(db).includes('children'));
      db.close();
      assertExit(await project.migrate(['down', 'base'], env), 0, 'down base');
      db = project.open('remote.db');
      assert.deepEqual(appliedRows(db), []);
      assert.deepEqual(
        tableNames(db).filter((t) => t !== '__drizzle_migrations'),
        [],
      );
      db.close();
    });
  });

  it('a parent-table rebuild keeps its ON DELETE CASCADE child rows', async () => {
    const { project, server, env } = await remoteProject();
    cleanups.push(() => server.close(), () => project.cleanup());
    assertExit(await project.migrate(['up', '0000'], env), 0, 'up 0000');
    const db = project.open('remote.db');
    db.exec(`INSERT INTO parents (id, name) VALUES (1, 'a'), (2, 'b');
             INSERT INTO children (id, parent_id, note) VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'z');`);
    db.close();
    assertExit(await project.migrate(['up'], env), 0, 'up');
    const after = project.open('remote.db');
    try {
      assert.deepEqual(after.prepare('SELECT id, parent_id, memo FROM kids ORDER BY id').all(), [
        { id: 1, parent_id: 1, memo: 'x' },
        { id: 2, parent_id: 1, memo: 'y' },
        { id: 3, parent_id: 2, memo: 'z' },
      ]);
      assert.equal((after.prepare('SELECT count(*) AS n FROM parents').get() as { n: number }).n, 2);
    } finally {
      after.close();
    }
    // The foreign-key procedure ran on one stream, in order.
    const rebuild = server.log.findIndex((e) => e.sql.some((s) => s.includes('CREATE TABLE `__new_parents`')));
    assert.ok(rebuild > 0);
    const stream = server.log[rebuild]!.stream;
    const onStream = server.log.filter((e) => e.stream === stream).flatMap((e) => e.sql.map((s) => s.replace(/\s+/g, ' ').trim()));
    const at = (pattern: RegExp, from = 0) => onStream.findIndex((s, i) => i >= from && pattern.test(s));
    assert.ok(at(/PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE/) >= 0, onStream.join('\n'));
    assert.ok(at(/PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE/) < at(/__new_parents/));
    // The foreign-key check after the statements: the tables that say REFERENCES, their keys, then one query per key
    // (the pragma only when one finds a row).
    const check = at(/instr\(lower\(sql\), 'references'\)/, at(/DROP TABLE `parents`/));
    assert.ok(check > 0, onStream.join('\n'));
    assert.ok(at(/FROM pragma_foreign_key_list\(\?\)/, check) > check, onStream.join('\n'));
    assert.ok(at(/IN \(SELECT p\."id" FROM "parents" AS p\)\) IS NOT 1/, check) > check, onStream.join('\n'));
    assert.ok(check < at(/INSERT INTO "__drizzle_migrations"/i));
    assert.ok(at(/INSERT INTO "__drizzle_migrations"/i) < at(/^COMMIT$/));
  });

  it('a migration that fails half way leaves the remote database unchanged', async () => {
    const { project, server, env } = await remoteProject();
    cleanups.push(() => server.close(), () => project.cleanup());
    assertExit(await project.migrate(['up'], env), 0, 'up');
    await addMigration(project, 'broken', 'CREATE TABLE `t1` (`x` integer);\n--> statement-breakpoint\nINSERT INTO `nope` VALUES (1);\n', 'DROP TABLE `t1`;\n');
    const db = project.open('remote.db');
    const was = { schema: schemaDump(db), rows: appliedRows(db) };
    db.close();
    const result = await project.migrate(['up'], env);
    assertExit(result, 1, 'up with a broken migration');
    assert.match(result.stderr, /^error: .*_broken\.sql: statement 2 of 2 failed: .*no such table: nope/m);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    const afterDb = project.open('remote.db');
    try {
      assert.equal(schemaDump(afterDb), was.schema);
      assert.deepEqual(appliedRows(afterDb), was.rows);
    } finally {
      afterDb.close();
    }
  });

  it('a migration that leaves a foreign-key violation is rolled back', async () => {
    const { project, server, env } = await remoteProject();
    cleanups.push(() => server.close(), () => project.cleanup());
    assertExit(await project.migrate(['up'], env), 0, 'up');
    await addMigration(project, 'orphan', "INSERT INTO `kids` (`id`, `parent_id`, `memo`) VALUES (100, 999, 'orphan');\n", 'DELETE FROM `kids` WHERE `id` = 100;\n');
    const result = await project.migrate(['up'], env);
    assertExit(result, 1, 'up with an orphan row');
    assert.match(result.stderr, /^error: .*_orphan\.sql: foreign key check failed: 1 row\(s\) violate foreign keys, e\.g\. kids rowid 100 references a missing row of parents \(parent_id=999\); rolled back/m);
    const db = project.open('remote.db');
    try {
      assert.equal((db.prepare('SELECT count(*) AS n FROM kids WHERE id = 100').get() as { n: number }).n, 0);
      assert.equal(appliedRows(db).length, 3);
    } finally {
      db.close();
    }
  });

  it('a wrong token is a one-line error that does not print it', async () => {
    const { project, server } = await remoteProject();
    cleanups.push(() => server.close(), () => project.cleanup());
    const wrong = 'tok-Wrong-0a9e';
    const result = await project.migrate(['up'], { DATABASE_URL: server.url, DATABASE_AUTH_TOKEN: wrong });
    assertExit(result, 1, 'up with a wrong token');
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /^error: the libSQL server at http:\/\/127\.0\.0\.1:\d+ refused the token in DATABASE_AUTH_TOKEN \(HTTP 401\); nothing was changed$/m);
    assert.equal(result.stdout.includes(wrong) || result.stderr.includes(wrong), false);
    const missing = await project.migrate(['current'], { DATABASE_URL: server.url });
    assertExit(missing, 1, 'current without a token');
    assert.match(missing.stderr, /refused no auth token \(DATABASE_AUTH_TOKEN is not set\)/);
  });
});
