// `verify`, the stairway test: for each migration, generated rows, up, down (schema and rows back), up again,
// on an in-memory scratch database. Histories written by hand so that each kind of wrong down file is exact.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { verify } from '../src/checks.js';
import { openBetterSqlite } from '../src/db/better-sqlite3.js';
import { Counter, seedRows, valueFor } from '../src/engine/checks/seed.js';
import { parseDataLoss, runStairway, tablesNamedBy } from '../src/engine/checks/stairway.js';
import { splitStatements } from '../src/engine/journal.js';
import { introspect } from '../src/engine/diff/introspect.js';
import { loadMigrations } from '../src/engine/journal.js';
import { writeMigrations, type HandMigration } from './helpers/migrations.js';
import { makeProject } from './helpers/project.js';

const made: string[] = [];
after(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function folderWith(migrations: HandMigration[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'verify-'));
  made.push(dir);
  const folder = join(dir, 'drizzle');
  writeMigrations(folder, migrations);
  return folder;
}

const INIT: HandMigration = {
  name: 'init',
  up: [
    'CREATE TABLE `users` (`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL, `email` text NOT NULL, `name` text, `created_at` integer DEFAULT (unixepoch()) NOT NULL);',
    'CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);',
    'CREATE TABLE `posts` (`id` integer PRIMARY KEY NOT NULL, `user_id` integer NOT NULL, `title` text NOT NULL, FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade);',
  ],
  down: ['-- data-loss: drops table posts and every row in it\n-- data-loss: drops table users and every row in it\nDROP TABLE `posts`;', 'DROP TABLE `users`;'],
};

/** drizzle-kit's rebuild of the parent `users` (name becomes NOT NULL DEFAULT ''), and its reverse. */
const REBUILD_USERS: HandMigration = {
  name: 'rebuild_users',
  up: [
    'PRAGMA foreign_keys=OFF;',
    "CREATE TABLE `__new_users` (`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL, `email` text NOT NULL, `name` text DEFAULT '' NOT NULL, `created_at` integer DEFAULT (unixepoch()) NOT NULL);",
    'INSERT INTO `__new_users`("id", "email", "name", "created_at") SELECT "id", "email", "name", "created_at" FROM `users`;',
    'DROP TABLE `users`;',
    'ALTER TABLE `__new_users` RENAME TO `users`;',
    'PRAGMA foreign_keys=ON;',
    'CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);',
  ],
  down: [
    'PRAGMA foreign_keys=OFF;',
    'CREATE TABLE `__new_users` (`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL, `email` text NOT NULL, `name` text, `created_at` integer DEFAULT (unixepoch()) NOT NULL);',
    'INSERT INTO `__new_users`("id", "email", "name", "created_at") SELECT "id", "email", "name", "created_at" FROM `users`;',
    'DROP TABLE `users`;',
    'ALTER TABLE `__new_users` RENAME TO `users`;',
    'PRAGMA foreign_keys=ON;',
    'CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);',
  ],
};

const ADD_PHONE: HandMigration = {
  name: 'add_phone',
  up: ['ALTER TABLE `users` ADD `phone` text;', 'CREATE INDEX `users_phone_idx` ON `users` (`phone`);'],
  down: ['-- data-loss: drops column users.phone and the data in it\nDROP INDEX `users_phone_idx`;', 'ALTER TABLE `users` DROP COLUMN `phone`;'],
};

const RENAME_POSTS: HandMigration = {
  name: 'rename_posts',
  up: ['ALTER TABLE `posts` RENAME TO `articles`;', 'ALTER TABLE `articles` RENAME COLUMN `title` TO `headline`;'],
  down: ['ALTER TABLE `articles` RENAME COLUMN `headline` TO `title`;', 'ALTER TABLE `articles` RENAME TO `posts`;'],
};

describe('verify: the stairway on a correct history', () => {
  it('passes a history with a parent rebuild under ON DELETE CASCADE children, an added column and renames', async () => {
    const folder = folderWith([INIT, REBUILD_USERS, ADD_PHONE, RENAME_POSTS]);
    const result = await runStairway(loadMigrations(folder));
    assert.deepEqual(result.failure, null);
    assert.deepEqual(result.passed, ['0000_init', '0001_rebuild_users', '0002_add_phone', '0003_rename_posts']);
    assert.deepEqual(result.warnings, [], 'rows were generated into every table');
  });

  it('verify() reports the count and ok', async () => {
    const result = await verify({ migrationsFolder: folderWith([INIT, ADD_PHONE]) });
    assert.equal(result.ok, true);
    assert.equal(result.migrations, 2);
  });
});

describe('verify: wrong down files, each caught at its migration', () => {
  const cases: { what: string; migration: HandMigration; stage: string; difference: RegExp }[] = [
    {
      what: 'a down that forgets to drop an index',
      migration: { ...ADD_PHONE, down: ['-- data-loss: drops column users.phone and the data in it\nALTER TABLE `users` DROP COLUMN `phone`;'] },
      stage: 'down',
      difference: /cannot drop column "phone": indexed|error in index users_phone_idx/,
    },
    {
      what: 'a down that leaves a column behind',
      migration: { ...ADD_PHONE, down: ['DROP INDEX `users_phone_idx`;'] },
      stage: 'schema',
      difference: /^column users\.phone is in the schema after the down but not in the schema before the up$/,
    },
    {
      what: 'a down that restores the schema but not the rows (a rebuild that copies nothing), without a data-loss note',
      migration: {
        name: 'body',
        up: ['ALTER TABLE `posts` ADD `body` text;'],
        down: [
          'CREATE TABLE `__old_posts` (`id` integer PRIMARY KEY NOT NULL, `user_id` integer NOT NULL, `title` text NOT NULL, FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade);',
          'DROP TABLE `posts`;',
          'ALTER TABLE `__old_posts` RENAME TO `posts`;',
        ],
      },
      stage: 'data',
      difference: /^3 of 3 rows of posts did not come back as they were in \(id, user_id, title\), e\.g\. \{"id":\d+,"user_id":\d+,"title":"value \d+"\}; \S+0001_bad\.down\.sql has no data-loss note for them$/,
    },
    {
      what: 'a down that changes values',
      migration: { ...RENAME_POSTS, down: [...RENAME_POSTS.down!, "UPDATE `posts` SET `title` = 'x';"] },
      stage: 'data',
      difference: /rows of posts did not come back/,
    },
    {
      what: 'a down that leaves child rows without their parent',
      migration: { name: 'orphans', up: ['SELECT 1;'], down: ['DELETE FROM `users`;'] },
      stage: 'down',
      difference: /foreign key check failed: 3 row\(s\) violate foreign keys, e\.g\. posts rowid \d+ references a missing row of users \(user_id=\d+\)/,
    },
    {
      what: 'a down file that fails',
      migration: { ...ADD_PHONE, down: ['DROP INDEX `no_such_index`;'] },
      stage: 'down',
      difference: /statement 1 of 1 failed: no such index: no_such_index/,
    },
    {
      what: 'a missing down file',
      migration: { ...ADD_PHONE, down: undefined },
      stage: 'down',
      difference: /0001_bad\.down\.sql is missing: write it with 'write-down 0001_bad'/,
    },
    {
      what: 'an up that SQLite refuses once the table has rows (NOT NULL column without a default)',
      migration: { name: 'age', up: ['ALTER TABLE `users` ADD `age` integer NOT NULL;'], down: ['ALTER TABLE `users` DROP COLUMN `age`;'] },
      stage: 'up',
      difference: /Cannot add a NOT NULL column with default value NULL/,
    },
  ];
  for (const { what, migration, stage, difference } of cases) {
    it(`${what}: stage ${stage}`, async () => {
      const folder = folderWith([INIT, { ...migration, name: 'bad' }, ADD_PHONE]);
      const result = await runStairway(loadMigrations(folder));
      assert.deepEqual(result.passed, ['0000_init']);
      assert.ok(result.failure, 'fails');
      assert.equal(result.failure.tag, '0001_bad');
      assert.equal(result.failure.stage, stage);
      assert.ok(result.failure.differences.some((d) => difference.test(d)), result.failure.differences.join('\n'));
    });
  }

  it('accepts losing rows that the down file declares with a data-loss note, and only those', async () => {
    const tags: HandMigration = { name: 'tags', up: ['CREATE TABLE `tags` (`id` integer PRIMARY KEY NOT NULL, `label` text);'], down: ['DROP TABLE `tags`;'] };
    const emptyingDown = ['CREATE TABLE `__old_tags` (`id` integer PRIMARY KEY NOT NULL, `label` text);', 'DROP TABLE `tags`;', 'ALTER TABLE `__old_tags` RENAME TO `tags`;'];
    const addColor: HandMigration = { name: 'color', up: ['ALTER TABLE `tags` ADD `color` text;'], down: emptyingDown };

    const undeclared = await runStairway(loadMigrations(folderWith([tags, addColor])));
    assert.equal(undeclared.failure?.tag, '0001_color');
    assert.equal(undeclared.failure?.stage, 'data');

    const declared = { ...addColor, down: [`-- data-loss: recreates table tags empty\n${emptyingDown[0]}`, ...emptyingDown.slice(1)] };
    assert.deepEqual((await runStairway(loadMigrations(folderWith([tags, declared])))).failure, null);
  });
});

describe('verify: generated rows', () => {
  it('fill every kind of table: composite and WITHOUT ROWID keys, self and one-to-one references, STRICT, blobs, generated columns', async () => {
    const db = openBetterSqlite({ kind: 'memory' });
    try {
      await db.exec(`
        CREATE TABLE a (id integer PRIMARY KEY, parent_id integer NOT NULL REFERENCES a(id), data blob, price real, amount numeric, note);
        CREATE TABLE b (a_id integer NOT NULL UNIQUE REFERENCES a(id), code text NOT NULL, PRIMARY KEY (a_id, code)) WITHOUT ROWID;
        CREATE TABLE c (x integer NOT NULL, y text NOT NULL, total integer GENERATED ALWAYS AS (x * 2) STORED, UNIQUE (x, y)) STRICT;
        CREATE TABLE d (b_a_id integer NOT NULL, b_code text NOT NULL, FOREIGN KEY (b_a_id, b_code) REFERENCES b(a_id, code));
        CREATE TABLE e (id integer PRIMARY KEY, c_x integer REFERENCES c(x));
        CREATE UNIQUE INDEX c_x_unique ON c (x);
      `);
      const counter = new Counter();
      // Topped up to 3 rows, then to 6: the second round adds unique values next to the first round's.
      for (const count of [3, 6, 6]) {
        const warnings = await seedRows(db, await introspect(db), count, counter);
        assert.deepEqual(warnings, []);
      }
      for (const table of ['a', 'b', 'c', 'd', 'e']) {
        const [row] = await db.all<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
        assert.equal(row!.n, 6, table);
      }
      assert.deepEqual(await db.all('PRAGMA foreign_key_check'), []);
      const [self] = await db.all<{ same: number }>('SELECT count(*) AS same FROM a WHERE parent_id = id');
      assert.equal(self!.same, 6, 'a self-reference points at its own row');
    } finally {
      await db.close();
    }
  });

  it('take a value of each column type affinity', () => {
    assert.equal(valueFor('INTEGER', 7), 7);
    assert.equal(valueFor('varchar(20)', 7), 'value 7');
    assert.equal(valueFor('double precision', 7), 7.5);
    assert.ok(Buffer.isBuffer(valueFor('BLOB', 7)));
    assert.equal(valueFor('', 7), 'value 7');
    assert.equal(valueFor('decimal(10,2)', 7), 7);
  });
});

describe('verify: the tables whose rows a migration can change', () => {
  const file = (text: string) => ({ path: 'x.sql', text, statements: splitStatements(text) });
  it("names every table drizzle-kit's statements touch, a rebuild's old and new names included", () => {
    const up = file(
      'PRAGMA foreign_keys=OFF;--> statement-breakpoint\nCREATE TABLE `__new_a` (`id` integer);--> statement-breakpoint\nINSERT INTO `__new_a`("id") SELECT "id" FROM `a`;--> statement-breakpoint\nDROP TABLE `a`;--> statement-breakpoint\nALTER TABLE `__new_a` RENAME TO `a`;--> statement-breakpoint\nALTER TABLE `b` ADD `c` text;--> statement-breakpoint\nCREATE INDEX `i` ON `d` (`x`);--> statement-breakpoint\nCREATE VIEW `v` AS select * from e;',
    );
    assert.deepEqual([...tablesNamedBy([up])!].sort(), ['__new_a', 'a', 'b', 'd']);
  });
  it('is unknown (every table is read) when a statement is hand-written SQL such as an UPDATE', () => {
    assert.equal(tablesNamedBy([file('ALTER TABLE `b` ADD `c` text;--> statement-breakpoint\nUPDATE `b` SET `c` = 1;')]), null);
  });
});

describe('verify: data-loss notes name the tables and columns whose rows may go', () => {
  const cases: [string[], string[], string[]][] = [
    [['drops table users and every row in it'], ['users'], []],
    [['recreates table posts empty: the rows the up migration dropped cannot be brought back'], ['posts'], []],
    [['drops column users.phone and the data in it'], [], ['users.phone']],
    [['recreates column users.age (NOT NULL) with 0 in existing rows: the values the up migration dropped cannot be brought back'], [], ['users.age']],
    [['the archive table `logs` is emptied', 'columns a.b and a.c go'], ['logs'], ['a.b']],
  ];
  for (const [notes, tables, columns] of cases) {
    it(notes.join('; '), () => {
      const lost = parseDataLoss(notes);
      assert.deepEqual([...lost.tables], tables);
      assert.deepEqual([...lost.columns], columns);
    });
  }
});

describe('verify command', () => {
  it('exits 1 naming the migration whose down file is wrong, and changes no database', async () => {
    const project = makeProject();
    try {
      const journalPath = project.path('drizzle/meta/_journal.json');
      const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { idx: number; when: number; tag: string }[] };
      const last = journal.entries.at(-1)!;
      const tag = `${String(last.idx + 1).padStart(4, '0')}_add_phone`;
      journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1000, tag });
      writeFileSync(journalPath, JSON.stringify(journal, null, 2));
      writeFileSync(project.path(`drizzle/${tag}.sql`), 'ALTER TABLE `users` ADD `phone` text;');
      writeFileSync(project.path(`drizzle/${tag}.down.sql`), '-- forgot to drop the column\nSELECT 1;');
      const good = journal.entries.length - 1;

      const result = await project.migrate(['verify']);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stdout, /^ok {4}0000_initial_migration$/m);
      assert.match(result.stdout, new RegExp(`^FAIL {2}${tag}: its down migration does not restore the schema \\(drizzle/${tag}\\.down\\.sql\\)$`, 'm'));
      assert.match(result.stdout, /^ {2}- column users\.phone is in the schema after the down but not in the schema before the up$/m);
      assert.match(result.stdout, new RegExp(`^Verified ${good} of ${good + 1} migrations; ${tag} fails`, 'm'));

      const json = await project.migrate(['verify', '--json']);
      assert.equal(json.code, 1);
      const parsed = JSON.parse(json.stdout) as { ok: boolean; failure: { tag: string; stage: string } };
      assert.deepEqual([parsed.ok, parsed.failure.tag, parsed.failure.stage], [false, tag, 'schema']);
      assert.equal(existsSync(project.path('data')), false, 'verify uses no database file');
    } finally {
      project.cleanup();
    }
  });
});
