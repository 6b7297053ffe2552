import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openBetterSqlite } from '../src/db/better-sqlite3.js';
import { anyForeignKeyMayBeViolated, findForeignKeyViolations } from '../src/engine/foreign-keys.js';

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

/**
 * The quick check must never say "no violation" where the pragma finds one (the migration would commit a broken
 * database), and should not cry wolf either (the pragma then costs seconds on a large table). Random parent keys
 * (rowid, text, NOCASE, numeric, untyped, composite, WITHOUT ROWID) and child columns of every affinity, filled
 * with values that convert differently under each affinity ('05', ' 5', 5.0, 'A' and 'a', blobs, NULL).
 */
describe('anyForeignKeyMayBeViolated answers as PRAGMA foreign_key_check on random keys and values', () => {
  const parents = [
    'CREATE TABLE p (k INTEGER PRIMARY KEY)',
    'CREATE TABLE p (k INTEGER PRIMARY KEY DESC)',
    'CREATE TABLE p (k TEXT PRIMARY KEY)',
    'CREATE TABLE p (k TEXT UNIQUE)',
    'CREATE TABLE p (k TEXT COLLATE NOCASE UNIQUE)',
    'CREATE TABLE p (k TEXT COLLATE RTRIM PRIMARY KEY) WITHOUT ROWID',
    'CREATE TABLE p (k INTEGER UNIQUE)',
    'CREATE TABLE p (k REAL UNIQUE)',
    'CREATE TABLE p (k NUMERIC PRIMARY KEY)',
    'CREATE TABLE p (k BLOB UNIQUE)',
    'CREATE TABLE p (k UNIQUE)',
    'CREATE TABLE p (k TEXT, j INTEGER, UNIQUE (j, k))',
    'CREATE TABLE p (k TEXT COLLATE NOCASE, j, PRIMARY KEY (k, j))',
  ];
  const childTypes = ['INTEGER', 'TEXT', 'TEXT COLLATE NOCASE', 'REAL', 'NUMERIC', 'BLOB', ''];
  const values = ['1', '2', '5', '5.0', '5.5', "'5'", "'05'", "' 5'", "'5.0'", "'a'", "'A'", "'a '", "'abc'", "'ABC'", "x'05'", "x'61'", 'NULL', '1e20', "'1e1'", '10'];
  let seed = 20261201;
  const random = (n: number) => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
    return ((seed >>> 0) % 1_000_003) % n;
  };
  const pick = <T>(list: T[]) => list[random(list.length)]!;

  const CASES = Number(process.env.FK_CASES ?? 600);
  it(`${CASES} random cases: the same answer every time`, async () => {
    const disagreements: string[] = [];
    let withViolations = 0;
    for (let n = 0; n < CASES; n++) {
      const parent = pick(parents);
      const composite = parent.includes(' j');
      const childType = pick(childTypes);
      const child = composite
        ? `CREATE TABLE c (x ${childType}, y ${pick(childTypes)}, FOREIGN KEY (x, y) REFERENCES p (k, j))`
        : `CREATE TABLE c (x ${childType} REFERENCES p${random(2) ? ' (k)' : parent.includes('PRIMARY KEY') ? '' : ' (k)'})`;
      const rows = (count: number, width: number) =>
        Array.from({ length: count }, () => `(${Array.from({ length: width }, () => pick(values)).join(', ')})`).join(', ');
      const parentRows = Array.from({ length: 1 + random(6) }, () => `INSERT OR IGNORE INTO p VALUES ${rows(1, composite ? 2 : 1)}`);
      const childRows = `INSERT INTO c VALUES ${rows(1 + random(4), composite ? 2 : 1)}`;
      const sql = `${parent}; ${child}; ${childRows}; ${parentRows.join('; ')}`;
      const db = openBetterSqlite({ kind: 'memory' });
      try {
        await db.exec('PRAGMA foreign_keys = OFF');
        await db.exec(`${parent}; ${child}; ${childRows}`);
        // A rowid refuses a value that is not an integer: that row is left out.
        for (const insert of parentRows) await db.exec(insert).catch(() => {});
        // A key that no unique index serves makes the pragma fail ("foreign key mismatch"): the quick check must then
        // hand over to the pragma, which reports it.
        const pragma = await db.all('PRAGMA foreign_key_check').catch(() => [{ mismatch: true }]);
        if (pragma.length > 0) withViolations++;
        const quick = await anyForeignKeyMayBeViolated(db);
        if (quick !== pragma.length > 0) disagreements.push(`${quick ? 'false alarm' : 'MISSED'}: ${sql}`);
      } finally {
        await db.close();
      }
    }
    assert.deepEqual(disagreements, []);
    assert.ok(withViolations > CASES / 10 && withViolations < CASES * 0.9, `both answers are exercised (${withViolations} of ${CASES} with violations)`);
  });
});
