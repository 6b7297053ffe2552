import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { makeProject, type TempProject } from './helpers/project.js';

/**
 * Renames generated without a terminal (`--rename-table`, `--rename-column`), on real drizzle-kit output in a temp
 * project: the up and down files rename in place and keep the data, and drizzle-kit reads the files as its own.
 */
describe('generate with rename flags', () => {
  let project: TempProject;
  before(() => {
    project = makeProject({ withMigrations: false });
  });
  after(() => project.cleanup());

  const models = (body: string) =>
    writeFileSync(project.path('src/schema/index.ts'), `import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';\n${body}\n`);
  const users = (columns: string, name = 'users', indexed = 'name') =>
    `export const users = sqliteTable('${name}', { id: integer('id').primaryKey(), ${columns} }, (t) => [index('users_name_idx').on(t.${indexed})]);`;
  const posts = (name = 'posts') =>
    `export const posts = sqliteTable('${name}', { id: integer('id').primaryKey(), userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }), title: text('title').notNull() });`;

  const generate = (...args: string[]) => project.run('npm', ['run', '--silent', 'db:generate', '--', ...args]);
  const migrate = async (...args: string[]) => {
    const result = await project.migrate(args);
    assert.equal(result.code, 0, result.stderr);
  };
  const rows = (sql: string) => {
    const db = project.open();
    try {
      return db.prepare(sql).all();
    } finally {
      db.close();
    }
  };
  /** The migrations folder as it is: file names and the journal's text. */
  const folderState = () => ({
    files: [...readdirSync(project.path('drizzle')), ...readdirSync(project.path('drizzle/meta'))].sort(),
    journal: readFileSync(project.path('drizzle/meta/_journal.json'), 'utf8'),
  });

  const userRows = [
    { id: 1, name: 'Ann', email: 'a@x' },
    { id: 2, name: 'Bo', email: null },
  ];

  it('creates the tables and fills them', async () => {
    models(`${users("name: text('name').notNull(), email: text('email')")}\n${posts()}`);
    const result = await generate('--name', 'init');
    assert.equal(result.code, 0, result.stderr);
    await migrate('up');
    const db = project.open();
    db.exec(`INSERT INTO users (id, name, email) VALUES (1, 'Ann', 'a@x'), (2, 'Bo', NULL);
             INSERT INTO posts (id, user_id, title) VALUES (1, 1, 'hello'), (2, 2, 'again');`);
    db.close();
  });

  it('renames a column through --rename-column, keeping its data up and down', async () => {
    models(`${users("fullName: text('full_name').notNull(), email: text('email')", 'users', 'fullName')}\n${posts()}`);
    const result = await generate('--name', 'rename_name', '--rename-column', 'users.name=full_name');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /0001_rename_name\.down\.sql \(checked: restores the previous schema\)/);

    const up = readFileSync(project.path('drizzle/0001_rename_name.sql'), 'utf8');
    assert.equal(up, 'ALTER TABLE `users` RENAME COLUMN `name` TO `full_name`;');
    const down = readFileSync(project.path('drizzle/0001_rename_name.down.sql'), 'utf8');
    assert.match(down, /ALTER TABLE `users` RENAME COLUMN `full_name` TO `name`;/);
    assert.doesNotMatch(down, /DROP|data-loss/);
    const snapshot = JSON.parse(readFileSync(project.path('drizzle/meta/0001_snapshot.json'), 'utf8')) as { id: string; prevId: string; _meta: unknown };
    const previous = JSON.parse(readFileSync(project.path('drizzle/meta/0000_snapshot.json'), 'utf8')) as { id: string };
    assert.equal(snapshot.prevId, previous.id);
    assert.notEqual(snapshot.id, previous.id);
    assert.deepEqual(snapshot._meta, { schemas: {}, tables: {}, columns: { '"users"."name"': '"users"."full_name"' } });
    const journal = JSON.parse(folderState().journal) as { entries: { idx: number; version: string; tag: string; breakpoints: boolean }[] };
    assert.deepEqual(journal.entries.map(({ idx, version, tag, breakpoints }) => ({ idx, version, tag, breakpoints })).at(-1), { idx: 1, version: '6', tag: '0001_rename_name', breakpoints: true });

    await migrate('up');
    assert.deepEqual(rows('SELECT id, full_name, email FROM users ORDER BY id'), userRows.map(({ name, ...r }) => ({ ...r, full_name: name })));
    await migrate('down');
    assert.deepEqual(rows('SELECT id, name, email FROM users ORDER BY id'), userRows);
    await migrate('up');
  });

  it('renames a table through --rename-table, keeping its data (and its children) up and down', async () => {
    models(`${users("fullName: text('full_name').notNull(), email: text('email')", 'users', 'fullName')}\n${posts('articles')}`);
    const result = await generate('--name', 'rename_posts', '--rename-table', 'posts=articles');
    assert.equal(result.code, 0, result.stderr);

    const up = readFileSync(project.path('drizzle/0002_rename_posts.sql'), 'utf8');
    // The rename comes first; drizzle-kit then rebuilds the table for its foreign key's new name, as its CLI does.
    assert.match(up, /^ALTER TABLE `posts` RENAME TO `articles`;--> statement-breakpoint\n/);
    assert.doesNotMatch(up, /DROP TABLE `posts`|CREATE TABLE `articles`/);
    const down = readFileSync(project.path('drizzle/0002_rename_posts.down.sql'), 'utf8');
    assert.match(down, /ALTER TABLE `articles` RENAME TO `posts`;/);
    assert.doesNotMatch(down, /data-loss/);
    assert.deepEqual((JSON.parse(readFileSync(project.path('drizzle/meta/0002_snapshot.json'), 'utf8')) as { _meta: unknown })._meta, {
      schemas: {},
      tables: { '"posts"': '"articles"' },
      columns: {},
    });

    const postRows = [
      { id: 1, user_id: 1, title: 'hello' },
      { id: 2, user_id: 2, title: 'again' },
    ];
    await migrate('up');
    assert.deepEqual(rows('SELECT id, user_id, title FROM articles ORDER BY id'), postRows);
    await migrate('down');
    assert.deepEqual(rows('SELECT id, user_id, title FROM posts ORDER BY id'), postRows);
    await migrate('up');
  });

  it('drizzle-kit reads the files as its own, and the runner finds the models and migrations in agreement', async () => {
    const checked = await project.run('node', ['node_modules/drizzle-kit/bin.cjs', 'check']);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /Everything's fine/);
    const before = folderState();
    const again = await project.run('node', ['node_modules/drizzle-kit/bin.cjs', 'generate']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /No schema changes, nothing to migrate/);
    assert.deepEqual(folderState(), before);
    await migrate('check');
  });

  it('a rename without a flag and without a terminal fails, showing the flag with the real names', async () => {
    models(`${users("fullName: text('full_name').notNull(), contact: text('contact')", 'users', 'fullName')}\n${posts('articles')}`);
    const before = folderState();
    const result = await generate('--name', 'maybe_rename');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: drizzle-kit generate failed .*--rename-column users\.email=contact/m);
    assert.deepEqual(folderState(), before);
  });

  it('a flag naming an unknown column, or a name the models lack, fails and writes nothing', async () => {
    const before = folderState();
    for (const [flag, message] of [
      ['users.nope=contact', /--rename-column users\.nope=contact: the last snapshot has no column users\.nope \(columns: id, full_name, email\); nothing was written/],
      ['users.email=phone', /the models have no column users\.phone/],
    ] as const) {
      const result = await generate('--name', 'bad', '--rename-column', flag);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, message);
      assert.deepEqual(folderState(), before);
    }
  });

  it('a change still ambiguous after the flags fails with the flag to add; both renames at once work', async () => {
    models(`${users("fullName: text('full_name').notNull(), contact: text('contact')", 'members', 'fullName')}\n${posts('articles')}`);
    const before = folderState();
    const partial = await generate('--name', 'members', '--rename-table', 'users=members');
    assert.equal(partial.code, 1);
    assert.match(partial.stderr, /could still be a rename: in table members, column email removed and contact added: if it is a rename, pass --rename-column members\.email=contact; .*two migrations/);
    assert.deepEqual(folderState(), before);

    const result = await generate('--name', 'members', '--rename-table', 'users=members', '--rename-column', 'users.email=contact');
    assert.equal(result.code, 0, result.stderr);
    const up = readFileSync(project.path('drizzle/0003_members.sql'), 'utf8');
    assert.match(up, /^ALTER TABLE `users` RENAME TO `members`;--> statement-breakpoint\nALTER TABLE `members` RENAME COLUMN `email` TO `contact`;/);
    assert.deepEqual((JSON.parse(readFileSync(project.path('drizzle/meta/0003_snapshot.json'), 'utf8')) as { _meta: unknown })._meta, {
      schemas: {},
      tables: { '"users"': '"members"' },
      columns: { '"members"."email"': '"members"."contact"' },
    });
    await migrate('up');
    assert.deepEqual(rows('SELECT id, full_name, contact FROM members ORDER BY id'), userRows.map(({ name, email, ...r }) => ({ ...r, full_name: name, contact: email })));
    assert.deepEqual(rows('SELECT count(*) AS n FROM articles'), [{ n: 2 }]);
    await migrate('down');
    assert.deepEqual(rows('SELECT id, full_name, email FROM users ORDER BY id'), userRows.map(({ name, ...r }) => ({ ...r, full_name: name })));
    assert.deepEqual(rows('SELECT count(*) AS n FROM articles'), [{ n: 2 }]);

    const again = await project.run('node', ['node_modules/drizzle-kit/bin.cjs', 'generate']);
    assert.match(again.stdout, /No schema changes, nothing to migrate/);
    await migrate('check');
  });
});
