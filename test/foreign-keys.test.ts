import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openBetterSqlite } from '../src/db/better-sqlite3.js';
import { findForeignKeyViolations } from '../src/engine/foreign-keys.js';

/**
 * The runner's check before each commit answers "any violation?" with one query per key and asks the pragma only
 * then: on every kind of key it must report exactly what `PRAGMA foreign_key_check` reports.
 */
describe('findForeignKeyViolations agrees with PRAGMA foreign_key_check', () => {
  const cases: { name: string; sql: string; violations: number }[] = [
    { name: 'no foreign keys at all', sql: 'CREATE TABLE a (id integer PRIMARY KEY); INSERT INTO a VALUES (1);', violations: 0 },
    {
      name: 'every child has its parent',
      sql: 'CREATE TABLE p (id integer PRIMARY KEY); CREATE TABLE c (id integer PRIMARY KEY, p_id integer REFERENCES p(id)); INSERT INTO p VALUES (1), (2); INSERT INTO c VALUES (1, 1), (2, 2), (3, NULL);',
      violations: 0,
    },
    {
      name: 'an orphan child',
      sql: 'CREATE TABLE p (id integer PRIMARY KEY); CREATE TABLE c (id integer PRIMARY KEY, p_id integer REFERENCES p(id)); INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1), (2, 7), (3, 8);',
      violations: 2,
    },
    {
      name: "a key naming no column: the parent's primary key",
      sql: 'CREATE TABLE p (id integer PRIMARY KEY); CREATE TABLE c (id integer PRIMARY KEY, p_id integer REFERENCES p); INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1), (2, 2);',
      violations: 1,
    },
    {
      name: 'a composite key, NULL in one part is no violation',
      sql: `CREATE TABLE p (a integer, b text, PRIMARY KEY (a, b)); CREATE TABLE c (x integer, y text, FOREIGN KEY (x, y) REFERENCES p(a, b));
            INSERT INTO p VALUES (1, 'k'); INSERT INTO c VALUES (1, 'k'), (1, NULL), (1, 'nope'), (2, 'k');`,
      violations: 2,
    },
    {
      name: 'a parent table that does not exist (dropped by a migration)',
      sql: 'CREATE TABLE c (id integer PRIMARY KEY, p_id integer REFERENCES gone(id)); INSERT INTO c VALUES (1, 1), (2, NULL);',
      violations: 1,
    },
    {
      name: 'a text key compared with the parent column affinity and collation',
      sql: `CREATE TABLE p (code text PRIMARY KEY COLLATE NOCASE); CREATE TABLE c (id integer PRIMARY KEY, code text REFERENCES p(code));
            INSERT INTO p VALUES ('ABC'); INSERT INTO c VALUES (1, 'abc'), (2, 'ABC'), (3, 'x');`,
      violations: 1,
    },
    {
      name: 'a self-reference',
      sql: 'CREATE TABLE t (id integer PRIMARY KEY, parent integer REFERENCES t(id)); INSERT INTO t VALUES (1, NULL), (2, 1), (3, 9);',
      violations: 1,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const db = openBetterSqlite({ kind: 'memory' });
      try {
        await db.exec('PRAGMA foreign_keys = OFF');
        await db.exec(c.sql);
        const pragma = await db.all('PRAGMA foreign_key_check');
        assert.equal(pragma.length, c.violations, 'the case sets up what it says');
        assert.deepEqual(await findForeignKeyViolations(db), pragma);
      } finally {
        await db.close();
      }
    });
  }
});
