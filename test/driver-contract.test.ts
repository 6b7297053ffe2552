// One set of cases for every Driver: better-sqlite3 on a file, and @libsql/client against the Hrana test
// double of sqld (test/helpers/hrana-server.ts) over a file. What the engine relies on must hold for both.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openBetterSqlite } from '../src/db/better-sqlite3.js';
import type { Driver } from '../src/db/driver.js';
import { openLibsql } from '../src/db/libsql.js';
import { executeSteps } from '../src/engine/executor.js';
import { planSteps } from '../src/engine/steps.js';
import { startHranaServer, type HranaServer } from './helpers/hrana-server.js';

interface Subject {
  name: string;
  open(): Promise<Driver>;
}

const folder = mkdtempSync(join(tmpdir(), 'driver-contract-'));
const servers: HranaServer[] = [];
after(async () => {
  for (const server of servers) await server.close();
  rmSync(folder, { recursive: true, force: true });
});

let counter = 0;
const subjects: Subject[] = [
  { name: 'better-sqlite3', open: async () => openBetterSqlite({ kind: 'file', path: join(folder, `b${++counter}.db`), readonly: false, fileMustExist: false }) },
  {
    name: '@libsql/client over Hrana HTTP',
    open: async () => {
      const server = await startHranaServer({ file: join(folder, `l${++counter}.db`), token: 'contract-token' });
      servers.push(server);
      process.env.DATABASE_AUTH_TOKEN = 'contract-token';
      return openLibsql(server.url);
    },
  },
];

const PARENT_CHILD = `CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents(id) ON DELETE CASCADE);
INSERT INTO parents VALUES (1, 'a'), (2, 'b');
INSERT INTO children VALUES (1, 1), (2, 1), (3, 2);`;

function sqlFile(path: string, statements: string[]) {
  return { path, statements, text: statements.join('\n--> statement-breakpoint\n'), dataLoss: [] } as never;
}

for (const subject of subjects) {
  describe(`Driver contract: ${subject.name}`, () => {
    it('exec runs several statements; all returns rows keyed by column; run takes parameters', async () => {
      const db = await subject.open();
      try {
        await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB); CREATE INDEX t_name ON t (name);');
        await db.run('INSERT INTO t (id, name, score) VALUES (?, ?, ?)', [1, 'ann', 1.5]);
        await db.run('INSERT INTO t (id, name, score) VALUES (?, ?, ?)', [2, null, 2]);
        assert.deepEqual(await db.all('SELECT id, name, score FROM t ORDER BY id'), [
          { id: 1, name: 'ann', score: 1.5 },
          { id: 2, name: null, score: 2 },
        ]);
        assert.deepEqual(await db.all('SELECT name FROM t WHERE id = ?', [1]), [{ name: 'ann' }]);
        assert.deepEqual(await db.all("SELECT count(*) AS n FROM sqlite_master WHERE name = 't_name'"), [{ n: 1 }]);
      } finally {
        await db.close();
      }
    });

    it('transaction commits what fn did and returns its result', async () => {
      const db = await subject.open();
      try {
        await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
        const result = await db.transaction(async (tx) => {
          await tx.run('INSERT INTO t VALUES (?)', [1]);
          await tx.exec('INSERT INTO t VALUES (2); INSERT INTO t VALUES (3)');
          return (await tx.all<{ n: number }>('SELECT count(*) AS n FROM t'))[0]?.n;
        });
        assert.equal(result, 3);
        assert.deepEqual(await db.all('SELECT count(*) AS n FROM t'), [{ n: 3 }]);
      } finally {
        await db.close();
      }
    });

    it('transaction rolls back everything when fn throws, also after a failed statement', async () => {
      const db = await subject.open();
      try {
        await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.run('INSERT INTO t VALUES (?)', [1]);
            throw new Error('boom');
          }),
          /boom/,
        );
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.exec('CREATE TABLE u (x)');
            await tx.run('INSERT INTO t VALUES (?)', [2]);
            await tx.exec('INSERT INTO nope VALUES (1)');
          }),
          /no such table: nope/,
        );
        assert.deepEqual(await db.all('SELECT count(*) AS n FROM t'), [{ n: 0 }]);
        assert.deepEqual(await db.all("SELECT count(*) AS n FROM sqlite_master WHERE name = 'u'"), [{ n: 0 }]);
      } finally {
        await db.close();
      }
    });

    it('foreign-key procedure: a parent rebuild keeps cascade children, a violation rolls back, enforcement is restored', async () => {
      const db = await subject.open();
      try {
        await db.exec(PARENT_CHILD);
        assert.deepEqual(await db.all('PRAGMA foreign_keys'), [{ foreign_keys: 1 }]);
        const rebuild = sqlFile('rebuild.sql', [
          'PRAGMA foreign_keys=OFF;',
          "CREATE TABLE __new_parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x');",
          'INSERT INTO __new_parents (id, name) SELECT id, name FROM parents;',
          'DROP TABLE parents;',
          'ALTER TABLE __new_parents RENAME TO parents;',
          'PRAGMA foreign_keys=ON;',
        ]);
        const orphan = sqlFile('orphan.sql', ['INSERT INTO children VALUES (9, 99);']);
        const migrations = [
          { position: 0, tag: '0000_rebuild', when: 1, hash: 'h0', up: rebuild, down: null },
          { position: 1, tag: '0001_orphan', when: 2, hash: 'h1', up: orphan, down: null },
        ];
        await db.exec('CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
        const state = { migrations, entries: migrations.map((migration) => ({ migration, applied: null })), current: -1 } as never;
        await executeSteps(db, planSteps({ direction: 'up', from: -1, to: 0, steps: [migrations[0]] } as never, state));
        assert.deepEqual(await db.all('SELECT id, parent_id FROM children ORDER BY id'), [
          { id: 1, parent_id: 1 },
          { id: 2, parent_id: 1 },
          { id: 3, parent_id: 2 },
        ]);
        await assert.rejects(
          executeSteps(db, planSteps({ direction: 'up', from: 0, to: 1, steps: [migrations[1]] } as never, state)),
          /orphan\.sql: foreign key check failed: 1 row\(s\) violate foreign keys/,
        );
        assert.deepEqual(await db.all('SELECT count(*) AS n FROM children'), [{ n: 3 }]);
        assert.deepEqual(await db.all('SELECT hash, created_at FROM "__drizzle_migrations"'), [{ hash: 'h0', created_at: 1 }]);
        // Enforcement is back on: deleting a parent cascades again.
        assert.deepEqual(await db.all('PRAGMA foreign_keys'), [{ foreign_keys: 1 }]);
        await db.transaction((tx) => tx.run('DELETE FROM parents WHERE id = ?', [2]));
        assert.deepEqual(await db.all('SELECT count(*) AS n FROM children'), [{ n: 2 }]);
      } finally {
        await db.close();
      }
    });

    it('foreign-key check: a run that starts without any foreign key still checks the first migration that adds one', async () => {
      const db = await subject.open();
      try {
        const plain = sqlFile('plain.sql', ['CREATE TABLE owners (id INTEGER PRIMARY KEY);', 'INSERT INTO owners VALUES (1);']);
        // Mixed case on purpose, with LIKE made case-sensitive: REFERENCES is a keyword in any case.
        const orphan = sqlFile('orphan.sql', [
          'PRAGMA case_sensitive_like = ON;',
          'CREATE TABLE pets (id INTEGER PRIMARY KEY, owner_id INTEGER References owners(id));',
          'INSERT INTO pets VALUES (1, 1), (2, 7);',
        ]);
        const migrations = [
          { position: 0, tag: '0000_plain', when: 1, hash: 'h0', up: plain, down: null },
          { position: 1, tag: '0001_orphan', when: 2, hash: 'h1', up: orphan, down: null },
        ];
        const state = { migrations, entries: migrations.map((migration) => ({ migration, applied: null })), current: -1 } as never;
        await assert.rejects(
          executeSteps(db, planSteps({ direction: 'up', from: -1, to: 1, steps: migrations } as never, state)),
          /orphan\.sql: foreign key check failed: 1 row\(s\) violate foreign keys, e\.g\. pets rowid 2 references a missing row of owners/,
        );
        assert.deepEqual(await db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('owners', 'pets') ORDER BY name"), [{ name: 'owners' }]);
        assert.deepEqual(await db.all('SELECT hash FROM "__drizzle_migrations"'), [{ hash: 'h0' }]);
      } finally {
        await db.close();
      }
    });
  });
}
