import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/open.js';
import { MigrateError } from '../src/engine/errors.js';
import { acquireLock, CREATE_LOCK_TABLE } from '../src/engine/lock.js';
import { upgrade } from '../src/runner.js';
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

describe('a lock whose pid now belongs to another process (a container restarted)', () => {
  it('is taken over at once when that process started after the lock was taken', async () => {
    const project = makeProject();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      assert.equal((await project.migrate(['up', '0000'])).code, 0);
      // The lock of a runner that died an hour ago; its pid has since gone to a process that is alive now.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const db = project.open();
      db.exec(CREATE_LOCK_TABLE);
      const hourAgo = Date.now() - 3_600_000;
      db.prepare('INSERT INTO __migrate_lock (id, owner, pid, host, command, acquired_at, expires_at) VALUES (1, ?, ?, ?, ?, ?, ?)').run('dead-runner', other.pid, hostname(), 'up head', hourAgo, Date.now() + 3_600_000);
      db.close();
      const started = performance.now();
      const result = await project.migrate(['up', '--lock-timeout', '5']);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(performance.now() - started < 4500, 'it did not wait for the timeout');
      assert.match(result.stdout, /0001_password_reset_token_index/);
    } finally {
      other.kill();
      project.cleanup();
    }
  });
});

describe('a wait for the lock says so every few seconds', () => {
  it('prints the holder and the seconds waited, at the start and every 5 s, until --lock-timeout', async () => {
    const project = makeProject();
    try {
      assert.equal((await project.migrate(['up', '0000'])).code, 0);
      // A live runner's lock: this test process, which started before it took it.
      const db = project.open();
      db.exec(CREATE_LOCK_TABLE);
      db.prepare('INSERT INTO __migrate_lock (id, owner, pid, host, command, acquired_at, expires_at) VALUES (1, ?, ?, ?, ?, ?, ?)').run('live-runner', process.pid, hostname(), 'up head', Date.now(), Date.now() + 3_600_000);
      db.close();
      const result = await project.migrate(['up', '--lock-timeout', '6']);
      assert.equal(result.code, 1, result.stdout);
      const waits = result.stderr.split('\n').filter((line) => line.startsWith('Waiting for the migration lock held by'));
      assert.deepEqual(
        waits.map((line) => /\((\d+) s\)$/.exec(line)?.[1]),
        ['0', '5'],
        result.stderr,
      );
      assert.match(waits[0]!, new RegExp(`held by pid ${process.pid} on .* \\(up head, since `));
    } finally {
      project.cleanup();
    }
  });
});

describe('a lock whose heartbeat stopped (a hung runner, its pid alive)', () => {
  it('is taken over once its expiry has passed, and waited for while it has not', async () => {
    const project = makeProject();
    // A live process that started before the lock was taken: neither the pid rule nor the start-time rule sees it gone.
    const hung = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      assert.equal((await project.migrate(['up', '0000'])).code, 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const holdLock = (expiresAt: number) => {
        const db = project.open();
        db.exec(CREATE_LOCK_TABLE);
        db.prepare('INSERT OR REPLACE INTO __migrate_lock (id, owner, pid, host, command, acquired_at, expires_at) VALUES (1, ?, ?, ?, ?, ?, ?)').run('hung-runner', hung.pid, hostname(), 'up head', Date.now(), expiresAt);
        db.close();
      };

      holdLock(Date.now() + 3_600_000);
      const waited = await project.migrate(['up', '--lock-timeout', '0.5']);
      assert.equal(waited.code, 1, waited.stdout);
      assert.match(waited.stderr, new RegExp(`^error: another migration runner holds the lock: pid ${hung.pid} on ${hostname()} \\(up head`, 'm'));

      holdLock(Date.now() - 1000);
      const started = performance.now();
      const takenOver = await project.migrate(['up', '--lock-timeout', '5']);
      assert.equal(takenOver.code, 0, takenOver.stderr);
      assert.ok(performance.now() - started < 4500, 'it did not wait for the timeout');
      assert.match(takenOver.stdout, /0001_password_reset_token_index/);
    } finally {
      hung.kill();
      project.cleanup();
    }
  });
});

describe('the heartbeat', () => {
  it('up refreshes the lock with every step it commits', async () => {
    const project = makeProject({ withMigrations: false });
    try {
      const tags = writeMigrations(
        project.path('drizzle'),
        ['a', 'b', 'c'].map((t) => ({ name: `create_${t}`, up: [`CREATE TABLE ${t} (id INTEGER PRIMARY KEY)`], down: [`DROP TABLE ${t}`] })),
      );
      const file = project.path('heartbeat.db');
      const other = new Database(file);
      const lockRow = () => other.prepare('SELECT owner, expires_at FROM __migrate_lock WHERE id = 1').get() as { owner: string; expires_at: number };
      const seen: { tag: string; expiresAt: number; owner: string; at: number }[] = [];
      let owner: string | undefined;
      try {
        await upgrade({ url: `file:${file}`, migrationsFolder: project.path('drizzle'), backup: false }, (event) => {
          if (event.type === 'start') {
            // Between steps the runner holds no transaction: age its heartbeat from outside, as hours going by would.
            owner ??= lockRow().owner;
            other.prepare('UPDATE __migrate_lock SET expires_at = 0 WHERE id = 1').run();
          }
          if (event.type === 'finish') {
            const row = lockRow();
            seen.push({ tag: event.tag, owner: row.owner, expiresAt: row.expires_at, at: Date.now() });
          }
        });
      } finally {
        other.close();
      }
      assert.deepEqual(seen.map((s) => s.tag), tags);
      for (const s of seen) {
        assert.equal(s.owner, owner, 'still the same runner');
        assert.ok(s.expiresAt > s.at + 3_000_000, `${s.tag} committed a fresh expiry (about an hour ahead), not ${s.expiresAt}`);
      }
    } finally {
      project.cleanup();
    }
  });

  it('refresh() on a lock another runner took over throws one line naming it', async () => {
    const project = makeProject({ withMigrations: false });
    const file = project.path('taken.db');
    const db = await openDatabase(`file:${file}`);
    try {
      const lock = await acquireLock(db, { command: 'up head', timeoutMs: 1000 });
      await lock.refresh();
      const other = new Database(file);
      other.prepare('UPDATE __migrate_lock SET owner = ?, pid = ?, host = ?, command = ? WHERE id = 1').run('newcomer', 4242, 'web-2', 'down -1');
      other.close();
      await assert.rejects(lock.refresh(), (error: unknown) => {
        assert.ok(error instanceof MigrateError);
        assert.equal(error.code, 'LOCKED');
        assert.doesNotMatch(error.message, /\n/);
        assert.match(error.message, /lost the migration lock: it was taken over by pid 4242 on web-2 \(down -1, since .*\); nothing further will be run$/);
        return true;
      });
      // The newcomer's lock is left as it is.
      await lock.release();
      const check = new Database(file);
      assert.deepEqual(check.prepare('SELECT owner FROM __migrate_lock').all(), [{ owner: 'newcomer' }]);
      check.close();
    } finally {
      await db.close();
      project.cleanup();
    }
  });
});
