import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { appliedRows, makeProject, schemaDump, tableNames, type TempProject } from './helpers/project.js';
import { writeMigrations } from './helpers/migrations.js';

/** Every row of every table, for "exactly as before" comparisons. */
function everyRow(db: Database.Database): Record<string, unknown[]> {
  return Object.fromEntries(tableNames(db).map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all()]));
}

describe('backups and restore', () => {
  let project: TempProject;
  const env = { DATABASE_URL: 'file:./app.db' };
  const backupFiles = () => readdirSync(project.path('backups')).filter((f) => f.endsWith('.db')).sort();

  before(async () => {
    project = makeProject({ withMigrations: false });
    writeMigrations(project.path('drizzle'), [
      { name: 'items', up: ['CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT, qty INTEGER)'], down: ['DROP TABLE items'] },
      { name: 'add_note', up: ['ALTER TABLE items ADD note TEXT', "UPDATE items SET note = 'n' || id"], down: ['ALTER TABLE items DROP COLUMN note'] },
      { name: 'unique_sku', up: ['CREATE UNIQUE INDEX items_sku_unique ON items (sku)'], down: ['DROP INDEX items_sku_unique'] },
    ]);
    assert.equal((await project.migrate(['up', '0000'], env)).code, 0);
    const db = project.open('app.db');
    db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO items (sku, qty) SELECT 'sku-' || (i % 1990), i FROM n`);
    db.close();
  });
  after(() => project.cleanup());

  it('a failed run is undone by restoring the backup taken before it, every row compared', async () => {
    let db = project.open('app.db');
    const rowsBefore = everyRow(db);
    const schemaBefore = schemaDump(db);
    db.close();

    const failed = await project.migrate(['up'], env);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /^Backed up to backups\/app\.db\.\d{8}T\d{9}Z\.0000_items\.db/m);
    // The failing unique index says which values are duplicated.
    assert.match(failed.stderr, /0002_unique_sku\.sql: statement 1 of 1 failed: UNIQUE constraint failed: items\.sku .*10 value\(s\) of items\(sku\) are duplicated, e\.g\. "sku-/);
    db = project.open('app.db');
    assert.equal(appliedRows(db).length, 2, '0001 applied, 0002 rolled back');
    db.close();

    const backups = await project.migrate(['backups', '--json'], env);
    const listed = JSON.parse(backups.stdout) as { backups: { file: string; revision: string }[] };
    assert.equal(listed.backups.length, 1);
    assert.equal(listed.backups[0]!.revision, '0000_items');

    const restored = await project.migrate(['restore', 'latest'], env);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /^Restored app\.db\.\d{8}T\d{9}Z\.0000_items\.db; the database is now at 0000_items\. The database as it was before is saved as app\.db\.\d+T\d+Z\.0001_add_note\.saved-before-restore\.db\.$/m);
    db = project.open('app.db');
    assert.deepEqual(everyRow(db), rowsBefore);
    assert.equal(schemaDump(db), schemaBefore);
    db.close();
    assert.equal(backupFiles().length, 2, 'the restored backup and the saved pre-restore copy');
  });

  it('a backup that cannot be written stops the run in one line before anything changes', async () => {
    const blocked = makeProject({ withMigrations: false });
    try {
      writeMigrations(blocked.path('drizzle'), [
        { name: 'items', up: ['CREATE TABLE items (id INTEGER PRIMARY KEY)'], down: ['DROP TABLE items'] },
        { name: 'more', up: ['CREATE TABLE more (id INTEGER PRIMARY KEY)'], down: ['DROP TABLE more'] },
      ]);
      assert.equal((await blocked.migrate(['up', '0000'], env)).code, 0);
      // A file where the backups folder would go.
      writeFileSync(blocked.path('backups'), 'not a folder');
      const db = blocked.open('app.db');
      const schemaBefore = schemaDump(db);
      db.close();
      const refused = await blocked.migrate(['up'], env);
      assert.equal(refused.code, 1, refused.stderr);
      const lines = refused.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, refused.stderr);
      assert.match(lines[0]!, /^error: could not back up .*app\.db to .*backups.*; nothing was changed \(use --no-backup to go on without one\)$/);
      const after = blocked.open('app.db');
      try {
        assert.equal(schemaDump(after), schemaBefore);
        assert.equal(appliedRows(after).length, 1);
      } finally {
        after.close();
      }
    } finally {
      blocked.cleanup();
    }
  });

  it('--no-backup takes none, --keep-backups keeps the newest N, down backs up too', async () => {
    const before = backupFiles();
    assert.equal((await project.migrate(['up', '+1', '--no-backup'], env)).code, 0);
    assert.deepEqual(backupFiles(), before);
    for (let i = 0; i < 2; i++) {
      const down = await project.migrate(['down', '--keep-backups', '2'], env);
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stdout, /^Backed up to /m);
      assert.equal((await project.migrate(['up', '+1', '--keep-backups', '2'], env)).code, 0);
    }
    // The newest 2, and beyond them only the newest backup of each revision (no revision loses its only one).
    const kept = backupFiles().reverse();
    const revisionOf = (f: string) => /^app\.db\.\d{8}T\d{9}Z\.(.+?)(\.saved-before-restore)?\.db$/.exec(f)![1]!;
    const beyond = kept.slice(2);
    assert.ok(kept.length >= 2);
    for (const [i, file] of beyond.entries()) {
      assert.ok(!kept.slice(0, 2 + i).some((newer) => revisionOf(newer) === revisionOf(file)), `${file} is the newest of its revision`);
    }
    assert.ok(before.filter((f) => !kept.includes(f)).length > 0, 'older backups of a revision that has newer ones were removed');
  });

  it('retries of a failing up never rotate away the only backup of the revision before them', async () => {
    const retries = makeProject({ withMigrations: false });
    try {
      writeMigrations(retries.path('drizzle'), [
        { name: 'items', up: ['CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT)'], down: ['DROP TABLE items'] },
        { name: 'add_note', up: ['ALTER TABLE items ADD note TEXT'], down: ['ALTER TABLE items DROP COLUMN note'] },
        { name: 'broken', up: ['ALTER TABLE items ADD x TEXT', 'SELECT * FROM no_such_table'], down: ['ALTER TABLE items DROP COLUMN x'] },
      ]);
      assert.equal((await retries.migrate(['up', '0000'], env)).code, 0);
      let db = retries.open('app.db');
      db.exec("INSERT INTO items (sku) VALUES ('a'), ('b')");
      db.close();
      const good = await retries.migrate(['up', '+1'], env);
      assert.equal(good.code, 0, good.stderr);
      const beforeGood = /^Backed up to backups\/(\S+) /m.exec(good.stdout)![1]!;
      db = retries.open('app.db');
      db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) INSERT INTO items (sku) SELECT 'u' || i FROM n`);
      db.close();
      const outputs: string[] = [];
      for (let i = 0; i < 6; i++) {
        const retry = await retries.migrate(['up', '--keep-backups', '3'], env);
        assert.equal(retry.code, 1, 'the broken migration fails');
        outputs.push(retry.stdout);
      }
      const files = readdirSync(retries.path('backups')).filter((f) => f.endsWith('.db'));
      assert.ok(files.includes(beforeGood), `the backup from before the last good change is kept: ${files.join(', ')}`);
      // The retries change nothing: the first takes a backup, the others find it holds the same state.
      assert.equal(files.length, 2, `that one and one backup of the retries' state: ${files.join(', ')}`);
      assert.match(outputs[0]!, /^Backed up to backups\/\S+ \(/m);
      for (const output of outputs.slice(1)) assert.match(output, /^Backed up: backups\/\S+ already holds this state \(same revision, same content digest\), not written again/m);
    } finally {
      retries.cleanup();
    }
  });

  it('restore refuses while another connection writes, and refuses a file that is not SQLite', async () => {
    const writer = project.open('app.db');
    writer.exec('BEGIN IMMEDIATE');
    writer.exec("INSERT INTO items (sku, qty) VALUES ('in-flight', 1)");
    const refused = await project.migrate(['restore', 'latest', '--lock-timeout', '0.5'], { DATABASE_URL: 'file:./app.db?timeout=200' });
    writer.exec('ROLLBACK');
    writer.close();
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: the database is locked by another connection writing to it/m);

    writeFileSync(project.path('backups', 'junk.db'), 'not a database'.repeat(100));
    const junk = await project.migrate(['restore', 'backups/junk.db'], env);
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /junk\.db is not a sound SQLite database/);

    const memory = await project.migrate(['backups', '--url', ':memory:']);
    assert.equal(memory.code, 1);
    assert.match(memory.stderr, /needs a database file/);
  });
});
