import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { appliedRows, makeProject, tableNames, type TempProject } from './helpers/project.js';
import { writeMigrations } from './helpers/migrations.js';

/** Each migration inserts many rows, so that runners started together overlap. */
const slowMigrations = ['a', 'b', 'c'].map((t) => ({
  name: `fill_${t}`,
  up: [
    `CREATE TABLE ${t} (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`,
    `INSERT INTO ${t} (v) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000) SELECT printf('row %d', i) FROM n`,
  ],
  down: [`DROP TABLE ${t}`],
}));

describe('one runner at a time', () => {
  let project: TempProject;
  before(() => {
    project = makeProject({ withMigrations: false });
  });
  after(() => project.cleanup());

  it('8 processes running up together apply each migration exactly once', async () => {
    const tags = writeMigrations(project.path('drizzle'), slowMigrations);
    const runs = await Promise.all(Array.from({ length: 8 }, () => project.migrate(['up', '--json'], { DATABASE_URL: 'file:./shared.db' })));
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    const applied = runs.map((run) => (JSON.parse(run.stdout) as { steps: { tag: string }[] }).steps.map((s) => s.tag));
    // Every migration was applied by exactly one of the processes, and the others found nothing to do.
    assert.deepEqual(applied.flat().sort(), tags);
    assert.ok(applied.filter((steps) => steps.length === 0).length >= 1, 'some runners waited and found nothing to do');

    const db = project.open('shared.db');
    assert.equal(appliedRows(db).length, 3);
    assert.deepEqual(tableNames(db), ['__drizzle_migrations', 'a', 'b', 'c']);
    for (const t of ['a', 'b', 'c']) assert.equal((db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n, 150000);
    db.close();
  });

  it('a live holder makes others wait, then fail naming it; a dead one is taken over; unlock clears another host', async () => {
    const env = { DATABASE_URL: 'file:./held.db' };
    const holdLock = (pid: number, host: string, expiresAt: number) => {
      const db = project.open('held.db');
      db.exec(`CREATE TABLE IF NOT EXISTS __migrate_lock (id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL, pid INTEGER NOT NULL,
        host TEXT NOT NULL, command TEXT NOT NULL, acquired_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)`);
      db.prepare('INSERT OR REPLACE INTO __migrate_lock VALUES (1, ?, ?, ?, ?, ?, ?)').run('someone', pid, host, 'up head', Date.now(), expiresAt);
      db.close();
    };

    holdLock(process.pid, hostname(), Date.now() + 3_600_000);
    const blocked = await project.migrate(['up', '--lock-timeout', '0.5'], env);
    assert.equal(blocked.code, 1);
    assert.match(blocked.stderr, /Waiting for the migration lock held by pid \d+/);
    assert.match(blocked.stderr, new RegExp(`^error: another migration runner holds the lock: pid ${process.pid} on ${hostname()} \\(up head`, 'm'));
    let db = project.open('held.db');
    assert.equal(appliedRows(db).length, 0, 'nothing applied while blocked');
    db.close();

    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    holdLock(gone, hostname(), Date.now() + 3_600_000);
    const takenOver = await project.migrate(['up', '+1', '--lock-timeout', '0.5'], env);
    assert.equal(takenOver.code, 0, takenOver.stderr);

    holdLock(1, 'another-host', Date.now() + 3_600_000);
    const otherHost = await project.migrate(['up', '--lock-timeout', '0.3'], env);
    assert.equal(otherHost.code, 1);
    assert.match(otherHost.stderr, /pid 1 on another-host/);
    const unlocked = await project.migrate(['unlock'], env);
    assert.equal(unlocked.code, 0, unlocked.stderr);
    assert.match(unlocked.stdout, /Removed the lock of pid 1 on another-host/);

    holdLock(1, 'another-host', Date.now() - 1000);
    const expired = await project.migrate(['up'], env);
    assert.equal(expired.code, 0, expired.stderr);
    db = project.open('held.db');
    assert.equal(appliedRows(db).length, 3);
    assert.equal(tableNames(db).includes('__migrate_lock'), false, 'a finished run leaves no lock table');
    db.close();
  });
});
