// End-to-end tests of failure safety: every failed command exits 1 with one `error:` line naming what is wrong,
// and leaves the database exactly as it was (schema and bookkeeping rows), or, within one `up` run,
// as the last migration that succeeded left it.
// The tests of each `describe` share one project and run in order.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { JournalEntry } from '../src/engine/journal.js';
import { appliedRows, makeProject, schemaDump, tableNames, type RunResult, type TempProject } from './helpers/project.js';


const BREAKPOINT = '\n--> statement-breakpoint\n';

function journalFile(project: TempProject): string {
  return project.path('drizzle', 'meta', '_journal.json');
}

function readJournal(project: TempProject): { entries: JournalEntry[] } {
  return JSON.parse(readFileSync(journalFile(project), 'utf8')) as { entries: JournalEntry[] };
}

/** Appends a journal entry and writes its up file and, unless `down` is null, its down file. */
function addMigration(project: TempProject, tag: string, up: string[] | null, down: string[] | null): JournalEntry {
  const journal = readJournal(project);
  const last = journal.entries.at(-1);
  assert.ok(last);
  const entry: JournalEntry = { idx: last.idx + 1, version: '6', when: last.when + 1000, tag, breakpoints: true };
  journal.entries.push(entry);
  writeFileSync(journalFile(project), JSON.stringify(journal, null, 2));
  if (up) writeFileSync(project.path('drizzle', `${tag}.sql`), up.join(BREAKPOINT));
  if (down) writeFileSync(project.path('drizzle', `${tag}.down.sql`), down.join(BREAKPOINT));
  return entry;
}

const createTable = (name: string) => `CREATE TABLE \`${name}\` (\n\t\`id\` integer PRIMARY KEY NOT NULL\n);`;
const dropTable = (name: string) => `DROP TABLE \`${name}\`;`;

function assertExit(result: RunResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

/** The one `error:` line of stderr (there must be exactly one). */
function errorLine(result: RunResult): string {
  const lines = result.stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(lines.length, 1, `one error line in:\n${result.stderr}`);
  return lines[0]!;
}

function assertNoStack(result: RunResult): void {
  assert.doesNotMatch(result.stderr, /^\s+at /m, `no stack trace without DEBUG:\n${result.stderr}`);
}

/**
 * Everything a failed command must leave as it was in the project's default database: the full schema text
 * (the runner's own tables included), drizzle's bookkeeping rows, and (for readable messages) the app's tables,
 * that is every table but the runner's own, whose names start with `__`.
 */
function snapshot(project: TempProject): { schema: string; rows: { hash: string; created_at: number }[]; tables: string[] } {
  const db = project.open();
  try {
    return { schema: schemaDump(db), rows: appliedRows(db), tables: tableNames(db).filter((t) => !t.startsWith('__')) };
  } finally {
    db.close();
  }
}

describe('a migration that fails part-way through an up run', () => {
  let project: TempProject;
  let whens: number[];
  let afterFirstFailure: ReturnType<typeof snapshot>;

  before(() => {
    project = makeProject({ fixture: 'initial' });
    addMigration(project, '0001_add_a', [createTable('a')], [dropTable('a')]);
    // Statement 1 succeeds, statement 2 reads a table that does not exist.
    addMigration(project, '0002_broken', [createTable('d'), 'INSERT INTO `d` (`id`) SELECT `id` FROM `missing_table`;'], [dropTable('d')]);
    whens = readJournal(project).entries.map((e) => e.when);
  });
  after(() => project.cleanup());

  it('exits 1 naming the file and statement 2; earlier migrations of the run stay applied; the failing one leaves nothing', async () => {
    const result = await project.migrate(['up']);
    assertExit(result, 1, 'up with a broken migration');
    const line = errorLine(result);
    assert.match(line, /^error: drizzle\/0002_broken\.sql: statement 2 of 2 failed: no such table: missing_table /);
    assert.match(line, /rolled back, the database is unchanged by this migration$/);
    assertNoStack(result);
    assert.match(result.stdout, /^Running upgrade 0000_initial_migration -> 0001_add_a \.\.\. \d/m, 'earlier migrations ran');
    assert.doesNotMatch(result.stdout, /^Applied/m);

    afterFirstFailure = snapshot(project);
    assert.deepEqual(afterFirstFailure.tables, ['a', 'users'], 'no table d');
    assert.deepEqual(
      afterFirstFailure.rows.map((r) => r.created_at),
      whens.slice(0, 2),
      'rows for 0000 and 0001, none for 0002',
    );
  });

  it('with DEBUG=1 the same failure prints a stack trace, and the database stays exactly as it was', async () => {
    const result = await project.migrate(['up'], { DEBUG: '1' });
    assertExit(result, 1, 'DEBUG=1 up');
    assert.match(errorLine(result), /0002_broken\.sql: statement 2 of 2 failed/);
    assert.match(result.stderr, /^MigrateError: drizzle\/0002_broken\.sql: statement 2/m);
    assert.match(result.stderr, /^\s+at .*executor\.ts/m, 'stack frames');
    assert.deepEqual(snapshot(project), afterFirstFailure);
  });

  it('with --json the failure is a JSON error object on stdout', async () => {
    const result = await project.migrate(['up', '--json']);
    assertExit(result, 1, 'up --json');
    const out = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(out.ok, false);
    assert.equal(out.error.code, 'MIGRATION_FAILED');
    assert.match(out.error.message, /^drizzle\/0002_broken\.sql: statement 2 of 2 failed/);
    assert.deepEqual(snapshot(project), afterFirstFailure);
  });

  it('a migration that leaves a foreign key violation exits 1 mentioning the foreign key, and is rolled back', async () => {
    // 0002 is still pending, so its file may be rewritten: a parent, a child with a foreign key to it, an orphan child row.
    writeFileSync(
      project.path('drizzle', '0002_broken.sql'),
      [
        createTable('parent'),
        'CREATE TABLE `child` (\n\t`id` integer PRIMARY KEY NOT NULL,\n\t`parent_id` integer NOT NULL REFERENCES `parent`(`id`)\n);',
        'INSERT INTO `child` (`id`, `parent_id`) VALUES (1, 42);',
      ].join(BREAKPOINT),
    );
    const result = await project.migrate(['up']);
    assertExit(result, 1, 'up with a foreign key violation');
    const line = errorLine(result);
    assert.match(line, /^error: drizzle\/0002_broken\.sql: foreign key check failed: 1 row\(s\) violate foreign keys/);
    assert.match(line, /child rowid 1 references a missing row of parent/);
    assert.match(line, /rolled back/);
    assertNoStack(result);
    assert.deepEqual(snapshot(project), afterFirstFailure, 'no parent, no child, no row for 0002');
  });
});

describe('down, history and folder problems on a migrated database', () => {
  let project: TempProject;
  let whens: number[];
  let migrated: ReturnType<typeof snapshot>;

  before(async () => {
    project = makeProject({ fixture: 'initial' });
    addMigration(project, '0001_add_a', [createTable('a')], [dropTable('a')]);
    addMigration(project, '0002_add_b', [createTable('b')], [`-- data-loss: drops table b\n${dropTable('b')}`]);
    whens = readJournal(project).entries.map((e) => e.when);
    assertExit(await project.migrate(['up']), 0, 'setup up');
    migrated = snapshot(project);
    assert.deepEqual(migrated.tables, ['a', 'b', 'users']);
    assert.deepEqual(
      migrated.rows.map((r) => r.created_at),
      whens,
    );
  });
  after(() => project.cleanup());

  it('down with a missing down file exits 1 naming the .down.sql path, and reverts nothing', async () => {
    const down = project.path('drizzle', '0002_add_b.down.sql');
    renameSync(down, `${down}.aside`);
    try {
      const result = await project.migrate(['down']);
      assertExit(result, 1, 'down without a down file');
      assert.match(errorLine(result), /^error: cannot revert 0002_add_b: its down file drizzle\/0002_add_b\.down\.sql is missing/);
      assertNoStack(result);
      assert.deepEqual(snapshot(project), migrated);
    } finally {
      renameSync(`${down}.aside`, down);
    }
  });

  it('down base with the down file of an older migration missing reverts nothing, not even the newer ones', async () => {
    const down = project.path('drizzle', '0001_add_a.down.sql');
    renameSync(down, `${down}.aside`);
    try {
      const result = await project.migrate(['down', 'base']);
      assertExit(result, 1, 'down base without 0001 down file');
      assert.match(errorLine(result), /drizzle\/0001_add_a\.down\.sql is missing/);
      assert.doesNotMatch(result.stdout, /Running downgrade/);
      assert.deepEqual(snapshot(project), migrated);
    } finally {
      renameSync(`${down}.aside`, down);
    }
  });

  it('down with a down file holding only comments exits 1 (empty), and reverts nothing', async () => {
    const down = project.path('drizzle', '0002_add_b.down.sql');
    const original = readFileSync(down, 'utf8');
    writeFileSync(down, '-- Down migration for 0002_add_b\n-- TODO: write the SQL\n--> statement-breakpoint\n/* nothing */\n');
    try {
      const result = await project.migrate(['down']);
      assertExit(result, 1, 'down with a comment-only down file');
      assert.match(
        errorLine(result),
        /^error: cannot revert 0002_add_b: its down file drizzle\/0002_add_b\.down\.sql is empty; write the SQL that reverses drizzle\/0002_add_b\.sql$/,
      );
      assert.deepEqual(snapshot(project), migrated);
    } finally {
      writeFileSync(down, original);
    }
  });

  it('an applied migration edited since: up refuses naming the file; up --allow-modified proceeds', async () => {
    const up = project.path('drizzle', '0001_add_a.sql');
    const original = readFileSync(up, 'utf8');
    appendFileSync(up, '\n-- edited after it was applied\n');
    addMigration(project, '0003_add_c', [createTable('c')], [dropTable('c')]);
    try {
      const refused = await project.migrate(['up']);
      assertExit(refused, 1, 'up with a modified migration');
      assert.match(
        errorLine(refused),
        /^error: applied migrations were edited since they were applied: drizzle\/0001_add_a\.sql; restore them, or pass --allow-modified/,
      );
      assertNoStack(refused);
      assert.deepEqual(snapshot(project), migrated, 'nothing applied');

      const allowed = await project.migrate(['up', '--allow-modified']);
      assertExit(allowed, 0, 'up --allow-modified');
      assert.match(allowed.stdout, /^Applied 1 migration in .*: 0002_add_b -> 0003_add_c\.$/m);
      const now = snapshot(project);
      assert.deepEqual(now.tables, ['a', 'b', 'c', 'users']);
      assert.deepEqual(now.rows.slice(0, 3), migrated.rows, 'the rows of 0000..0002 are untouched (0001 keeps its old hash)');
      assert.equal(now.rows.length, 4);
    } finally {
      writeFileSync(up, original);
    }
  });

  it('a journal entry whose SQL file is missing exits 1 naming it, and changes nothing', async () => {
    addMigration(project, '0004_ghost', null, null);
    const was = snapshot(project);
    try {
      const result = await project.migrate(['up']);
      assertExit(result, 1, 'up with a missing SQL file');
      assert.match(errorLine(result), /^error: journal entry 0004_ghost has no SQL file: drizzle\/0004_ghost\.sql is missing$/);
      assertNoStack(result);
      assert.deepEqual(snapshot(project), was);
    } finally {
      const journal = readJournal(project);
      journal.entries = journal.entries.filter((e) => e.tag !== '0004_ghost');
      writeFileSync(journalFile(project), JSON.stringify(journal, null, 2));
    }
  });

  it('--dir pointing to an empty folder exits 1 saying there are no migrations, and changes nothing', async () => {
    const was = snapshot(project);
    mkdirSync(project.path('empty'));
    try {
      const result = await project.migrate(['up', '--dir', './empty']);
      assertExit(result, 1, 'up --dir empty');
      assert.match(errorLine(result), /^error: no migrations: empty\/meta\/_journal\.json does not exist/);
      assertNoStack(result);
      assert.deepEqual(snapshot(project), was);
    } finally {
      rmSync(project.path('empty'), { recursive: true, force: true });
    }
  });
});
