// Transaction control written into migration files: the COMMIT/PRAGMA foreign_keys/BEGIN wrapper real projects write
// is absorbed (and no row is lost across a run of several migrations), anything else is refused before anything runs,
// and only foreign-key violations a migration makes fail it.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { JournalEntry } from '../src/engine/journal.js';
import { splitStatements } from '../src/engine/journal.js';
import { prepareFile } from '../src/engine/transaction-control.js';
import { appliedRows, makeProject, schemaDump, type RunResult, type TempProject } from './helpers/project.js';

const BREAKPOINT = '\n--> statement-breakpoint\n';

function file(chunks: string[]) {
  const text = chunks.join(BREAKPOINT);
  return { path: 'drizzle/0001_x.sql', text, statements: splitStatements(text) };
}

describe('transaction control in a file (pure)', () => {
  const cases: { what: string; chunks: string[]; runs: string[]; absorbed: number; refused: string[] }[] = [
    {
      what: 'the wrapper as chunks: both pairs absorbed, the pragmas kept (SQLite ignores them in a transaction)',
      chunks: ['COMMIT;', 'PRAGMA foreign_keys=OFF;', 'BEGIN;', 'CREATE TABLE a (id integer);', 'COMMIT;', 'PRAGMA foreign_keys=ON;', 'BEGIN;'],
      runs: ['PRAGMA foreign_keys=OFF;', 'CREATE TABLE a (id integer);', 'PRAGMA foreign_keys=ON;'],
      absorbed: 4,
      refused: [],
    },
    {
      what: 'the wrapper in one chunk, with BEGIN TRANSACTION and END',
      chunks: ['COMMIT; PRAGMA foreign_keys = off;\nBEGIN TRANSACTION;\nCREATE TABLE a (id integer);\nEND TRANSACTION;\nPRAGMA foreign_keys = on; BEGIN;'],
      runs: ['PRAGMA foreign_keys = off;\nCREATE TABLE a (id integer);\nPRAGMA foreign_keys = on;'],
      absorbed: 4,
      refused: [],
    },
    {
      what: "a file's own envelope",
      chunks: ['PRAGMA foreign_keys=OFF;\nBEGIN IMMEDIATE;', 'CREATE TABLE a (id integer);', 'COMMIT;\nPRAGMA foreign_keys=ON;'],
      runs: ['PRAGMA foreign_keys=OFF;', 'CREATE TABLE a (id integer);', 'PRAGMA foreign_keys=ON;'],
      absorbed: 2,
      refused: [],
    },
    {
      what: 'END in the middle: refused',
      chunks: ['DELETE FROM users;', 'END;', 'CREATE TABLE users (x);'],
      runs: ['DELETE FROM users;', 'END;', 'CREATE TABLE users (x);'],
      absorbed: 0,
      refused: ['commit'],
    },
    { what: 'a trailing COMMIT: refused', chunks: ['CREATE TABLE a (id integer);\nCOMMIT;'], runs: ['CREATE TABLE a (id integer);\nCOMMIT;'], absorbed: 0, refused: ['commit'] },
    { what: 'ROLLBACK: refused', chunks: ['CREATE TABLE a (id integer);', 'ROLLBACK;', 'BEGIN;'], runs: ['CREATE TABLE a (id integer);', 'ROLLBACK;', 'BEGIN;'], absorbed: 0, refused: ['rollback', 'begin'] },
    { what: 'SAVEPOINT and RELEASE: refused', chunks: ['SAVEPOINT s;', 'RELEASE s;'], runs: ['SAVEPOINT s;', 'RELEASE s;'], absorbed: 0, refused: ['savepoint', 'release'] },
    { what: 'PRAGMA query_only: refused', chunks: ['PRAGMA query_only = 1;'], runs: ['PRAGMA query_only = 1;'], absorbed: 0, refused: ['query-only'] },
    { what: 'ATTACH of a file: refused', chunks: ["ATTACH DATABASE 'other.db' AS o;"], runs: ["ATTACH DATABASE 'other.db' AS o;"], absorbed: 0, refused: ['attach'] },
    { what: 'ATTACH of an in-memory database: runs', chunks: ["ATTACH ':memory:' AS m;"], runs: ["ATTACH ':memory:' AS m;"], absorbed: 0, refused: [] },
    {
      what: 'BEGIN/END of a trigger body and COMMIT in a string are not transaction control',
      chunks: ["CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  INSERT INTO log VALUES ('COMMIT;');\nEND;", "INSERT INTO a VALUES ('BEGIN; COMMIT;');"],
      runs: ["CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  INSERT INTO log VALUES ('COMMIT;');\nEND;", "INSERT INTO a VALUES ('BEGIN; COMMIT;');"],
      absorbed: 0,
      refused: [],
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const prepared = prepareFile(file(c.chunks));
      assert.deepEqual(prepared.chunks.map((chunk) => chunk.sql), c.runs);
      assert.equal(prepared.absorbed.length, c.absorbed);
      assert.deepEqual(prepared.refused.map((r) => r.kind), c.refused);
    });
  }

  it('keeps the chunk numbers of the file for messages', () => {
    const prepared = prepareFile(file(['COMMIT;', 'PRAGMA foreign_keys=OFF;', 'BEGIN;', 'SELECT 1;']));
    assert.deepEqual(prepared.chunks.map((c) => c.number), [2, 4]);
    assert.equal(prepared.chunkCount, 4);
  });
});

// ------------------------------------------------------------------------------------------- the real command

function journalFile(project: TempProject): string {
  return project.path('drizzle', 'meta', '_journal.json');
}

/** A project whose migrations are only the ones the test writes. */
function emptyHistory(project: TempProject): void {
  writeFileSync(journalFile(project), JSON.stringify({ version: '7', dialect: 'sqlite', entries: [] }));
}

function addMigration(project: TempProject, tag: string, up: string[], down: string[] = ['SELECT 1;']): void {
  const journal = JSON.parse(readFileSync(journalFile(project), 'utf8')) as { entries: JournalEntry[] };
  const idx = journal.entries.length;
  journal.entries.push({ idx, version: '6', when: 1_700_000_000_000 + idx * 1000, tag, breakpoints: true });
  writeFileSync(journalFile(project), JSON.stringify(journal, null, 2));
  writeFileSync(project.path('drizzle', `${tag}.sql`), up.join(BREAKPOINT));
  writeFileSync(project.path('drizzle', `${tag}.down.sql`), down.join(BREAKPOINT));
}

function assertExit(result: RunResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

function errorLine(result: RunResult): string {
  const lines = result.stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(lines.length, 1, `one error line in:\n${result.stderr}`);
  return lines[0]!;
}

/** drizzle-kit's rebuild of `parents` (a new column's default), as it writes it for SQLite. */
function rebuildParents(column: string): string[] {
  return [
    'PRAGMA foreign_keys=OFF;',
    `CREATE TABLE \`__new_parents\` (\n\t\`id\` integer PRIMARY KEY NOT NULL,\n\t\`name\` text NOT NULL,\n\t\`${column}\` text DEFAULT 'x' NOT NULL\n);`,
    'INSERT INTO `__new_parents`("id", "name") SELECT "id", "name" FROM `parents`;',
    'DROP TABLE `parents`;',
    'ALTER TABLE `__new_parents` RENAME TO `parents`;',
    'PRAGMA foreign_keys=ON;',
  ];
}

const PARENTS_AND_CHILDREN = [
  'CREATE TABLE `parents` (\n\t`id` integer PRIMARY KEY NOT NULL,\n\t`name` text NOT NULL\n);',
  'CREATE TABLE `children` (\n\t`id` integer PRIMARY KEY NOT NULL,\n\t`parent_id` integer NOT NULL,\n\tFOREIGN KEY (`parent_id`) REFERENCES `parents`(`id`) ON UPDATE no action ON DELETE cascade\n);',
  'CREATE INDEX `children_parent_idx` ON `children` (`parent_id`);',
];

function seed(project: TempProject, parents: number, childrenEach: number): void {
  const db = project.open();
  try {
    db.transaction(() => {
      for (let p = 1; p <= parents; p++) {
        db.prepare('INSERT INTO parents (id, name) VALUES (?, ?)').run(p, `p${p}`);
        for (let c = 0; c < childrenEach; c++) db.prepare('INSERT INTO children (parent_id) VALUES (?)').run(p);
      }
    })();
  } finally {
    db.close();
  }
}

function count(project: TempProject, table: string): number {
  const db = project.open();
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('the transaction wrapper across a run of several migrations', () => {
  let project: TempProject;
  before(async () => {
    project = makeProject();
    emptyHistory(project);
    addMigration(project, '0000_init', PARENTS_AND_CHILDREN);
    // A hand-edited drizzle-kit rebuild, wrapped so that drizzle's own migrator really switches enforcement off.
    addMigration(project, '0001_wrapped_rebuild', ['COMMIT;', 'PRAGMA foreign_keys=OFF;', 'BEGIN;', ...rebuildParents('colour').slice(1, -1), 'COMMIT;', 'PRAGMA foreign_keys=ON;', 'BEGIN;']);
    addMigration(project, '0002_data_fix', ["UPDATE `parents` SET `colour` = 'red' WHERE `id` % 2 = 0;"]);
    // A plain drizzle-kit rebuild later in the same run: with enforcement left on, it would cascade every child away.
    addMigration(project, '0003_rebuild_again', [
      'PRAGMA foreign_keys=OFF;',
      "CREATE TABLE `__new_parents` (\n\t`id` integer PRIMARY KEY NOT NULL,\n\t`name` text NOT NULL,\n\t`colour` text DEFAULT 'x' NOT NULL,\n\t`size` integer DEFAULT 0 NOT NULL\n);",
      'INSERT INTO `__new_parents`("id", "name", "colour") SELECT "id", "name", "colour" FROM `parents`;',
      'DROP TABLE `parents`;',
      'ALTER TABLE `__new_parents` RENAME TO `parents`;',
      'PRAGMA foreign_keys=ON;',
    ]);
    assertExit(await project.migrate(['up', '+1']), 0, 'up +1');
    seed(project, 20, 5);
  });
  after(() => project.cleanup());

  it('up applies all three, keeps every child row, and records each migration once', async () => {
    const result = await project.migrate(['up']);
    assertExit(result, 0, 'up');
    assert.equal(count(project, 'children'), 100);
    assert.equal(count(project, 'parents'), 20);
    const db = project.open();
    try {
      assert.equal(appliedRows(db).length, 4);
      assert.deepEqual(db.prepare('PRAGMA foreign_key_check').all(), []);
    } finally {
      db.close();
    }
  });

  it('up --sql shows the absorbed statements as comments, not as SQL that runs', async () => {
    const result = await project.migrate(['down', 'base', '--sql']);
    assertExit(result, 0, 'down --sql');
    const fresh = makeProject();
    try {
      emptyHistory(fresh);
      for (const tag of ['0000_init', '0001_wrapped_rebuild']) {
        const journal = JSON.parse(readFileSync(journalFile(project), 'utf8')) as { entries: JournalEntry[] };
        const entry = journal.entries.find((e) => e.tag === tag)!;
        const freshJournal = JSON.parse(readFileSync(journalFile(fresh), 'utf8')) as { entries: JournalEntry[] };
        freshJournal.entries.push(entry);
        writeFileSync(journalFile(fresh), JSON.stringify(freshJournal));
        writeFileSync(fresh.path('drizzle', `${tag}.sql`), readFileSync(project.path('drizzle', `${tag}.sql`)));
      }
      const sql = await fresh.migrate(['up', '--sql']);
      assertExit(sql, 0, 'up --sql');
      assert.match(sql.stdout, /^-- absorbed: statement 1 \(COMMIT;?\) of the file does not run/m);
      assert.doesNotMatch(sql.stdout, /^(COMMIT|BEGIN);\n(?!-- Running|\n)/m);
      assert.equal(sql.stdout.match(/^BEGIN IMMEDIATE;$/gm)?.length, 2);
      assert.equal(sql.stdout.match(/^COMMIT;$/gm)?.length, 2);
    } finally {
      fresh.cleanup();
    }
  });

  it('lint names the absorbed wrapper (TX102) without failing', async () => {
    const result = await project.migrate(['lint', 'all']);
    assertExit(result, 0, 'lint');
    assert.match(result.stdout, /0001_wrapped_rebuild\.sql:1\s+TX102\s+warning\s+COMMIT is absorbed/);
  });
});

describe('transaction control that would break atomicity: refused before anything runs', () => {
  const refusals = [
    { what: 'END in the middle (the DELETE would stay committed)', up: ['DELETE FROM `parents`;', 'END;', 'CREATE TABLE `parents` (x);'], statement: 2, text: 'END' },
    { what: 'a file that ends in COMMIT', up: ['CREATE TABLE `extra` (id integer);', 'COMMIT;'], statement: 2, text: 'COMMIT' },
    { what: 'ROLLBACK in the middle', up: ['CREATE TABLE `extra` (id integer);', 'ROLLBACK;', 'BEGIN;', 'SELECT 1;'], statement: 2, text: 'ROLLBACK' },
    { what: 'PRAGMA query_only', up: ['PRAGMA query_only = 1;'], statement: 1, text: 'PRAGMA query_only = 1' },
    { what: 'ATTACH of a file', up: ["ATTACH DATABASE 'elsewhere.db' AS e;", 'CREATE TABLE e.t (id integer);'], statement: 1, text: "ATTACH DATABASE 'elsewhere.db' AS e" },
  ];
  for (const refusal of refusals) {
    it(refusal.what, async () => {
      const project = makeProject();
      try {
        emptyHistory(project);
        addMigration(project, '0000_init', PARENTS_AND_CHILDREN);
        addMigration(project, '0001_plain', ['CREATE TABLE `plain` (id integer);']);
        addMigration(project, '0002_hand_written', refusal.up);
        assertExit(await project.migrate(['up', '+1']), 0, 'up +1');
        seed(project, 3, 2);
        const db = project.open();
        const schemaBefore = schemaDump(db);
        db.close();

        const result = await project.migrate(['up']);
        assertExit(result, 1, 'up');
        const line = errorLine(result);
        assert.match(line, new RegExp(`0002_hand_written\\.sql: statement ${refusal.statement} \\(${refusal.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')};?\\) `));
        assert.match(line, /remove it/);
        // Refused before anything ran: not even 0001 is applied, no backup is needed.
        const after = project.open();
        try {
          assert.equal(schemaDump(after), schemaBefore);
          assert.equal(appliedRows(after).length, 1);
          assert.equal((after.prepare('SELECT count(*) AS n FROM parents').get() as { n: number }).n, 3);
        } finally {
          after.close();
        }
        const lint = await project.migrate(['lint', 'all']);
        assertExit(lint, 1, 'lint');
        assert.match(lint.stdout, new RegExp(`0002_hand_written\\.sql:${refusal.statement}\\s+TX101\\s+error`));
      } finally {
        project.cleanup();
      }
    });
  }
});

describe('foreign keys: only the violations a migration makes fail it', () => {
  let project: TempProject;
  before(async () => {
    project = makeProject();
    emptyHistory(project);
    addMigration(project, '0000_init', PARENTS_AND_CHILDREN);
    addMigration(project, '0001_rebuild', rebuildParents('colour'));
    addMigration(project, '0002_orphan', ['INSERT INTO `children` (`id`, `parent_id`) VALUES (1000, 777);']);
    assertExit(await project.migrate(['up', '+1']), 0, 'up +1');
    seed(project, 3, 2);
    // Orphans written with enforcement off, as an old app or a hand fix leaves them.
    const db = project.open();
    try {
      db.pragma('foreign_keys = OFF');
      db.prepare('INSERT INTO children (id, parent_id) VALUES (500, 99), (501, 98)').run();
    } finally {
      db.close();
    }
  });
  after(() => project.cleanup());

  it('a rebuild over a database that already holds orphans applies, and reports them', async () => {
    const result = await project.migrate(['up', '+1']);
    assertExit(result, 0, 'up +1');
    assert.match(result.stderr + result.stdout, /2 row\(s\) violate foreign keys, e\.g\. children rowid 50[01] references a missing row of parents \(parent_id=9[89]\), as they did before drizzle\/0001_rebuild\.sql ran: left as they are/);
    assert.equal(count(project, 'children'), 8);
  });

  it('a migration that adds an orphan fails, naming its row, with the old ones left out', async () => {
    const result = await project.migrate(['up']);
    assertExit(result, 1, 'up');
    assert.match(errorLine(result), /0002_orphan\.sql: foreign key check failed: 1 row\(s\) violate foreign keys, e\.g\. children rowid 1000 references a missing row of parents \(parent_id=777\); rolled back/);
    assert.equal(count(project, 'children'), 8);
  });
});
