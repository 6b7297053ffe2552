import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { compareSchemas } from '../src/engine/diff/compare.js';
import type { NormalizedSchema } from '../src/engine/diff/introspect.js';
import { schemaOf } from './helpers/schema.js';

/** The schema that `sql` gives on a new in-memory database. */
async function schemaFrom(sql: string): Promise<NormalizedSchema> {
  const db = new Database(':memory:');
  try {
    db.exec(sql);
    return await schemaOf(db);
  } finally {
    db.close();
  }
}

describe('compareSchemas', () => {
  it('finds a table missing or extra even when it is named like a property of every object', async () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      const without = await schemaFrom('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      const withIt = await schemaFrom(`CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE TABLE "${name}" (id INTEGER PRIMARY KEY)`);
      assert.deepEqual(compareSchemas(withIt, without, { expected: 'E', actual: 'A' }), [`table ${name} is missing from A`]);
      assert.deepEqual(compareSchemas(without, withIt, { expected: 'E', actual: 'A' }), [`table ${name} is in A but not in E`]);
    }
  });

  it('compares tables whose shapes are equal but not the same object, and skips the same object', async () => {
    const a = await schemaFrom('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)');
    const b = await schemaFrom('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    assert.deepEqual(compareSchemas(a, a), []);
    assert.deepEqual(compareSchemas(a, await schemaFrom('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)')), []);
    assert.deepEqual(compareSchemas(a, b, { expected: 'E', actual: 'A' }), ['column t.name notNull differs: E has false, A has true']);
  });
});
