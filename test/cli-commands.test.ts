// End-to-end tests of the migration CLI's commands (`npx tsx src/migrate.ts <command>`), run as child
// processes in a temporary copy of the project against real SQLite files.
// The tests of each `describe` share one project and run in order: each step starts where the previous one left the database.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { JournalEntry } from '../src/engine/journal.js';
import type { RevisionSummary } from '../src/runner.js';
import { appliedRows, makeProject, tableNames, type RunResult, type TempProject } from './helpers/project.js';


type Summary = RevisionSummary;

interface StepJson {
  direction: string;
  tag: string;
  from: string;
  to: string;
  ms: number;
}

interface MigrateJson {
  ok: boolean;
  direction: string;
  from: string;
  to: string;
  steps: StepJson[];
}

const INITIAL = '0000_initial_migration';

function readJournal(project: TempProject): { entries: JournalEntry[] } {
  return JSON.parse(readFileSync(project.path('drizzle', 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] };
}

/** Appends a hand-written migration (and its down file) to the project's journal. */
function addMigration(project: TempProject, tag: string, up: string[], down: string[]): JournalEntry {
  const journal = readJournal(project);
  const last = journal.entries.at(-1);
  assert.ok(last, 'the journal has the initial migration');
  const entry: JournalEntry = { idx: last.idx + 1, version: '6', when: last.when + 1000, tag, breakpoints: true };
  journal.entries.push(entry);
  writeFileSync(project.path('drizzle', 'meta', '_journal.json'), JSON.stringify(journal, null, 2));
  writeFileSync(project.path('drizzle', `${tag}.sql`), up.join('\n--> statement-breakpoint\n'));
  writeFileSync(project.path('drizzle', `${tag}.down.sql`), down.join('\n--> statement-breakpoint\n'));
  return entry;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Exit code check with the outputs in the failure message. */
function assertExit(result: RunResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

function parseJson<T>(result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    assert.fail(`stdout is not JSON:\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
}

/** An error is one `error: ` line (plus commander's usage hint for usage errors), never a stack trace. */
function assertErrorLine(result: RunResult, pattern: RegExp): void {
  assert.match(result.stderr, /^error: /m);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace without DEBUG');
}

/**
 * Tables of the app: every table except the runner's own, whose names start with `__`
 * (`__drizzle_migrations`, and any other table the runner keeps for itself).
 */
function appTables(db: ReturnType<TempProject['open']>): string[] {
  return tableNames(db).filter((t) => !t.startsWith('__'));
}

function withDb<T>(project: TempProject, file: string, fn: (db: ReturnType<TempProject['open']>) => T): T {
  const db = project.open(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

describe('CLI commands on the default database (data/bot.db) with the real initial migration', () => {
  let project: TempProject;
  let when: number;
  let upText: string;

  before(() => {
    project = makeProject({ fixture: 'initial' });
    when = readJournal(project).entries[0]!.when;
    upText = readFileSync(project.path('drizzle', `${INITIAL}.sql`)).toString();
    assert.equal(existsSync(project.path('data')), false, 'the copy starts without a data folder');
  });
  after(() => project.cleanup());

  it('up from nothing creates data/bot.db with users and one bookkeeping row (hash of the SQL file, created_at = journal when)', async () => {
    const result = await project.migrate(['up']);
    assertExit(result, 0, 'up');
    assert.match(result.stdout, /^Running upgrade base -> 0000_initial_migration \.\.\. /m);
    assert.match(result.stdout, /^Applied 1 migration in .*: base -> 0000_initial_migration\.$/m);
    assert.equal(result.stderr, '');
    assert.ok(existsSync(project.path('data', 'bot.db')), 'data/bot.db created');
    withDb(project, 'data/bot.db', (db) => {
      assert.ok(tableNames(db).includes('__drizzle_migrations'), 'drizzle bookkeeping table created');
      assert.deepEqual(appTables(db), ['users']);
      assert.deepEqual(appliedRows(db), [{ hash: sha256(upText), created_at: when }]);
      const index = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'users_email_unique'").get();
      assert.ok(index, 'second statement of the migration ran too');
    });
  });

  it('current prints the applied head', async () => {
    const result = await project.migrate(['current']);
    assertExit(result, 0, 'current');
    assert.equal(result.stdout, `${INITIAL} (head)\n`);
  });

  it('history marks the migration applied and current', async () => {
    const result = await project.migrate(['history']);
    assertExit(result, 0, 'history');
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1, result.stdout);
    assert.match(lines[0]!, /^> 0000_initial_migration\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\s+applied, current, head$/);
    assert.ok(lines[0]!.includes(new Date(when).toISOString().slice(0, 19).replace('T', ' ')), 'creation time from the journal');
  });

  for (const name of ['0', '0000', 'initial', INITIAL, 'head']) {
    it(`show ${name} shows the initial migration with its up and down SQL`, async () => {
      const result = await project.migrate(['show', name]);
      assertExit(result, 0, `show ${name}`);
      const out = result.stdout;
      assert.match(out, /^Revision: +0000_initial_migration$/m);
      assert.match(out, /^Index: +0$/m);
      assert.match(out, new RegExp(`^Hash: +${sha256(upText)}$`, 'm'));
      assert.match(out, /^State: +applied, current, head$/m);
      assert.match(out, /^Data loss: +down drops table users/m);
      const upAt = out.indexOf('-- up: drizzle/0000_initial_migration.sql');
      const downAt = out.indexOf('-- down: drizzle/0000_initial_migration.down.sql');
      assert.ok(upAt > 0 && downAt > upAt, out);
      assert.ok(out.slice(upAt, downAt).includes('CREATE TABLE `users`'), 'up SQL under the up header');
      assert.ok(out.slice(upAt, downAt).includes('CREATE UNIQUE INDEX `users_email_unique`'), 'whole up SQL');
      assert.ok(out.slice(downAt).includes('DROP TABLE `users`;'), 'down SQL under the down header');
    });
  }

  it('up again has nothing to do and changes nothing', async () => {
    const result = await project.migrate(['up']);
    assertExit(result, 0, 'second up');
    assert.equal(result.stdout, `Nothing to do: the database is at ${INITIAL}.\n`);
    withDb(project, 'data/bot.db', (db) => assert.equal(appliedRows(db).length, 1));
  });

  it('down reverts the migration and warns on stderr that users loses its rows', async () => {
    const result = await project.migrate(['down']);
    assertExit(result, 0, 'down');
    assert.match(result.stdout, /^Running downgrade 0000_initial_migration -> base \.\.\. /m);
    assert.match(result.stdout, /^Reverted 1 migration in .*: 0000_initial_migration -> base\.$/m);
    assert.match(result.stderr, /^warning: reverting 0000_initial_migration drops table users and every row in it$/m);
    withDb(project, 'data/bot.db', (db) => {
      assert.deepEqual(appTables(db), []);
      assert.deepEqual(appliedRows(db), []);
    });
  });

  it('down at base fails with exit 1', async () => {
    const result = await project.migrate(['down']);
    assertExit(result, 1, 'down at base');
    assertErrorLine(result, /^error: down -1 needs 1 applied migration, but none is applied$/m);
    assert.equal(result.stdout, '');
  });

  it('up +1 applies the one pending migration', async () => {
    const result = await project.migrate(['up', '+1']);
    assertExit(result, 0, 'up +1');
    assert.match(result.stdout, /^Running upgrade base -> 0000_initial_migration /m);
    withDb(project, 'data/bot.db', (db) => {
      assert.deepEqual(appTables(db), ['users']);
      assert.deepEqual(appliedRows(db), [{ hash: sha256(upText), created_at: when }]);
    });
  });

  it('down base --json reverts everything and reports the steps as JSON', async () => {
    const result = await project.migrate(['down', 'base', '--json']);
    assertExit(result, 0, 'down base --json');
    const out = parseJson<MigrateJson>(result);
    assert.equal(out.ok, true);
    assert.equal(out.direction, 'down');
    assert.equal(out.from, INITIAL);
    assert.equal(out.to, 'base');
    assert.deepEqual(
      out.steps.map(({ direction, tag, from, to }) => ({ direction, tag, from, to })),
      [{ direction: 'down', tag: INITIAL, from: INITIAL, to: 'base' }],
    );
    assert.equal(typeof out.steps[0]!.ms, 'number');
    assert.equal(result.stderr, '', 'no progress or warnings with --json');
    withDb(project, 'data/bot.db', (db) => {
      assert.deepEqual(appTables(db), []);
      assert.deepEqual(appliedRows(db), []);
    });
  });

  it('upgrade and downgrade are aliases of up and down', async () => {
    const up = await project.migrate(['upgrade']);
    assertExit(up, 0, 'upgrade');
    assert.match(up.stdout, /^Applied 1 migration in .*: base -> 0000_initial_migration\.$/m);
    withDb(project, 'data/bot.db', (db) => assert.deepEqual(appTables(db), ['users']));

    const down = await project.migrate(['downgrade']);
    assertExit(down, 0, 'downgrade');
    assert.match(down.stdout, /^Reverted 1 migration in .*: 0000_initial_migration -> base\.$/m);
    withDb(project, 'data/bot.db', (db) => {
      assert.deepEqual(appTables(db), []);
      assert.deepEqual(appliedRows(db), []);
    });
  });
});

describe('CLI commands on a chain of four migrations', () => {
  let project: TempProject;
  let whens: number[];

  /** Tables of the app (bookkeeping left out) and the created_at of each bookkeeping row. */
  const state = () =>
    withDb(project, 'data/bot.db', (db) => ({
      tables: appTables(db),
      applied: appliedRows(db).map((r) => r.created_at),
    }));

  before(() => {
    project = makeProject({ fixture: 'initial' });
    const table = (name: string) => `CREATE TABLE \`${name}\` (\n\t\`id\` integer PRIMARY KEY NOT NULL,\n\t\`label\` text\n);`;
    const index = (name: string) => `CREATE INDEX \`${name}_label_idx\` ON \`${name}\` (\`label\`);`;
    const drop = (name: string) => `-- data-loss: drops table ${name}\nDROP TABLE \`${name}\`;`;
    // 0001 and 0002 share the part `add`, which makes it ambiguous.
    addMigration(project, '0001_add_a', [table('a'), index('a')], [drop('a')]);
    addMigration(project, '0002_add_b', [table('b'), index('b')], [drop('b')]);
    addMigration(project, '0003_create_c', [table('c'), index('c')], [drop('c')]);
    whens = readJournal(project).entries.map((e) => e.when);
    assert.equal(whens.length, 4);
  });
  after(() => project.cleanup());

  it('up 0002 applies up to and including 0002', async () => {
    const result = await project.migrate(['up', '0002']);
    assertExit(result, 0, 'up 0002');
    assert.match(result.stdout, /^Running upgrade base -> 0000_initial_migration /m);
    assert.match(result.stdout, /^Running upgrade 0000_initial_migration -> 0001_add_a /m);
    assert.match(result.stdout, /^Running upgrade 0001_add_a -> 0002_add_b /m);
    assert.doesNotMatch(result.stdout, /0003_create_c/);
    assert.match(result.stdout, /^Applied 3 migrations in .*: base -> 0002_add_b\.$/m);
    assert.deepEqual(state(), { tables: ['a', 'b', 'users'], applied: whens.slice(0, 3) });
  });

  it('up +1 --json applies the next one and reports it', async () => {
    const result = await project.migrate(['up', '+1', '--json']);
    assertExit(result, 0, 'up +1 --json');
    const out = parseJson<MigrateJson>(result);
    assert.equal(out.ok, true);
    assert.equal(out.direction, 'up');
    assert.equal(out.from, '0002_add_b');
    assert.equal(out.to, '0003_create_c');
    assert.deepEqual(
      out.steps.map(({ direction, tag, from, to }) => ({ direction, tag, from, to })),
      [{ direction: 'up', tag: '0003_create_c', from: '0002_add_b', to: '0003_create_c' }],
    );
    assert.deepEqual(state(), { tables: ['a', 'b', 'c', 'users'], applied: whens });
  });

  it('down 0001 reverts what follows 0001, which stays applied (Alembic semantics)', async () => {
    const result = await project.migrate(['down', '0001']);
    assertExit(result, 0, 'down 0001');
    const running = result.stdout.split('\n').filter((l) => l.startsWith('Running'));
    assert.deepEqual(
      running.map((l) => l.replace(/ \.\.\. .*$/, '')),
      ['Running downgrade 0003_create_c -> 0002_add_b', 'Running downgrade 0002_add_b -> 0001_add_a'],
    );
    assert.match(result.stdout, /^Reverted 2 migrations in .*: 0003_create_c -> 0001_add_a\.$/m);
    assert.match(result.stderr, /^warning: reverting 0003_create_c drops table c$/m);
    assert.match(result.stderr, /^warning: reverting 0002_add_b drops table b$/m);
    assert.deepEqual(state(), { tables: ['a', 'users'], applied: whens.slice(0, 2) });
  });

  it('current --json reports 0001 with two pending', async () => {
    const result = await project.migrate(['current', '--json']);
    assertExit(result, 0, 'current --json');
    const out = parseJson<{ ok: boolean; revision: string; pending: number; migration: Summary | null }>(result);
    assert.equal(out.ok, true);
    assert.equal(out.revision, '0001_add_a');
    assert.equal(out.pending, 2);
    assert.ok(out.migration);
    assert.equal(out.migration.tag, '0001_add_a');
    assert.equal(out.migration.idx, 1);
    assert.equal(out.migration.applied, true);
    assert.equal(out.migration.current, true);
    assert.equal(out.migration.head, false);
    assert.equal(out.migration.createdAt, new Date(whens[1]!).toISOString());
  });

  it('down -2 reverts the last two applied migrations', async () => {
    const result = await project.migrate(['down', '-2']);
    assertExit(result, 0, 'down -2');
    assert.match(result.stdout, /^Reverted 2 migrations in .*: 0001_add_a -> base\.$/m);
    assert.match(result.stderr, /^warning: reverting 0000_initial_migration drops table users/m);
    assert.deepEqual(state(), { tables: [], applied: [] });
  });

  it('up head applies everything', async () => {
    const result = await project.migrate(['up', 'head']);
    assertExit(result, 0, 'up head');
    assert.match(result.stdout, /^Applied 4 migrations in .*: base -> 0003_create_c\.$/m);
    assert.deepEqual(state(), { tables: ['a', 'b', 'c', 'users'], applied: whens });
  });

  it('up to a revision behind the current one exits 1 and tells to use down', async () => {
    const result = await project.migrate(['up', '0001']);
    assertExit(result, 1, 'up 0001 at 0003');
    assertErrorLine(result, /^error: 0001_add_a is behind the current revision 0003_create_c: use 'down 0001_add_a' to go back$/m);
    assert.deepEqual(state(), { tables: ['a', 'b', 'c', 'users'], applied: whens });
  });

  it('an ambiguous revision exits 1 listing every match, and changes nothing', async () => {
    const result = await project.migrate(['down', 'add']);
    assertExit(result, 1, 'down add');
    assertErrorLine(result, /^error: revision 'add' is ambiguous: it matches 0001_add_a, 0002_add_b$/m);
    assert.deepEqual(state(), { tables: ['a', 'b', 'c', 'users'], applied: whens });
  });

  it('an unknown revision exits 1 listing the known ones, and changes nothing', async () => {
    const result = await project.migrate(['down', 'nope']);
    assertExit(result, 1, 'down nope');
    assertErrorLine(result, /^error: unknown revision 'nope' \(known: 0000_initial_migration, 0001_add_a, 0002_add_b, 0003_create_c; or head, base\)$/m);
    assert.deepEqual(state(), { tables: ['a', 'b', 'c', 'users'], applied: whens });
  });

  it('history --json lists every migration with applied, current and head', async () => {
    const result = await project.migrate(['history', '--json']);
    assertExit(result, 0, 'history --json');
    const out = parseJson<{ ok: boolean; current: string; migrations: Summary[]; unknownApplied: unknown[] }>(result);
    assert.equal(out.ok, true);
    assert.equal(out.current, '0003_create_c');
    assert.deepEqual(
      out.migrations.map((m) => [m.tag, m.applied, m.current, m.head, m.modified, m.hasDown]),
      [
        [INITIAL, true, false, false, false, true],
        ['0001_add_a', true, false, false, false, true],
        ['0002_add_b', true, false, false, false, true],
        ['0003_create_c', true, true, true, false, true],
      ],
    );
    assert.deepEqual(out.unknownApplied, []);
  });

  it('show add_b --json gives the migration with its SQL', async () => {
    const result = await project.migrate(['show', 'add_b', '--json']);
    assertExit(result, 0, 'show add_b --json');
    const out = parseJson<Summary & { ok: boolean; upPath: string; upSql: string; downPath: string; downSql: string | null; dataLoss: string[] }>(result);
    assert.equal(out.ok, true);
    assert.equal(out.tag, '0002_add_b');
    assert.equal(out.idx, 2);
    assert.equal(out.applied, true);
    assert.equal(out.current, false);
    assert.equal(out.head, false);
    assert.equal(out.upPath, 'drizzle/0002_add_b.sql');
    assert.equal(out.downPath, 'drizzle/0002_add_b.down.sql');
    assert.equal(out.upSql, readFileSync(project.path('drizzle', '0002_add_b.sql'), 'utf8'));
    assert.equal(out.hash, sha256(out.upSql));
    assert.ok(out.downSql?.includes('DROP TABLE `b`;'));
    assert.deepEqual(out.dataLoss, ['drops table b']);
  });
});

describe('CLI usage', () => {
  let project: TempProject;

  before(() => {
    project = makeProject({ fixture: 'initial' });
  });
  after(() => project.cleanup());

  it('--help exits 0 and lists the commands', async () => {
    const result = await project.migrate(['--help']);
    assertExit(result, 0, '--help');
    for (const command of ['up|upgrade', 'down|downgrade', 'current', 'history', 'show', 'stamp', 'generate', 'new|revision', 'write-down']) {
      assert.match(result.stdout, new RegExp(`^  ${command.replace('|', '\\|')} `, 'm'), `lists ${command}`);
    }
    assert.match(result.stdout, /--url <url>/);
    assert.match(result.stdout, /--json/);
  });

  it('an unknown command exits 2', async () => {
    const result = await project.migrate(['frobnicate']);
    assertExit(result, 2, 'unknown command');
    assert.match(result.stderr, /^error: unknown command 'frobnicate'$/m);
    assert.equal(result.stdout, '');
  });

  it('an unknown option exits 2 and touches no database', async () => {
    const result = await project.migrate(['up', '--frobnicate']);
    assertExit(result, 2, 'unknown option');
    assert.match(result.stderr, /^error: unknown option '--frobnicate'$/m);
    assert.equal(result.stdout, '');
    assert.equal(existsSync(project.path('data')), false, 'nothing was opened');
  });

  const malformed: [string[], RegExp][] = [
    [['up', '+x'], /^error: bad target '\+x' for up: expected \+N with N a whole number of at least 1$/m],
    [['down', '-0'], /^error: bad target '-0' for down: expected -N with N a whole number of at least 1$/m],
    [['up', '-1'], /^error: 'up -1' goes backwards: use 'down -1'$/m],
    [['down', '+1'], /^error: 'down \+1' goes forwards: use 'up \+1'$/m],
  ];
  for (const [args, message] of malformed) {
    it(`${args.join(' ')} is a usage error (exit 2)`, async () => {
      const result = await project.migrate(args);
      assertExit(result, 2, args.join(' '));
      assertErrorLine(result, message);
      assert.equal(existsSync(project.path('data')), false, 'the target is checked before the database is opened');
    });
  }

  it('a malformed target with --json prints the error as JSON on stdout', async () => {
    const result = await project.migrate(['up', '+0', '--json']);
    assertExit(result, 2, 'up +0 --json');
    const out = parseJson<{ ok: boolean; error: { code: string; message: string } }>(result);
    assert.deepEqual(out, { ok: false, error: { code: 'BAD_TARGET', message: "bad target '+0' for up: expected +N with N a whole number of at least 1" } });
  });

  it('a commander usage error with --json also prints the error as JSON on stdout', async () => {
    const result = await project.migrate(['up', '--frobnicate', '--json']);
    assertExit(result, 2, 'unknown option with --json');
    const out = parseJson<{ ok: boolean; error: { code: string; message: string } }>(result);
    assert.deepEqual(out, { ok: false, error: { code: 'USAGE', message: "unknown option '--frobnicate'" } });
  });
});
