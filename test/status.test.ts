import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { appliedRows, makeProject, tableNames, type TempProject } from './helpers/project.js';
import { writeMigrations } from './helpers/migrations.js';

interface StatusJson {
  ok: boolean;
  current: string;
  applied: string[];
  pending: string[];
  problems: { kind: string; message: string }[];
}

/** Tamper and order checks: what `status --json` reports and what `up` refuses. */
describe('status and history checks', () => {
  let project: TempProject;
  const env = { DATABASE_URL: 'file:./s.db' };
  const status = async () => {
    const result = await project.migrate(['status', '--json'], env);
    return { code: result.code, json: JSON.parse(result.stdout) as StatusJson };
  };

  before(async () => {
    project = makeProject({ withMigrations: false });
    writeMigrations(
      project.path('drizzle'),
      ['a', 'b', 'c'].map((t) => ({ name: `create_${t}`, up: [`CREATE TABLE ${t} (id INTEGER PRIMARY KEY)`], down: [`DROP TABLE ${t}`] })),
    );
    assert.equal((await project.migrate(['up', '--no-backup'], env)).code, 0);
  });
  after(() => project.cleanup());

  it('a clean database has no problems (exit 0)', async () => {
    const { code, json } = await status();
    assert.equal(code, 0);
    assert.deepEqual([json.current, json.applied.length, json.pending, json.problems], ['0002_create_c', 3, [], []]);
  });

  it('a pending migration that sorts before an applied one: reported, refused, applied only when allowed', async () => {
    // As if 0001 came from a branch merged after 0002 had been applied.
    const db = project.open('s.db');
    db.prepare('DELETE FROM __drizzle_migrations WHERE created_at = ?').run(1_700_000_001_000);
    db.exec('DROP TABLE b');
    db.close();

    const { code, json } = await status();
    assert.equal(code, 1);
    assert.deepEqual(json.pending, ['0001_create_b']);
    assert.deepEqual(json.problems.map((p) => p.kind), ['out-of-order']);
    assert.match(json.problems[0]!.message, /drizzle\/0001_create_b\.sql is pending but sorts before the current revision 0002_create_c/);

    const refused = await project.migrate(['up'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /pending migrations sort before the current revision 0002_create_c: drizzle\/0001_create_b\.sql; .*--allow-out-of-order/);
    const allowed = await project.migrate(['up', '--allow-out-of-order', '--no-backup'], env);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /Running upgrade 0002_create_c -> 0001_create_b/);
    const after = project.open('s.db');
    assert.ok(tableNames(after).includes('b'));
    assert.equal(appliedRows(after).length, 3);
    after.close();
  });

  it('an applied migration edited since, and one missing from the folder', async () => {
    const path = project.path('drizzle/0002_create_c.sql');
    writeFileSync(path, 'CREATE TABLE c (id INTEGER PRIMARY KEY, extra TEXT)');
    const db = project.open('s.db');
    db.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)').run('f'.repeat(64), 1_800_000_000_000);
    db.close();

    const { code, json } = await status();
    assert.equal(code, 1);
    const kinds = json.problems.map((p) => p.kind);
    assert.ok(kinds.includes('modified') && kinds.includes('missing'), kinds.join());
    assert.match(json.problems.find((p) => p.kind === 'modified')!.message, /drizzle\/0002_create_c\.sql was edited after it was applied/);
    assert.match(json.problems.find((p) => p.kind === 'missing')!.message, /created_at 1800000000000, hash ffffffffffff/);

    const refused = await project.migrate(['up'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /applied migrations that are not in the migrations folder: created_at 1800000000000/);
  });
});
