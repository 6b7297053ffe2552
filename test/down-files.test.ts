import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { compareSchemas } from '../src/engine/diff/compare.js';
import { makeProject, type TempProject } from './helpers/project.js';
import { columnsOf, rowsOf, schemaOf } from './helpers/schema.js';

/**
 * Down files written from drizzle-kit's own output: each must bring back the exact schema from before
 * its up migration and keep the data of every column that exists on both sides.
 */

/**
 * Up then down: the schema is back exactly, and every row keeps its values, except in the tables and
 * columns (`table.column`) that the up migration drops, whose data `lost` names.
 */
async function expectRoundTrip(project: TempProject, target: string, seed: (db: ReturnType<TempProject['open']>) => void, lost: string[] = []) {
  const db = project.open();
  seed(db);
  const schemaBefore = await schemaOf(db);
  const tables = Object.keys(schemaBefore.tables);
  const dataBefore = new Map(tables.map((t) => [t, { columns: columnsOf(db, t), rows: rowsOf(db, t, columnsOf(db, t)) }]));
  db.close();

  const up = await project.migrate(['up', target]);
  assert.equal(up.code, 0, up.stderr);
  const down = await project.migrate(['down']);
  assert.equal(down.code, 0, down.stderr);

  const reopened = project.open();
  assert.deepEqual(compareSchemas(schemaBefore, await schemaOf(reopened)), []);
  for (const [table, { columns, rows }] of dataBefore) {
    if (lost.includes(table)) continue;
    const kept = columns.filter((c) => columnsOf(reopened, table).includes(c) && !lost.includes(`${table}.${c}`));
    const expected = rows.map((row) => Object.fromEntries(kept.map((c) => [c, (row as Record<string, unknown>)[c]])));
    assert.deepEqual(rowsOf(reopened, table, kept), expected, `rows of ${table}`);
  }
  reopened.close();
  return down;
}

describe('down files of generated migrations', () => {
  let project: TempProject;
  before(() => {
    project = makeProject({ withMigrations: false });
  });
  after(() => project.cleanup());

  const schema = (body: string) =>
    writeFileSync(project.path('src/schema/index.ts'), `import { sql } from 'drizzle-orm';\nimport { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';\n${body}\n`);

  it('generate writes a checked down file beside each new migration', async () => {
    schema(`
export const users = sqliteTable('users', {
  id: integer('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name'),
  age: integer('age').notNull().default(0),
});
export const posts = sqliteTable('posts', {
  id: integer('id').primaryKey(),
  userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  title: text('title').notNull(),
});`);
    // As the README says: through npm, which runs drizzle-kit and then writes the down file.
    const result = await project.run('npm', ['run', '--silent', 'db:generate', '--', '--name', 'init']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /0000_init\.down\.sql \(checked: restores the previous schema\)/);
    const down = readFileSync(project.path('drizzle/0000_init.down.sql'), 'utf8');
    assert.match(down, /DROP TABLE `posts`/);
    assert.match(down, /-- data-loss: drops table users and every row in it/);
    const up = await project.migrate(['up']);
    assert.equal(up.code, 0, up.stderr);
  });

  it('adding and indexing a column, and a parent rebuild, are undone with data kept', async () => {
    schema(`
export const users = sqliteTable('users', {
  id: integer('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name'),
  age: integer('age').notNull().default(0),
  phone: text('phone'),
}, (t) => [index('users_name_idx').on(t.name)]);
export const posts = sqliteTable('posts', {
  id: integer('id').primaryKey(),
  userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  title: text('title').notNull().default('untitled'),
});`);
    const generated = await project.migrate(['generate', '--name', 'columns']);
    assert.equal(generated.code, 0, generated.stderr);
    const downText = readFileSync(project.path('drizzle/0001_columns.down.sql'), 'utf8');
    assert.match(downText, /-- data-loss: drops column users\.phone/);

    await expectRoundTrip(project, '0001', (db) => {
      db.exec(`INSERT INTO users (id, email, name, age) VALUES (1, 'a@x', 'Ann', 31), (2, 'b@x', NULL, 40);
               INSERT INTO posts (id, user_id, title) VALUES (1, 1, 'hello'), (2, 1, 'again'), (3, 2, 'third');`);
    });
    // The posts rebuilds (up and down) ran with foreign keys off: the cascade did not delete the children.
    const db = project.open();
    assert.equal((db.prepare('SELECT count(*) AS n FROM posts').get() as { n: number }).n, 3);
    db.close();
  });

  it('a dropped NOT NULL column and a dropped table come back, saying what they cannot restore', async () => {
    assert.equal((await project.migrate(['up'])).code, 0);
    schema(`
export const users = sqliteTable('users', {
  id: integer('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name'),
  phone: text('phone'),
}, (t) => [index('users_name_idx').on(t.name)]);`);
    // age (NOT NULL, no default once the model drops it) is dropped, posts is dropped.
    const generated = await project.migrate(['generate', '--name', 'drops']);
    assert.equal(generated.code, 0, generated.stderr);
    const downText = readFileSync(project.path('drizzle/0002_drops.down.sql'), 'utf8');
    assert.match(downText, /-- data-loss: recreates table posts empty/);
    assert.match(downText, /-- data-loss: recreates column users\.age without the values/);
    const down = await expectRoundTrip(project, '0002', (db) => {
      db.exec(`INSERT INTO users (id, email, name, age) VALUES (3, 'c@x', 'Cy', 50)`);
    }, ['posts', 'users.age']);
    assert.match(down.stderr, /warning: reverting 0002_drops recreates table posts empty/);
    const db = project.open();
    // age had a default (0): the rows get it back, not their old values, as the warning said.
    assert.deepEqual(db.prepare('SELECT id, age FROM users ORDER BY id').all(), [{ id: 1, age: 0 }, { id: 2, age: 0 }, { id: 3, age: 0 }]);
    db.close();
  });

  it('a new table with an expression default and AUTOINCREMENT goes away on down', async () => {
    assert.equal((await project.migrate(['up'])).code, 0);
    const current = readFileSync(project.path('src/schema/index.ts'), 'utf8');
    writeFileSync(
      project.path('src/schema/index.ts'),
      `${current}
export const tags = sqliteTable('tags', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  label: text('label').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp' }).notNull().default(sql\`(unixepoch())\`),
}, (t) => [uniqueIndex('tags_label_unique').on(t.label)]);
`,
    );
    const generated = await project.migrate(['generate', '--name', 'tags']);
    assert.equal(generated.code, 0, generated.stderr);
    assert.match(readFileSync(project.path('drizzle/0003_tags.down.sql'), 'utf8'), /-- data-loss: drops table tags/);
    await expectRoundTrip(project, '0003', () => {});
  });

  it('a rename question without a terminal fails clearly and adds nothing', async () => {
    const current = readFileSync(project.path('src/schema/index.ts'), 'utf8');
    writeFileSync(project.path('src/schema/index.ts'), current.replace("phone: text('phone')", "alias: text('alias')"));
    const result = await project.migrate(['generate', '--name', 'maybe_rename']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: drizzle-kit generate failed .*rename/m);
    assert.equal(existsSync(project.path('drizzle/0004_maybe_rename.sql')), false);
    writeFileSync(project.path('src/schema/index.ts'), current);
  });

  it('write-down writes nothing when every migration has a down file, and refuses to overwrite unless told', async () => {
    const none = await project.migrate(['write-down']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /Every migration has a down file/);
    const refused = await project.migrate(['write-down', '0001']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /already exists .*--overwrite/);
    const rewritten = await project.migrate(['write-down', '0001', '--overwrite', '--json']);
    assert.equal(rewritten.code, 0, rewritten.stderr);
    const parsed = JSON.parse(rewritten.stdout) as { files: { tag: string; problems: string[] }[] };
    assert.deepEqual(parsed.files.map((f) => [f.tag, f.problems]), [['0001_columns', []]]);
  });
});

describe('down files of renames', () => {
  let project: TempProject;
  before(() => {
    project = makeProject({ fixture: 'renames' });
  });
  after(() => project.cleanup());

  it('reverses a table rename and a column rename as renames, keeping the data', async () => {
    const written = await project.migrate(['write-down']);
    assert.equal(written.code, 0, written.stderr);
    for (const tag of ['0000_init', '0001_rebuild_parent', '0002_renames']) assert.ok(existsSync(project.path(`drizzle/${tag}.down.sql`)), tag);
    const downText = readFileSync(project.path('drizzle/0002_renames.down.sql'), 'utf8');
    assert.match(downText, /ALTER TABLE `kids` RENAME TO `children`;/);
    assert.match(downText, /ALTER TABLE `children` RENAME COLUMN `memo` TO `note`;/);
    assert.doesNotMatch(downText, /data-loss/);

    assert.equal((await project.migrate(['up', '0001'])).code, 0);
    await expectRoundTrip(project, '0002', (db) => {
      db.exec(`INSERT INTO parents (id, name) VALUES (1, 'p1'), (2, 'p2');
               INSERT INTO children (id, parent_id, note) VALUES (1, 1, 'first'), (2, 2, 'second'), (3, 2, NULL);`);
    });
  });

  it('a parent rebuild keeps its ON DELETE CASCADE children, up and down', async () => {
    const down = await project.migrate(['down', '0000']);
    assert.equal(down.code, 0, down.stderr);
    await expectRoundTrip(project, '0001', () => {});
    const db = project.open();
    assert.deepEqual(db.prepare('SELECT id, parent_id, note FROM children ORDER BY id').all(), [
      { id: 1, parent_id: 1, note: 'first' },
      { id: 2, parent_id: 2, note: 'second' },
      { id: 3, parent_id: 2, note: null },
    ]);
    db.close();
  });
});
