// Generated rows typed by each column's declared affinity, and foreign-key values that every later change of
// affinity keeps as the same text. A JS number is bound as a REAL, so an integer key copied into a TEXT column was
// stored as '13.0'; a rebuild to INTEGER made it 13 and the down's rebuild back to TEXT made it '13', and verify
// reported the rows lost though the migration lost nothing.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { openBetterSqlite } from '../src/db/better-sqlite3.js';
import { affinityOf } from '../src/engine/affinity.js';
import { Counter, keyValueFor, seedRows, valueFor } from '../src/engine/checks/seed.js';
import { introspect } from '../src/engine/diff/introspect.js';
import { makeProject, type RunResult, type TempProject } from './helpers/project.js';

function assertExit(result: RunResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

describe('column affinity (SQLite datatype3, 3.1)', () => {
  const cases: [string, string][] = [
    ['INTEGER', 'INTEGER'],
    ['tinyint', 'INTEGER'],
    ['CHARINT', 'INTEGER'], // rule 1 before rule 2
    ['text', 'TEXT'],
    ['varchar(20)', 'TEXT'],
    ['CLOB', 'TEXT'],
    ['blob', 'BLOB'],
    ['', 'BLOB'],
    ['real', 'REAL'],
    ['FLOATING POINT', 'INTEGER'], // "POINT" holds INT
    ['double precision', 'REAL'],
    ['numeric', 'NUMERIC'],
    ['decimal(10,2)', 'NUMERIC'],
    ['boolean', 'NUMERIC'],
    ['date', 'NUMERIC'],
  ];
  for (const [declared, affinity] of cases) it(`${JSON.stringify(declared)} has ${affinity} affinity`, () => assert.equal(affinityOf(declared), affinity));

  it('generated values per affinity', () => {
    assert.equal(valueFor('INTEGER', 7), 7);
    assert.equal(valueFor('text', 7), 'value 7');
    assert.equal(valueFor('real', 7), 7.5);
    assert.ok(Buffer.isBuffer(valueFor('blob', 7)));
    assert.equal(valueFor('', 7), 'value 7');
    assert.equal(valueFor('ANY', 7), 'value 7');
    assert.equal(valueFor('numeric', 7), 7);
  });

  it('a key copied into a child column is stored as an app would store it there', () => {
    assert.equal(keyValueFor('text', 13), '13');
    assert.equal(keyValueFor('text', 13.5), '13.5');
    assert.equal(keyValueFor('integer', 13), 13n);
    assert.equal(keyValueFor('', 13), 13n);
    assert.equal(keyValueFor('numeric', 13), 13n);
    assert.equal(keyValueFor('real', 13), 13);
    assert.equal(keyValueFor('integer', 'value 3'), 'value 3');
    assert.equal(keyValueFor('text', null), null);
  });
});

describe('seeding', () => {
  it('puts an integer key into TEXT, untyped and REAL child columns with the storage class that survives a change of affinity', async () => {
    const db = openBetterSqlite({ kind: 'memory' });
    try {
      await db.exec(`
        CREATE TABLE parent (id integer PRIMARY KEY);
        CREATE TABLE child (id integer PRIMARY KEY, as_text text REFERENCES parent(id), untyped REFERENCES parent(id), as_real real REFERENCES parent(id));
      `);
      assert.deepEqual(await seedRows(db, await introspect(db), 3, new Counter()), []);
      const rows = await db.all<Record<string, unknown>>(
        'SELECT c.as_text, typeof(c.as_text) AS t, typeof(c.untyped) AS u, typeof(c.as_real) AS r, p.id FROM child c JOIN parent p ON p.id = c.as_text ORDER BY c.id',
      );
      assert.equal(rows.length, 3);
      for (const row of rows) {
        assert.equal(row.as_text, String(row.id));
        assert.deepEqual([row.t, row.u, row.r], ['text', 'integer', 'real']);
      }
      // What a rebuild to INTEGER and back to TEXT does to the value: nothing.
      const [again] = await db.all<{ same: number }>('SELECT count(*) AS same FROM child WHERE CAST(CAST(as_text AS INTEGER) AS TEXT) = as_text');
      assert.equal(again!.same, 3);
      assert.deepEqual(await db.all('PRAGMA foreign_key_check'), []);
    } finally {
      await db.close();
    }
  });
});

describe('verify on a history where a TEXT column referencing an integer key becomes INTEGER (a rebuild)', () => {
  let project: TempProject;
  before(() => {
    project = makeProject({ withMigrations: false });
  });
  after(() => project.cleanup());

  const models = (ownerType: 'text' | 'integer') => `import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
export const users = sqliteTable('users', { id: integer('id').primaryKey(), name: text('name') });
export const notes = sqliteTable('notes', { id: integer('id').primaryKey(), ownerId: ${ownerType}('owner_id').references(() => users.id), body: text('body') });
`;

  it('passes: the generated rows come back from the down exactly', async () => {
    for (const [name, ownerType] of [['init', 'text'], ['owner_integer', 'integer']] as const) {
      writeFileSync(project.path('src', 'schema', 'index.ts'), models(ownerType));
      const generated = await project.run(process.execPath, ['node_modules/drizzle-kit/bin.cjs', 'generate', '--name', name]);
      assertExit(generated, 0, `drizzle-kit generate ${name}`);
    }
    assert.match(readFileSync(project.path('drizzle', '0001_owner_integer.sql'), 'utf8'), /CREATE TABLE `__new_notes`/, 'drizzle-kit rebuilds notes');
    assertExit(await project.migrate(['write-down']), 0, 'write-down');
    const verified = await project.migrate(['verify']);
    assertExit(verified, 0, 'verify');
    assert.match(verified.stdout, /Verified 2 migrations/);
  });
});
