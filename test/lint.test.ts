// `lint`: each analyzer on migrations that have its finding and on migrations that do not, against a real
// schema built in SQLite (and real rows to count), then the command over a migrations folder and a live
// database file, and once as a real process.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lint, selectMigrations } from '../src/checks.js';
import { openBetterSqlite } from '../src/db/better-sqlite3.js';
import { introspect } from '../src/engine/diff/introspect.js';
import { computeState } from '../src/engine/plan.js';
import { loadMigrations } from '../src/engine/journal.js';
import { addNotNullColumn } from '../src/engine/lint/add-not-null-column.js';
import { dropColumn } from '../src/engine/lint/drop-column.js';
import { dropTable } from '../src/engine/lint/drop-table.js';
import { ANALYZERS, analyzeMigration, findRebuilds, liveCounter, type Analyzer, type LintFinding } from '../src/engine/lint/index.js';
import { notNull } from '../src/engine/lint/not-null.js';
import { rebuildReferenced } from '../src/engine/lint/rebuild-referenced.js';
import { renameColumn } from '../src/engine/lint/rename-column.js';
import { renameTable } from '../src/engine/lint/rename-table.js';
import { parseMigrationStatements, parseStatement, splitSql } from '../src/engine/lint/statements.js';
import { uniqueIndex } from '../src/engine/lint/unique-index.js';
import { writeMigrations } from './helpers/migrations.js';
import { makeProject } from './helpers/project.js';

/** The schema every analyzer case starts from: a parent with a cascading child, and a table of tags. */
const SCHEMA = [
  'CREATE TABLE `users` (`id` integer PRIMARY KEY NOT NULL, `email` text NOT NULL, `name` text, `phone` text)',
  'CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`)',
  'CREATE INDEX `users_name_idx` ON `users` (`name`)',
  'CREATE TABLE `posts` (`id` integer PRIMARY KEY NOT NULL, `user_id` integer NOT NULL, `title` text, FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade)',
  'CREATE TABLE `tags` (`id` integer PRIMARY KEY NOT NULL, `label` text)',
];

/** drizzle-kit's rebuild of `users` with `name` made NOT NULL (its indexes created again after the rename). */
const REBUILD_USERS_NAME_NOT_NULL = [
  'PRAGMA foreign_keys=OFF;',
  'CREATE TABLE `__new_users` (\n\t`id` integer PRIMARY KEY NOT NULL,\n\t`email` text NOT NULL,\n\t`name` text DEFAULT \'x\' NOT NULL,\n\t`phone` text\n);',
  'INSERT INTO `__new_users`("id", "email", "name", "phone") SELECT "id", "email", "name", "phone" FROM `users`;',
  'DROP TABLE `users`;',
  'ALTER TABLE `__new_users` RENAME TO `users`;',
  'PRAGMA foreign_keys=ON;',
  'CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);',
  'CREATE INDEX `users_name_idx` ON `users` (`name`);',
];

/**
 * Runs one analyzer on a migration (its chunks) against SCHEMA; with `rows`, a live database holding SCHEMA and
 * those rows answers the counts.
 */
async function run(analyzer: Analyzer, chunks: string[], rows?: string[]): Promise<LintFinding[]> {
  const scratch = openBetterSqlite({ kind: 'memory' });
  const live = rows ? openBetterSqlite({ kind: 'memory' }) : null;
  try {
    for (const sql of SCHEMA) await scratch.exec(sql);
    if (live) for (const sql of [...SCHEMA, ...rows!]) await live.exec(sql);
    const statements = parseMigrationStatements(chunks);
    return await analyzeMigration(
      { tag: '0001_x', file: 'drizzle/0001_x.sql', statements, before: await introspect(scratch), rebuilds: await findRebuilds(statements), live: live ? liveCounter(live) : null },
      [analyzer],
    );
  } finally {
    await scratch.close();
    await live?.close();
  }
}

/** A migrations folder of its own in a temporary directory. */
const made: string[] = [];
after(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
};
const tempFolder = () => join(tempDir('lint-'), 'drizzle');

const codes = (findings: LintFinding[]) => findings.map((f) => `${f.code}@${f.statement}:${f.severity}`);

describe('lint: splitting and classifying statements', () => {
  it('splits on ; outside strings, comments and trigger bodies', () => {
    assert.deepEqual(splitSql("INSERT INTO t VALUES ('a;b'); -- c;d\nSELECT 1;"), ["INSERT INTO t VALUES ('a;b')", '-- c;d\nSELECT 1']);
    assert.deepEqual(splitSql('CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = CASE WHEN 1 THEN 2 END; DELETE FROM u; END; SELECT 2'), [
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = CASE WHEN 1 THEN 2 END; DELETE FROM u; END',
      'SELECT 2',
    ]);
    assert.deepEqual(splitSql('-- only a comment\n'), []);
  });

  const cases: [string, object][] = [
    ['CREATE TABLE IF NOT EXISTS "a b" (x)', { kind: 'create-table', table: 'a b' }],
    ['DROP TABLE IF EXISTS main.`t`', { kind: 'drop-table', table: 't' }],
    ['ALTER TABLE `a` RENAME TO `b`', { kind: 'rename-table', table: 'a', to: 'b' }],
    ['ALTER TABLE `a` RENAME COLUMN "x" TO "y"', { kind: 'rename-column', table: 'a', column: 'x', to: 'y' }],
    ['alter table a rename x to y', { kind: 'rename-column', table: 'a', column: 'x', to: 'y' }],
    ['ALTER TABLE [a] DROP COLUMN x', { kind: 'drop-column', table: 'a', column: 'x' }],
    ["ALTER TABLE `a` ADD `c` text DEFAULT 'not null' ", { kind: 'add-column', table: 'a', column: 'c', notNull: false, hasDefault: true, generated: false, definition: "text DEFAULT 'not null'" }],
    ['ALTER TABLE a ADD COLUMN c integer NOT NULL', { kind: 'add-column', table: 'a', column: 'c', notNull: true, hasDefault: false, generated: false, definition: 'integer NOT NULL' }],
    [
      'CREATE UNIQUE INDEX IF NOT EXISTS `i` ON `t` (lower(`e`), `f` DESC) WHERE `d` IS NULL;',
      { kind: 'create-index', index: 'i', table: 't', unique: true, parts: ['lower(`e`)', '`f`'], where: '`d` IS NULL' },
    ],
    ['INSERT INTO t SELECT * FROM u', { kind: 'other' }],
  ];
  for (const [sql, expected] of cases) {
    it(`classifies ${sql}`, () => {
      assert.deepEqual(parseStatement({ statement: 1, sql }), { statement: 1, sql, ...expected });
    });
  }
});

describe('lint DS102: dropped table', () => {
  it('reports DROP TABLE of an existing table, with its row count', async () => {
    const found = await run(dropTable, ['CREATE TABLE `x` (`a` text);', 'DROP TABLE `posts`;'], ["INSERT INTO users VALUES (1, 'a', 'A', NULL)", "INSERT INTO posts VALUES (1, 1, 't'), (2, 1, 'u')"]);
    assert.deepEqual(codes(found), ['DS102@2:warning']);
    assert.match(found[0]!.message, /^drops table posts and every row in it \(2 rows in the database now\)/);
    assert.equal(found[0]!.file, 'drizzle/0001_x.sql');
  });

  it('is silent on the old table of a rebuild and on a table the migration made', async () => {
    assert.deepEqual(await run(dropTable, REBUILD_USERS_NAME_NOT_NULL), []);
    assert.deepEqual(await run(dropTable, ['CREATE TABLE `tmp` (`a` text);', 'DROP TABLE `tmp`;']), []);
  });
});

describe('lint DS103: dropped column', () => {
  it('reports ALTER TABLE … DROP COLUMN', async () => {
    const found = await run(dropColumn, ['ALTER TABLE `users` DROP COLUMN `phone`;']);
    assert.deepEqual(codes(found), ['DS103@1:warning']);
    assert.match(found[0]!.message, /^drops column users\.phone and the data in it$/);
  });

  it('reports a column a rebuilt table leaves out, at the DROP TABLE of the rebuild', async () => {
    const chunks = REBUILD_USERS_NAME_NOT_NULL.map((s) => s.replace(',\n\t`phone` text', '').replace(', "phone"', '').replace(', "phone"', ''));
    const found = await run(dropColumn, chunks);
    assert.deepEqual(codes(found), ['DS103@4:warning']);
    assert.match(found[0]!.message, /drops column users\.phone .*the rebuilt table leaves it out/);
  });

  it('is silent on a rebuild that keeps every column and on a column the migration added', async () => {
    assert.deepEqual(await run(dropColumn, REBUILD_USERS_NAME_NOT_NULL), []);
    assert.deepEqual(await run(dropColumn, ['ALTER TABLE `users` ADD `tmp` text;', 'ALTER TABLE `users` DROP COLUMN `tmp`;']), []);
  });
});

describe('lint BC101: renamed table', () => {
  it('reports a rename outside a rebuild', async () => {
    const found = await run(renameTable, ['ALTER TABLE `tags` RENAME TO `labels`;']);
    assert.deepEqual(codes(found), ['BC101@1:warning']);
    assert.match(found[0]!.message, /^renames table tags to labels: app code still running during the deploy/);
  });

  it('is silent on the rename that ends a rebuild', async () => {
    assert.deepEqual(await run(renameTable, REBUILD_USERS_NAME_NOT_NULL), []);
  });
});

describe('lint BC102: renamed column', () => {
  it('reports RENAME COLUMN, also after the table was renamed in the same migration', async () => {
    const found = await run(renameColumn, ['ALTER TABLE `tags` RENAME TO `labels`;', 'ALTER TABLE `labels` RENAME COLUMN `label` TO `text`;']);
    assert.deepEqual(codes(found), ['BC102@2:warning']);
    assert.match(found[0]!.message, /^renames column labels\.label to text/);
  });

  it('is silent on a column of a table the migration created', async () => {
    assert.deepEqual(await run(renameColumn, ['CREATE TABLE `x` (`a` text);', 'ALTER TABLE `x` RENAME COLUMN `a` TO `b`;']), []);
  });
});

describe('lint RB101: rebuild of a referenced table', () => {
  it('reports the rebuild of a parent that a child references with ON DELETE CASCADE', async () => {
    const found = await run(rebuildReferenced, REBUILD_USERS_NAME_NOT_NULL);
    assert.deepEqual(codes(found), ['RB101@2:warning']);
    assert.match(found[0]!.message, /^rebuilds users, which posts references by foreign key: .*deletes every row of posts that points at it$/);
  });

  it('is silent on the rebuild of a table nothing references', async () => {
    const rebuildTags = [
      'CREATE TABLE `__new_tags` (`id` integer PRIMARY KEY NOT NULL, `label` text NOT NULL DEFAULT \'\');',
      'INSERT INTO `__new_tags`("id", "label") SELECT "id", "label" FROM `tags`;',
      'DROP TABLE `tags`;',
      'ALTER TABLE `__new_tags` RENAME TO `tags`;',
    ];
    assert.deepEqual(await run(rebuildReferenced, rebuildTags), []);
  });
});

describe('lint MF104: nullable column made NOT NULL', () => {
  it('is an error naming the rows with NULL when the live database has some', async () => {
    const found = await run(notNull, REBUILD_USERS_NAME_NOT_NULL, ["INSERT INTO users VALUES (1, 'a', NULL, NULL), (2, 'b', NULL, NULL), (3, 'c', 'C', NULL)"]);
    assert.deepEqual(codes(found), ['MF104@2:error']);
    assert.match(found[0]!.message, /^makes users\.name NOT NULL, but 2 rows of the database have NULL there: copying them into __new_users fails/);
  });

  it('is a warning when no row has NULL, or when there is no database to count in', async () => {
    assert.deepEqual(codes(await run(notNull, REBUILD_USERS_NAME_NOT_NULL, ["INSERT INTO users VALUES (1, 'a', 'A', NULL)"])), ['MF104@2:warning']);
    assert.deepEqual(codes(await run(notNull, REBUILD_USERS_NAME_NOT_NULL)), ['MF104@2:warning']);
  });

  it('is silent on a rebuild that keeps nullability', async () => {
    assert.deepEqual(await run(notNull, REBUILD_USERS_NAME_NOT_NULL.map((s) => s.replace("`name` text DEFAULT 'x' NOT NULL", '`name` text'))), []);
  });
});

describe('lint MF103: NOT NULL column without a default added to an existing table', () => {
  it('is an error when the table has rows (SQLite refuses it), a warning when it is empty', async () => {
    const add = ['ALTER TABLE `users` ADD `age` integer NOT NULL;'];
    const withRows = await run(addNotNullColumn, add, ["INSERT INTO users VALUES (1, 'a', 'A', NULL)"]);
    assert.deepEqual(codes(withRows), ['MF103@1:error']);
    assert.match(withRows[0]!.message, /users has 1 row: SQLite refuses it/);
    assert.deepEqual(codes(await run(addNotNullColumn, add, [])), ['MF103@1:warning']);
  });

  it('is silent with a default, on a nullable column and on a new table', async () => {
    assert.deepEqual(await run(addNotNullColumn, ['ALTER TABLE `users` ADD `age` integer DEFAULT 0 NOT NULL;', 'ALTER TABLE `users` ADD `b` text;']), []);
    assert.deepEqual(await run(addNotNullColumn, ['CREATE TABLE `x` (`a` text);', 'ALTER TABLE `x` ADD `b` text NOT NULL;']), []);
  });
});

describe('lint MF101 / MF102: unique index on existing rows', () => {
  it('is an error counting the duplicates when the live database has some', async () => {
    const found = await run(uniqueIndex, ['CREATE UNIQUE INDEX `tags_label_unique` ON `tags` (`label`);'], ["INSERT INTO tags VALUES (1, 'a'), (2, 'a'), (3, 'a'), (4, 'b'), (5, 'b'), (6, 'c'), (7, NULL), (8, NULL)"]);
    assert.deepEqual(codes(found), ['MF101@1:error']);
    assert.match(found[0]!.message, /^adds unique index tags_label_unique on tags \(`label`\), but 5 rows of the database share a value there \(2 groups of duplicates\)/);
  });

  it('counts only the rows a partial index covers', async () => {
    const found = await run(uniqueIndex, ["CREATE UNIQUE INDEX `t` ON `tags` (`label`) WHERE `id` > 1;"], ["INSERT INTO tags VALUES (1, 'a'), (2, 'a'), (3, 'b')"]);
    assert.deepEqual(codes(found), ['MF101@1:warning']);
    assert.match(found[0]!.message, /no duplicates in the database now/);
  });

  it('reports MF102 when an existing index is made unique, and a UNIQUE constraint added by a rebuild', async () => {
    const found = await run(uniqueIndex, ['DROP INDEX `users_name_idx`;', 'CREATE UNIQUE INDEX `users_name_idx` ON `users` (`name`);']);
    assert.deepEqual(codes(found), ['MF102@2:warning']);
    const rebuild = REBUILD_USERS_NAME_NOT_NULL.map((s) => s.replace('`phone` text\n', '`phone` text UNIQUE\n'));
    const fromRebuild = await run(uniqueIndex, rebuild);
    assert.deepEqual(codes(fromRebuild), ['MF101@2:warning']);
    assert.match(fromRebuild[0]!.message, /makes \(phone\) of users unique in its rebuild/);
  });

  it('is silent on the indexes a rebuild creates again, on a new table and on a column the migration adds', async () => {
    assert.deepEqual(await run(uniqueIndex, REBUILD_USERS_NAME_NOT_NULL), []);
    assert.deepEqual(await run(uniqueIndex, ['CREATE TABLE `x` (`a` text);', 'CREATE UNIQUE INDEX `x_a` ON `x` (`a`);']), []);
    assert.deepEqual(await run(uniqueIndex, ['ALTER TABLE `tags` ADD `slug` text;', 'CREATE UNIQUE INDEX `tags_slug` ON `tags` (`slug`);']), []);
  });
});

describe('lint: every analyzer together', () => {
  it('is silent on a migration that only adds', async () => {
    const additive = ['CREATE TABLE `x` (`id` integer PRIMARY KEY NOT NULL, `a` text NOT NULL);', 'ALTER TABLE `users` ADD `nickname` text;', 'CREATE INDEX `users_phone_idx` ON `users` (`phone`);'];
    for (const analyzer of ANALYZERS) assert.deepEqual(await run(analyzer, additive), [], analyzer.summary);
  });
});

describe('lint: choosing the migrations', () => {
  const folder = tempFolder();
  writeMigrations(folder, ['a', 'b', 'c', 'd'].map((name) => ({ name, up: ['SELECT 1;'], down: ['SELECT 1;'] })));
  const migrations = loadMigrations(folder);
  const state = computeState(migrations, [{ hash: migrations[0]!.hash, createdAt: migrations[0]!.when }]);
  const cases: [string | undefined, string[] | RegExp][] = [
    [undefined, ['0001_b', '0002_c', '0003_d']],
    ['pending', ['0001_b', '0002_c', '0003_d']],
    ['all', ['0000_a', '0001_b', '0002_c', '0003_d']],
    ['c', ['0002_c']],
    ['head', ['0003_d']],
    ['1:2', ['0001_b', '0002_c']],
    ['0002:', ['0002_c', '0003_d']],
    [':b', ['0000_a', '0001_b']],
    ['2:1', /comes after/],
    ['1:2:3', /bad range/],
    ['base', /'base' is the empty database/],
    ['zzz', /unknown revision 'zzz'/],
  ];
  for (const [target, expected] of cases) {
    it(`${target ?? '(default)'} → ${expected instanceof RegExp ? expected.source : expected.join(', ')}`, () => {
      if (expected instanceof RegExp) assert.throws(() => selectMigrations(state, target), expected);
      else assert.deepEqual(selectMigrations(state, target).map((m) => m.tag), expected);
    });
  }
});

describe('lint over a migrations folder and a live database', () => {
  const folder = tempFolder();
  writeMigrations(folder, [
    { name: 'init', up: SCHEMA.map((s) => `${s};`), down: ['DROP TABLE `posts`;', 'DROP TABLE `tags`;', 'DROP TABLE `users`;'] },
    { name: 'unique_labels', up: ['CREATE UNIQUE INDEX `tags_label_unique` ON `tags` (`label`);'], down: ['DROP INDEX `tags_label_unique`;'] },
    { name: 'rename_tags', up: ['ALTER TABLE `tags` RENAME TO `labels`;'], down: ['ALTER TABLE `labels` RENAME TO `tags`;'] },
  ]);
  const file = join(tempDir('lint-live-'), 'live.db');

  it('without a database file every migration is pending, nothing is counted, and the file is not created', async () => {
    const result = await lint({ migrationsFolder: folder, url: `file:${file}` });
    assert.deepEqual(result.migrations, ['0000_init', '0001_unique_labels', '0002_rename_tags']);
    assert.deepEqual(codes(result.findings), ['MF101@1:warning', 'BC101@1:warning']);
    assert.deepEqual(result.findings.map((f) => f.file), [join(folder, '0001_unique_labels.sql'), join(folder, '0002_rename_tags.sql')]);
    assert.equal(result.ok, true);
    assert.equal(existsSync(file), false);
    assert.equal(existsSync(dirname(file)), true);
  });

  it('counts the duplicates in the live database for the pending migration and fails on them; --strict fails on warnings', async () => {
    const db = new Database(file);
    db.exec(SCHEMA.join(';\n'));
    db.exec("INSERT INTO tags VALUES (1, 'a'), (2, 'a')");
    const init = loadMigrations(folder)[0]!;
    db.exec('CREATE TABLE "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
    db.prepare('INSERT INTO "__drizzle_migrations" (hash, created_at) VALUES (?, ?)').run(init.hash, init.when);
    db.close();

    const result = await lint({ migrationsFolder: folder, url: `file:${file}` });
    assert.deepEqual(result.migrations, ['0001_unique_labels', '0002_rename_tags']);
    assert.deepEqual(codes(result.findings), ['MF101@1:error', 'BC101@1:warning']);
    assert.match(result.findings[0]!.message, /2 rows of the database share a value there/);
    assert.equal(result.ok, false);

    const renameOnly = await lint({ migrationsFolder: folder, url: `file:${file}`, target: 'rename_tags' });
    assert.equal(renameOnly.ok, true);
    assert.equal((await lint({ migrationsFolder: folder, url: `file:${file}`, target: 'rename_tags', strict: true })).ok, false);
  });
});

describe('lint command', () => {
  it('prints findings with file and statement, exits 0 on warnings and 1 with --strict', async () => {
    const project = makeProject({ fixture: 'renames' });
    try {
      const text = await project.migrate(['lint']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^drizzle\/0001_rebuild_parent\.sql:2 {2}RB101 {2}warning {2}rebuilds parents, which children references by foreign key/m);
      assert.match(text.stdout, /^drizzle\/0002_renames\.sql:2 {2}BC102 {2}warning {2}renames column kids\.note to memo/m);
      assert.match(text.stdout, /^4 findings \(0 errors, 4 warnings\) in 3 migrations .*; warnings do not fail without --strict\.$/m);

      const strict = await project.migrate(['lint', '0002', '--strict', '--json']);
      assert.equal(strict.code, 1, strict.stderr);
      const json = JSON.parse(strict.stdout) as { ok: boolean; findings: LintFinding[] };
      assert.equal(json.ok, false);
      assert.deepEqual(codes(json.findings), ['BC101@1:warning', 'BC102@2:warning']);
      assert.equal(existsSync(project.path('data')), false, 'lint creates no database');
    } finally {
      project.cleanup();
    }
  });
});
