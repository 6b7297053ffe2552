import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { makeProject, type TempProject } from './helpers/project.js';

/**
 * `npm run db:generate` on real drizzle-kit 0.31 output for the changes where drizzle-kit writes SQLite migrations
 * that fail or lose data: each generated migration is repaired, tried on generated rows, and then applied here to a
 * database holding real rows, up, down and up again, with the rows checked at each step. One project, one chain of
 * migrations, so every step starts from the schema (and rows) the previous one left.
 */
describe('generate repairs drizzle-kit defects and tries each migration on data', () => {
  let project: TempProject;
  before(() => {
    project = makeProject({ withMigrations: false });
  });
  after(() => project.cleanup());

  /** The models: a parent, k_items (the upstream report's table) and an AUTOINCREMENT table, with per-step changes. */
  const models = (parts: { items: string; itemsIndex?: string; counters?: string; extra?: string }) =>
    writeFileSync(
      project.path('src/schema/index.ts'),
      `import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, sqliteView, text } from 'drizzle-orm/sqlite-core';
export const parent = sqliteTable('parent', { id: integer('id').primaryKey() });
export const items = sqliteTable('k_items', { id: integer('id').primaryKey(), ${parts.items} }, (t) => [index('k_items_idx').on(t.${parts.itemsIndex ?? 'name'})]);
export const counters = sqliteTable('counters', { id: integer('id').primaryKey({ autoIncrement: true }), label: text('label')${parts.counters ?? ''} });
${parts.extra ?? ''}
void sql;
`,
    );

  const generate = (name: string) => project.run('npm', ['run', '--silent', 'db:generate', '--', '--name', name]);
  const migrate = async (...args: string[]) => {
    const result = await project.migrate(args);
    assert.equal(result.code, 0, result.stderr);
    return result;
  };
  const query = <T>(sql: string): T[] => {
    const db = project.open();
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  };
  const exec = (sql: string) => {
    const db = project.open();
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
  };
  const upFile = (tag: string) => readFileSync(project.path(`drizzle/${tag}.sql`), 'utf8');
  const downFile = (tag: string) => readFileSync(project.path(`drizzle/${tag}.down.sql`), 'utf8');
  const items = () => query<Record<string, unknown>>('SELECT * FROM k_items ORDER BY id');

  /** Generates, checks the output names a repair and a passed trial, then applies up, down -1 and up on the real rows. */
  async function generateAndApply(name: string, check: (when: 'up' | 'down') => void): Promise<{ tag: string; stdout: string }> {
    const result = await generate(name);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /Tried \d{4}_\S+ on generated rows: .*passed/);
    const tag = /Tried (\d{4}_\S+) on generated rows/.exec(result.stdout)![1]!;
    await migrate('up');
    check('up');
    await migrate('down', '-1');
    check('down');
    await migrate('up');
    check('up');
    return { tag, stdout: result.stdout };
  }

  const itemColumns = "name: text('name'), qty: integer('qty').default(1), sku: text('sku').notNull()";

  it('creates the first migration and fills it with rows', async () => {
    models({ items: itemColumns });
    const result = await generate('init');
    assert.equal(result.code, 0, result.stderr);
    await migrate('up');
    exec(`INSERT INTO parent (id) VALUES (1), (2), (3);
          INSERT INTO k_items (id, name, qty, sku) VALUES (1, 'ann', 1, 's1'), (2, 'bo', 2, 's2'), (3, 'cy', 3, 's3');
          INSERT INTO counters (label) VALUES ('a'), ('b'), ('c'), ('d'), ('e');
          DELETE FROM counters WHERE id > 3;`);
  });

  it('rebuild plus new column, variant 1: a changed default (and the index moved), as in the upstream report', async () => {
    models({ items: `${itemColumns.replace('default(1)', 'default(3)')}, color: text('color')`, itemsIndex: 'qty' });
    const { tag } = await generateAndApply('changed_default', () => {
      const rows = items();
      assert.deepEqual(rows.map((r) => [r.id, r.name, r.qty, r.sku]), [[1, 'ann', 1, 's1'], [2, 'bo', 2, 's2'], [3, 'cy', 3, 's3']]);
      if ('color' in rows[0]!) assert.deepEqual(rows.map((r) => r.color), [null, null, null]);
    });
    const up = upFile(tag);
    assert.match(up, /-- repaired: drizzle-kit's rebuild copied color from k_items/);
    assert.match(up, /INSERT INTO `__new_k_items`\("id", "name", "qty", "sku"\) SELECT "id", "name", "qty", "sku" FROM `k_items`/);
  });

  it('rebuild plus new column, variant 2: a changed nullability', async () => {
    models({ items: `${itemColumns.replace("text('name')", "text('name').notNull()").replace('default(1)', 'default(3)')}, color: text('color'), size: integer('size').default(7)`, itemsIndex: 'qty' });
    const { tag } = await generateAndApply('changed_nullability', (when) => {
      const rows = items();
      assert.deepEqual(rows.map((r) => [r.id, r.name, r.qty]), [[1, 'ann', 1], [2, 'bo', 2], [3, 'cy', 3]]);
      if (when === 'up') assert.deepEqual(rows.map((r) => r.size), [7, 7, 7], 'the new column takes its default');
    });
    assert.match(upFile(tag), /-- repaired: drizzle-kit's rebuild copied size from k_items/);
  });

  it('rebuild plus new column, variant 3: an added foreign key', async () => {
    const columns = `${itemColumns.replace("text('name')", "text('name').notNull()").replace("integer('qty').default(1)", "integer('qty').default(3).references(() => parent.id)")}, color: text('color'), size: integer('size').default(7), note: text('note')`;
    models({ items: columns, itemsIndex: 'qty' });
    const { tag } = await generateAndApply('added_foreign_key', () => {
      assert.deepEqual(items().map((r) => [r.id, r.name, r.qty, r.size]), [[1, 'ann', 1, 7], [2, 'bo', 2, 7], [3, 'cy', 3, 7]]);
      assert.deepEqual(query('PRAGMA foreign_key_check'), []);
    });
    assert.match(upFile(tag), /-- repaired: drizzle-kit's rebuild copied note from k_items/);
  });

  let base = '';
  it('a new STORED generated column, which drizzle-kit skips ("No schema changes"), is added through a rebuild', async () => {
    base = `${itemColumns.replace("text('name')", "text('name').notNull()").replace("integer('qty').default(1)", "integer('qty').default(3).references(() => parent.id)")}, color: text('color'), size: integer('size').default(7), note: text('note')`;
    models({ items: `${base}, upperName: text('upper_name').generatedAlwaysAs(sql\`upper(name)\`, { mode: 'stored' })`, itemsIndex: 'qty' });
    const { tag, stdout } = await generateAndApply('stored_generated', (when) => {
      const rows = items();
      assert.deepEqual(rows.map((r) => [r.id, r.name]), [[1, 'ann'], [2, 'bo'], [3, 'cy']]);
      if (when === 'up') assert.deepEqual(rows.map((r) => r.upper_name), ['ANN', 'BO', 'CY']);
      else assert.ok(!('upper_name' in rows[0]!));
    });
    assert.match(stdout, /drizzle-kit wrote no migration/);
    assert.match(upFile(tag), /-- repaired: drizzle-kit wrote no statement adding upper_name/);
    assert.match(upFile(tag), /`upper_name` text GENERATED ALWAYS AS \(upper\("?name"?\)\) STORED/);
  });

  it('a new column with an expression default is added through a rebuild, not ALTER TABLE ADD', async () => {
    base = `${base}, upperName: text('upper_name').generatedAlwaysAs(sql\`upper(name)\`, { mode: 'stored' })`;
    models({ items: `${base}, createdAt: integer('created_at').notNull().default(sql\`(unixepoch())\`)`, itemsIndex: 'qty' });
    const started = Math.floor(Date.now() / 1000) - 5;
    const { tag } = await generateAndApply('expression_default', (when) => {
      const rows = items();
      assert.equal(rows.length, 3);
      if (when === 'up') for (const row of rows) assert.ok(typeof row.created_at === 'number' && row.created_at >= started, `created_at: ${String(row.created_at)}`);
    });
    assert.match(upFile(tag), /-- repaired: SQLite cannot ADD a column whose default is an expression/);
    assert.doesNotMatch(upFile(tag), /ALTER TABLE `k_items` ADD/);
  });

  it('a rebuild of a table a view reads from drops the view first and creates it again after', async () => {
    base = `${base}, createdAt: integer('created_at').notNull().default(sql\`(unixepoch())\`)`;
    const view = "export const itemNames = sqliteView('item_names', { id: integer('id'), name: text('name') }).as(sql`select id, name from k_items`);";
    models({ items: base, itemsIndex: 'qty', extra: view });
    await generateAndApply('item_names_view', () => {});
    models({ items: base.replace('default(3)', 'default(5)'), itemsIndex: 'qty', extra: view });
    const { tag } = await generateAndApply('rebuild_under_view', () => {
      assert.deepEqual(query('SELECT id, name FROM item_names ORDER BY id'), [{ id: 1, name: 'ann' }, { id: 2, name: 'bo' }, { id: 3, name: 'cy' }]);
    });
    const up = upFile(tag);
    assert.match(up, /-- repaired: view item_names names k_items/);
    assert.ok(up.indexOf('DROP VIEW IF EXISTS `item_names`') < up.indexOf('CREATE TABLE `__new_k_items`'));
    assert.ok(up.indexOf('CREATE VIEW') > up.indexOf('RENAME TO `k_items`'));
  });

  it("keeps an AUTOINCREMENT table's counter across its rebuild, up and down", async () => {
    const seq = () => query<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'counters'")[0]?.seq;
    assert.equal(seq(), 5, 'rows 4 and 5 were deleted: the counter stays at 5');
    const view = "export const itemNames = sqliteView('item_names', { id: integer('id'), name: text('name') }).as(sql`select id, name from k_items`);";
    base = base.replace('default(3)', 'default(5)');
    models({ items: base, itemsIndex: 'qty', counters: ".default('x')", extra: view });
    const { tag } = await generateAndApply('counters_default', () => {
      assert.equal(seq(), 5);
      assert.deepEqual(query('SELECT id FROM counters ORDER BY id'), [{ id: 1 }, { id: 2 }, { id: 3 }]);
    });
    assert.match(upFile(tag), /-- repaired: carries counters's AUTOINCREMENT counter/);
    assert.match(downFile(tag), /-- repaired: carries counters's AUTOINCREMENT counter/);
    exec("INSERT INTO counters (label) VALUES ('f')");
    assert.deepEqual(query("SELECT id FROM counters WHERE label = 'f'"), [{ id: 6 }], 'the ids of deleted rows are not handed out again');
  });

  it('the down of a dropped NOT NULL column brings it back on a table with rows, with a comment that its values are gone', async () => {
    const view = "export const itemNames = sqliteView('item_names', { id: integer('id'), name: text('name') }).as(sql`select id, name from k_items`);";
    base = base.replace(", sku: text('sku').notNull()", '');
    models({ items: base, itemsIndex: 'qty', counters: ".default('x')", extra: view });
    const { tag } = await generateAndApply('drop_sku', (when) => {
      const rows = items();
      assert.deepEqual(rows.map((r) => r.name), ['ann', 'bo', 'cy']);
      if (when === 'down') assert.deepEqual(rows.map((r) => r.sku), ['', '', '']);
      else assert.ok(!('sku' in rows[0]!));
    });
    const down = downFile(tag);
    // Brought back where it was (before color), not appended: the down rebuilds the table in its old column order.
    assert.match(down, /-- k_items\.sku comes back NOT NULL with '' in every row \(the values the up migration dropped are gone\)/);
    assert.match(down, /`qty` integer DEFAULT 5,\n\t`sku` text NOT NULL,\n\t`color` text,/);
    assert.match(down, /-- data-loss: recreates column k_items\.sku \(NOT NULL\)/);
    const sku = query<{ notnull: number; dflt_value: string | null }>("SELECT \"notnull\", dflt_value FROM pragma_table_info('k_items') WHERE name = 'sku'");
    assert.deepEqual(sku, [], 'up again dropped it');
  });

  it('fails with exit 1 naming the migration and the statement when a new NOT NULL column has no default, files left in place', async () => {
    const view = "export const itemNames = sqliteView('item_names', { id: integer('id'), name: text('name') }).as(sql`select id, name from k_items`);";
    models({ items: `${base}, must: text('must').notNull()`, itemsIndex: 'qty', counters: ".default('x')", extra: view });
    const journalBefore = JSON.parse(readFileSync(project.path('drizzle/meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    const result = await generate('must_column');
    assert.equal(result.code, 1, result.stdout);
    const error = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
    assert.equal(error.length, 1, result.stderr);
    const tag = `${String(journalBefore.entries.length).padStart(4, '0')}_must_column`;
    assert.match(error[0]!, new RegExp(`^error: ${tag} fails on a scratch database`));
    assert.match(error[0]!, /ALTER TABLE `k_items` ADD `must` text NOT NULL/);
    assert.match(error[0]!, /give k_items\.must a default in the models/);
    // The journal is whole: drizzle-kit's entry and its files are all there for the developer to fix.
    const journal = JSON.parse(readFileSync(project.path('drizzle/meta/_journal.json'), 'utf8')) as { entries: { tag: string; idx: number }[] };
    assert.equal(journal.entries.at(-1)!.tag, tag);
    for (const file of [`drizzle/${tag}.sql`, `drizzle/${tag}.down.sql`, `drizzle/meta/${tag.slice(0, 4)}_snapshot.json`]) assert.ok(existsSync(project.path(file)), file);
    // The database was not touched: the developer's rows are where they were.
    assert.deepEqual(items().map((r) => r.name), ['ann', 'bo', 'cy']);
  });
});
