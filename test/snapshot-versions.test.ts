// Snapshot versions: drizzle-kit 0.31 reads SQLite snapshots of version 5 and 6 (its `up` rewrites 5 as 6). A history
// of version-5 snapshots (test/fixtures/snapshot-v5/, see its build.ts) is read as `drizzle-kit up` would rewrite it,
// in memory only; any other version, or a file drizzle-kit's schema rejects, is refused in one line by every command.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSnapshot } from '../src/engine/diff/snapshot.js';
import { FINAL_MODELS } from './fixtures/snapshot-v5/models.js';
import { ROOT, makeProject, tableNames, type RunResult, type TempProject } from './helpers/project.js';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'snapshot-v5', 'drizzle');
const SNAPSHOTS = readdirSync(join(FIXTURE, 'meta')).filter((f) => f.endsWith('_snapshot.json')).sort();

function assertExit(result: RunResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

/** A project holding the version-5 history and the models of its last migration (so `check` has nothing to report). */
function v5Project(): TempProject {
  const project = makeProject({ fixture: 'snapshot-v5/drizzle' });
  writeFileSync(project.path('src', 'schema', 'index.ts'), FINAL_MODELS);
  return project;
}

const metaFiles = (project: TempProject) =>
  Object.fromEntries(readdirSync(project.path('drizzle', 'meta')).map((f) => [f, readFileSync(project.path('drizzle', 'meta', f), 'utf8')]));

describe('version-5 snapshots', () => {
  let project: TempProject;
  before(() => {
    project = v5Project();
  });
  after(() => project.cleanup());

  it('are read exactly as `drizzle-kit up` rewrites them, without changing the files', async () => {
    const upgraded = makeProject({ fixture: 'snapshot-v5/drizzle' });
    try {
      const result = await upgraded.run(process.execPath, ['node_modules/drizzle-kit/bin.cjs', 'up']);
      assertExit(result, 0, 'drizzle-kit up');
      for (const file of SNAPSHOTS) {
        const original = readFileSync(join(FIXTURE, 'meta', file), 'utf8');
        assert.equal(JSON.parse(original).version, '5', file);
        const rewritten = JSON.parse(readFileSync(upgraded.path('drizzle', 'meta', file), 'utf8')) as { version: string };
        assert.equal(rewritten.version, '6', file);
        assert.deepEqual(readSnapshot(join(FIXTURE, 'meta', file)), rewritten, file);
        assert.equal(readFileSync(join(FIXTURE, 'meta', file), 'utf8'), original, `${file} was changed`);
      }
    } finally {
      upgraded.cleanup();
    }
  });

  it('write-down writes down files that restore each schema (the JSON default as SQL), leaving the snapshots alone', async () => {
    const before = metaFiles(project);
    const result = await project.migrate(['write-down']);
    assertExit(result, 0, 'write-down');
    assert.equal(result.stdout.match(/checked: restores the previous schema/g)?.length, 4, result.stdout);
    assert.match(readFileSync(project.path('drizzle', '0003_drop_users_flags.down.sql'), 'utf8'), /ALTER TABLE `users` ADD `flags` text DEFAULT '\["beta"\]';/);
    assert.deepEqual(metaFiles(project), before);
  });

  it('the down files run: up, down base and up again on a real database; verify and check pass', async () => {
    assertExit(await project.migrate(['up']), 0, 'up');
    assertExit(await project.migrate(['down', '-1']), 0, 'down -1');
    const db = project.open();
    try {
      const flags = db.prepare("SELECT dflt_value FROM pragma_table_info('users') WHERE name = 'flags'").get() as { dflt_value: string } | undefined;
      assert.equal(flags?.dflt_value, `'["beta"]'`);
    } finally {
      db.close();
    }
    assertExit(await project.migrate(['down', 'base']), 0, 'down base');
    const empty = project.open();
    try {
      assert.deepEqual(tableNames(empty).filter((t) => !t.startsWith('__')), []);
    } finally {
      empty.close();
    }
    assertExit(await project.migrate(['up']), 0, 'up again');
    assertExit(await project.migrate(['verify']), 0, 'verify');
    assertExit(await project.migrate(['check']), 0, 'check');
  });

  it('generate refuses in one line, naming `npx drizzle-kit up`, and adds nothing (drizzle-kit itself exits 0 here)', async () => {
    writeFileSync(project.path('src', 'schema', 'index.ts'), `${FINAL_MODELS}export const extra = sqliteTable('extra', { id: integer('id').primaryKey() });\n`);
    const before = metaFiles(project);
    const result = await project.migrate(['generate', '--name', 'extra']);
    assertExit(result, 1, 'generate');
    assert.match(result.stderr, /^error: drizzle\/meta\/0000_snapshot\.json and 3 more are version-5 snapshots, .*run 'npx drizzle-kit up'.*\n$/);
    assert.deepEqual(metaFiles(project), before);
  });
});

describe('snapshots drizzle-kit 0.31 cannot read', () => {
  /** Rewrites the first and the last snapshot (commands read different ones: verify the first, check the last). */
  function withBrokenSnapshots(edit: (snapshot: Record<string, any>) => void): TempProject {
    const project = v5Project();
    for (const file of [SNAPSHOTS[0]!, SNAPSHOTS.at(-1)!]) {
      const path = project.path('drizzle', 'meta', file);
      const snapshot = JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
      edit(snapshot);
      writeFileSync(path, JSON.stringify(snapshot, null, 2));
    }
    return project;
  }

  const cases: { name: string; edit: (snapshot: Record<string, any>) => void; message: RegExp }[] = [
    {
      name: 'version 4',
      edit: (s) => (s.version = '4'),
      message: /^error: drizzle\/meta\/000[03]_snapshot\.json is a snapshot of version "4", older than drizzle-kit 0\.31 reads .*'npx drizzle-kit up'\n$/,
    },
    {
      name: 'version 7',
      edit: (s) => (s.version = '7'),
      message: /^error: drizzle\/meta\/000[03]_snapshot\.json is a snapshot of version "7", newer than this project's drizzle-kit reads \(5 and 6\): update drizzle-kit\n$/,
    },
    {
      name: 'a version-6 snapshot with a field of the wrong type',
      edit: (s) => {
        s.version = '6';
        s.tables.users.columns.email.notNull = 'yes';
      },
      message: /^error: drizzle\/meta\/000[03]_snapshot\.json is not a snapshot drizzle-kit can read \(tables\.users\.columns\.email\.notNull should be a boolean, not "yes"\)/,
    },
  ];
  for (const { name, edit, message } of cases) {
    it(`${name}: write-down, verify, check and generate each refuse in one line, not with zod's report`, async () => {
      const project = withBrokenSnapshots(edit);
      try {
        for (const command of [['write-down'], ['verify'], ['check'], ['generate', '--name', 'x']]) {
          const result = await project.migrate(command);
          assertExit(result, 1, command[0]!);
          assert.match(result.stderr, message, command[0]!);
          assert.equal(result.stderr.trim().split('\n').length, 1, `${command[0]}: ${result.stderr}`);
        }
      } finally {
        project.cleanup();
      }
    });
  }
});
