import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeAmbiguities, findAmbiguities, parseRenameFlags, planRenames, type RenameRequest } from '../src/engine/diff/renames.js';
import { emptySnapshot, type SnapshotColumn, type SnapshotTable, type SqliteSnapshot } from '../src/engine/diff/snapshot.js';
import { MigrateError } from '../src/engine/errors.js';

const column = (name: string): SnapshotColumn => ({ name, type: 'text', primaryKey: false, notNull: false, autoincrement: false });

function table(name: string, columns: string[], extra: Partial<SnapshotTable> = {}): SnapshotTable {
  return {
    name,
    columns: Object.fromEntries(columns.map((c) => [c, column(c)])),
    indexes: {},
    foreignKeys: {},
    compositePrimaryKeys: {},
    uniqueConstraints: {},
    checkConstraints: {},
    ...extra,
  };
}

function snapshot(tables: SnapshotTable[]): SqliteSnapshot {
  return { ...emptySnapshot(), id: 'last-id', tables: Object.fromEntries(tables.map((t) => [t.name, t])) };
}

describe('parseRenameFlags', () => {
  const cases: { flags: { tables?: string[]; columns?: string[] }; expected: RenameRequest | RegExp }[] = [
    { flags: {}, expected: { tables: [], columns: [] } },
    { flags: { tables: ['posts=articles'] }, expected: { tables: [{ from: 'posts', to: 'articles' }], columns: [] } },
    { flags: { columns: ['users.name=full_name', ' users.a = b '] }, expected: { tables: [], columns: [{ table: 'users', from: 'name', to: 'full_name' }, { table: 'users', from: 'a', to: 'b' }] } },
    { flags: { tables: ['posts'] }, expected: /--rename-table posts: expected <old>=<new>/ },
    { flags: { tables: ['a=b=c'] }, expected: /expected <old>=<new>/ },
    { flags: { columns: ['name=full_name'] }, expected: /--rename-column name=full_name: expected <table>\.<old>=<new>/ },
    { flags: { columns: ['users.name='] }, expected: /expected <table>\.<old>=<new>/ },
  ];
  for (const { flags, expected } of cases) {
    it(JSON.stringify(flags), () => {
      if (expected instanceof RegExp) assert.throws(() => parseRenameFlags(flags), (e: unknown) => e instanceof MigrateError && e.code === 'BAD_RENAME' && expected.test(e.message));
      else assert.deepEqual(parseRenameFlags(flags), expected);
    });
  }
});

describe('planRenames', () => {
  const last = snapshot([
    table('users', ['id', 'name', 'email'], {
      indexes: { users_name_idx: { name: 'users_name_idx', columns: ['name'], isUnique: false } },
      uniqueConstraints: { u: { name: 'u', columns: ['email', 'name'] } },
      compositePrimaryKeys: { pk: { columns: ['id', 'name'] } },
    }),
    table('posts', ['id', 'user_name'], {
      foreignKeys: { fk: { name: 'fk', tableFrom: 'posts', columnsFrom: ['user_name'], tableTo: 'users', columnsTo: ['name'] } },
    }),
  ]);

  it('renames a column everywhere it is named, and records it as drizzle-kit does', () => {
    const models = snapshot([table('users', ['id', 'full_name', 'email']), table('posts', ['id', 'user_name'])]);
    const plan = planRenames(last, models, { tables: [], columns: [{ table: 'users', from: 'name', to: 'full_name' }] });
    assert.deepEqual(plan.statements, ['ALTER TABLE `users` RENAME COLUMN `name` TO `full_name`;']);
    assert.deepEqual(plan.meta, { schemas: {}, tables: {}, columns: { '"users"."name"': '"users"."full_name"' } });
    const users = plan.renamed.tables.users!;
    assert.deepEqual(Object.keys(users.columns), ['id', 'full_name', 'email']);
    assert.equal(users.columns.full_name!.name, 'full_name');
    assert.deepEqual(users.indexes.users_name_idx!.columns, ['full_name']);
    assert.deepEqual(users.uniqueConstraints.u!.columns, ['email', 'full_name']);
    assert.deepEqual(users.compositePrimaryKeys.pk!.columns, ['id', 'full_name']);
    assert.deepEqual(plan.renamed.tables.posts!.foreignKeys.fk!.columnsTo, ['full_name']);
    assert.ok(last.tables.users!.columns.name, 'the last snapshot itself is not changed');
  });

  it('renames a table and the foreign keys naming it; a column flag may use the old or the new table name', () => {
    const models = snapshot([table('members', ['id', 'full_name', 'email']), table('posts', ['id', 'user_name'])]);
    for (const named of ['users', 'members']) {
      const plan = planRenames(last, models, { tables: [{ from: 'users', to: 'members' }], columns: [{ table: named, from: 'name', to: 'full_name' }] });
      assert.deepEqual(plan.statements, ['ALTER TABLE `users` RENAME TO `members`;', 'ALTER TABLE `members` RENAME COLUMN `name` TO `full_name`;']);
      assert.deepEqual(plan.meta, { schemas: {}, tables: { '"users"': '"members"' }, columns: { '"members"."name"': '"members"."full_name"' } });
      assert.deepEqual(Object.keys(plan.renamed.tables).sort(), ['members', 'posts']);
      assert.equal(plan.renamed.tables.members!.name, 'members');
      assert.deepEqual(plan.renamed.tables.posts!.foreignKeys.fk!.tableTo, 'members');
      assert.deepEqual(findAmbiguities(plan.renamed, models), []);
    }
  });

  const models = snapshot([table('users', ['id', 'full_name', 'email']), table('articles', ['id', 'user_name'])]);
  const bad: { request: RenameRequest; message: RegExp }[] = [
    { request: { tables: [{ from: 'nope', to: 'articles' }], columns: [] }, message: /--rename-table nope=articles: the last snapshot has no table nope \(tables: users, posts\); nothing was written/ },
    { request: { tables: [{ from: 'posts', to: 'users' }], columns: [] }, message: /already has a table users/ },
    { request: { tables: [{ from: 'posts', to: 'stories' }], columns: [] }, message: /the models have no table stories/ },
    { request: { tables: [{ from: 'posts', to: 'articles' }, { from: 'posts', to: 'articles' }], columns: [] }, message: /renamed twice/ },
    { request: { tables: [], columns: [{ table: 'users', from: 'nope', to: 'full_name' }] }, message: /--rename-column users\.nope=full_name: the last snapshot has no column users\.nope \(columns: id, name, email\)/ },
    { request: { tables: [], columns: [{ table: 'people', from: 'name', to: 'full_name' }] }, message: /the last snapshot has no table people/ },
    { request: { tables: [], columns: [{ table: 'users', from: 'name', to: 'email' }] }, message: /already has a column users\.email/ },
    { request: { tables: [], columns: [{ table: 'users', from: 'name', to: 'nick' }] }, message: /the models have no column users\.nick/ },
    { request: { tables: [], columns: [{ table: 'users', from: 'email', to: 'full_name' }] }, message: /users\.email is still in the models/ },
  ];
  for (const { request, message } of bad) {
    it(`refuses ${JSON.stringify(request)}`, () => {
      assert.throws(() => planRenames(last, models, request), (e: unknown) => e instanceof MigrateError && e.code === 'BAD_RENAME' && message.test(e.message));
    });
  }
});

describe('findAmbiguities and describeAmbiguities', () => {
  const last = snapshot([table('users', ['id', 'name', 'email']), table('posts', ['id'])]);
  const cases: { name: string; models: SqliteSnapshot; expected: string }[] = [
    { name: 'nothing removed', models: snapshot([table('users', ['id', 'name', 'email', 'age']), table('posts', ['id']), table('tags', ['id'])]), expected: '' },
    { name: 'only removed', models: snapshot([table('users', ['id'])]), expected: '' },
    {
      name: 'a column both removed and added',
      models: snapshot([table('users', ['id', 'full_name', 'email']), table('posts', ['id'])]),
      expected: 'in table users, column name removed and full_name added: if it is a rename, pass --rename-column users.name=full_name',
    },
    {
      name: 'a table both removed and added, and two columns',
      models: snapshot([table('users', ['id', 'a', 'b']), table('articles', ['id'])]),
      expected:
        'table posts removed and articles added: if it is a rename, pass --rename-table posts=articles; ' +
        'in table users, columns email, name removed and a, b added: if it is a rename, pass --rename-column users.email=a',
    },
  ];
  for (const { name, models, expected } of cases) {
    it(name, () => assert.equal(describeAmbiguities(findAmbiguities(last, models)), expected));
  }
});
