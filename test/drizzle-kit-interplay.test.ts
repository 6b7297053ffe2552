import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { appliedRows, makeProject, tableNames, type TempProject } from './helpers/project.js';

/** `npx drizzle-kit migrate` and the runner share drizzle's `__drizzle_migrations` table, in either order. */
describe('interplay with drizzle-kit migrate', () => {
  let project: TempProject;
  const drizzleKit = (env: Record<string, string>) => project.run(process.execPath, ['node_modules/drizzle-kit/bin.cjs', 'migrate'], env);
  const journal = () => JSON.parse(readFileSync(project.path('drizzle/meta/_journal.json'), 'utf8')) as { entries: { tag: string; when: number }[] };
  const expectedRows = (count: number) =>
    journal()
      .entries.slice(0, count)
      .map((e) => ({ hash: createHash('sha256').update(readFileSync(project.path(`drizzle/${e.tag}.sql`))).digest('hex'), created_at: e.when }));

  before(async () => {
    project = makeProject({ fixture: 'renames' });
    assert.equal((await project.migrate(['write-down'])).code, 0);
  });
  after(() => project.cleanup());

  it('drizzle-kit first, then the runner sees its rows and reverts them', async () => {
    const env = { DATABASE_URL: 'file:./kit-first.db' };
    const kit = await drizzleKit(env);
    assert.equal(kit.code, 0, kit.stderr + kit.stdout);
    const db = project.open('kit-first.db');
    assert.deepEqual(appliedRows(db), expectedRows(3));
    db.exec("INSERT INTO parents (id, name) VALUES (1, 'p'); INSERT INTO kids (id, parent_id, memo) VALUES (1, 1, 'm')");
    db.close();

    const current = await project.migrate(['current'], env);
    assert.equal(current.stdout.trim(), '0002_renames (head)');
    const down = await project.migrate(['down', '0000'], env);
    assert.equal(down.code, 0, down.stderr);
    const reverted = project.open('kit-first.db');
    assert.deepEqual(appliedRows(reverted), expectedRows(1));
    assert.deepEqual(tableNames(reverted), ['__drizzle_migrations', 'children', 'parents']);
    assert.deepEqual(reverted.prepare('SELECT id, parent_id, note FROM children').all(), [{ id: 1, parent_id: 1, note: 'm' }]);
    reverted.close();

    // drizzle-kit applies what the runner reverted, since its newest row is now 0000's.
    const again = await drizzleKit(env);
    assert.equal(again.code, 0, again.stderr + again.stdout);
    const final = project.open('kit-first.db');
    assert.deepEqual(appliedRows(final), expectedRows(3));
    assert.deepEqual(final.prepare('SELECT id, memo FROM kids').all(), [{ id: 1, memo: 'm' }]);
    final.close();
  });

  it('the runner first, then drizzle-kit applies only what is pending, with the same rows', async () => {
    const env = { DATABASE_URL: 'sqlite:///runner-first.db' };
    const up = await project.migrate(['up', '+2'], env);
    assert.equal(up.code, 0, up.stderr);
    const db = project.open('runner-first.db');
    assert.deepEqual(appliedRows(db), expectedRows(2));
    db.close();

    const kit = await drizzleKit(env);
    assert.equal(kit.code, 0, kit.stderr + kit.stdout);
    const migrated = project.open('runner-first.db');
    assert.deepEqual(appliedRows(migrated), expectedRows(3));
    assert.ok(tableNames(migrated).includes('kids'));
    migrated.close();

    const history = await project.migrate(['history', '--json'], env);
    const parsed = JSON.parse(history.stdout) as { current: string; migrations: { applied: boolean; modified: boolean }[] };
    assert.equal(parsed.current, '0002_renames');
    assert.deepEqual(parsed.migrations.map((m) => [m.applied, m.modified]), [[true, false], [true, false], [true, false]]);
  });
});
