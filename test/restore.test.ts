// restore under a live app: every write the app saw committed is in the restored database or in the copy saved
// before the restore; a long write transaction makes restore refuse after --lock-timeout; `restore latest` never
// picks the saved copy (a retried restore does what the first meant); a missing migrations folder does not turn a
// finished restore into a failure.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { writeBackup } from '../src/engine/backup.js';
import { makeProject, ROOT, type RunResult, type TempProject } from './helpers/project.js';

function assertExit(result: RunResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

const BETTER_SQLITE3 = JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'));

/** A project at head with `users` accounts and one backup of that state; returns the database's path. */
async function projectWithBackup(users: number): Promise<{ project: TempProject; path: string }> {
  const project = makeProject();
  assertExit(await project.migrate(['up']), 0, 'up');
  const path = project.path('data', 'bot.db');
  const db = new Database(path);
  db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${users}) INSERT INTO users (email, password_hash) SELECT 'old' || i || '@x', 'h' FROM n`).run();
  db.close();
  await writeBackup(path, '0001_password_reset_token_index');
  return { project, path };
}

const emailsIn = (path: string): Set<string> => {
  const db = new Database(path, { readonly: true });
  try {
    return new Set(db.prepare('SELECT email FROM users').pluck().all() as string[]);
  } finally {
    db.close();
  }
};

describe('restore under a live app', () => {
  it('loses no acknowledged write: each is in the restored database or in the copy saved before it', async () => {
    const { project, path } = await projectWithBackup(2000);
    try {
      // The app: an account every 2 ms, each printed once SQLite acknowledged it; failures go to stderr.
      const script = `
        const db = new (require(${BETTER_SQLITE3}))(${JSON.stringify(path)}, { timeout: 5000 });
        db.pragma('journal_mode = WAL');
        let n = 0;
        const timer = setInterval(() => {
          n += 1;
          try {
            db.prepare("INSERT INTO users (email, password_hash) VALUES (?, 'h')").run('live' + n + '@x');
            process.stdout.write('live' + n + '@x\\n');
          } catch (error) {
            process.stderr.write('live' + n + '@x ' + error.code + '\\n');
          }
        }, 2);
        process.on('SIGTERM', () => { clearInterval(timer); db.close(); process.exit(0); });`;
      const writer = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      const closed = new Promise((resolve) => writer.on('close', resolve));
      let acknowledged = '';
      writer.stdout.on('data', (chunk) => (acknowledged += chunk));
      await new Promise((resolve) => setTimeout(resolve, 400));
      const restored = await project.migrate(['restore', 'latest', '--lock-timeout', '10']);
      await new Promise((resolve) => setTimeout(resolve, 300));
      writer.kill('SIGTERM');
      await closed;
      assertExit(restored, 0, 'restore latest');
      const saved = /saved as (\S+)\.$/m.exec(restored.stdout)?.[1];
      assert.ok(saved, restored.stdout);
      const live = emailsIn(path);
      const before = emailsIn(join(project.dir, 'data', 'backups', saved!));
      const written = acknowledged.split('\n').filter(Boolean);
      assert.ok(written.length > 50, `the app wrote during the test (${written.length})`);
      const lost = written.filter((e) => !live.has(e) && !before.has(e));
      assert.deepEqual(lost, [], `${lost.length} of ${written.length} acknowledged writes are in neither database`);
      assert.ok(written.some((e) => live.has(e)), 'writes after the restore landed in the restored database');
    } finally {
      project.cleanup();
    }
  });

  it('a write transaction held open elsewhere: waits --lock-timeout, then refuses naming it, and changes nothing', async () => {
    const { project, path } = await projectWithBackup(10);
    try {
      const script = `
        const db = new (require(${BETTER_SQLITE3}))(${JSON.stringify(path)});
        db.exec('BEGIN IMMEDIATE');
        db.prepare("INSERT INTO users (email, password_hash) VALUES ('pending@x', 'h')").run();
        process.stdout.write('open\\n');
        process.stdin.on('end', () => { db.exec('COMMIT'); db.close(); });
        process.stdin.resume();`;
      const writer = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      const closed = new Promise((resolve) => writer.on('close', resolve));
      await new Promise<void>((resolve) => writer.stdout.once('data', () => resolve()));
      const started = performance.now();
      const result = await project.migrate(['restore', 'latest', '--lock-timeout', '1']);
      const waited = performance.now() - started;
      writer.stdin.end();
      await closed;
      assertExit(result, 1, 'restore during a write transaction');
      assert.match(result.stderr.trim().split('\n').at(-1)!, /^error: (the database is locked by another connection writing to it; gave up after 1\.\d s|another connection holds a write transaction open on .*bot\.db; waited 1 s \(--lock-timeout\) and restored nothing)/);
      assert.match(result.stderr, /^Waiting for another connection's write transaction \.\.\. \(0 s\)$/m, 'the wait is reported as it starts, naming a writer');
      assert.ok(waited >= 1000 && waited < 4500, `it waited --lock-timeout, not longer (${Math.round(waited)} ms)`);
      assert.ok(emailsIn(path).has('pending@x'), 'the transaction it waited for committed afterwards, into the database as it was');
    } finally {
      project.cleanup();
    }
  });
});

describe('a long reader in rollback-journal mode', () => {
  it('restore and down wait for it, then refuse naming a reader (not a writer), and change nothing', async () => {
    const { project, path } = await projectWithBackup(10);
    try {
      const db = new Database(path);
      db.pragma('journal_mode = DELETE'); // a database the app opened without WAL: every commit waits for readers
      db.close();
      const script = `
        const db = new (require(${BETTER_SQLITE3}))(${JSON.stringify(path)});
        db.exec('BEGIN');
        db.prepare('SELECT count(*) FROM users').get();
        process.stdout.write('reading\\n');
        process.stdin.on('end', () => { db.exec('COMMIT'); db.close(); });
        process.stdin.resume();`;
      const reader = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      const closed = new Promise((resolve) => reader.on('close', resolve));
      await new Promise<void>((resolve) => reader.stdout.once('data', () => resolve()));
      const before = readFileSync(path);
      const restored = await project.migrate(['restore', 'latest', '--lock-timeout', '1']);
      const down = await project.migrate(['down', '-1', '--lock-timeout', '1']);
      reader.stdin.end();
      await closed;
      for (const [what, result] of [['restore latest', restored], ['down -1', down]] as const) {
        assertExit(result, 1, `${what} under a long reader`);
        assert.match(result.stderr, /^Waiting for another connection's read transaction \(in rollback-journal mode a commit waits for every reader\) \.\.\. \(0 s\)$/m, what);
        assert.match(result.stderr.trim().split('\n').at(-1)!, /^error: another connection keeps a read transaction open on .*; (gave up|waited) .*(end that reader|end that reader: a long query)/, what);
        assert.doesNotMatch(result.stderr, /writ(ing|er)/, `${what} does not blame a writer`);
      }
      assert.ok(readFileSync(path).equals(before), 'the database file is byte for byte as it was');
    } finally {
      project.cleanup();
    }
  });
});

describe('restore: retries and missing folders', () => {
  it("'restore latest' passes over the copy saved before a restore: a retry restores what the first one meant", async () => {
    const { project, path } = await projectWithBackup(5);
    try {
      const db = new Database(path);
      db.prepare("INSERT INTO users (email, password_hash) VALUES ('after-backup@x', 'h')").run();
      db.close();
      const first = await project.migrate(['restore', 'latest']);
      assertExit(first, 0, 'restore latest');
      const chosen = /^Restored (\S+);/m.exec(first.stdout)![1];
      const again = await project.migrate(['restore', 'latest']);
      assertExit(again, 0, 'restore latest again');
      assert.equal(/^Restored (\S+);/m.exec(again.stdout)![1], chosen, 'the same backup, not the saved copy');
      assert.ok(!emailsIn(path).has('after-backup@x'));
    } finally {
      project.cleanup();
    }
  });

  it('restores and exits 0 with a migrations folder that is not there (the revision is then unknown)', async () => {
    const { project, path } = await projectWithBackup(5);
    try {
      const db = new Database(path);
      db.prepare("INSERT INTO users (email, password_hash) VALUES ('after-backup@x', 'h')").run();
      db.close();
      const result = await project.migrate(['restore', 'latest', '--dir', 'no-such-folder']);
      assertExit(result, 0, 'restore --dir <missing>');
      assert.ok(!emailsIn(path).has('after-backup@x'), 'restored');
    } finally {
      project.cleanup();
    }
  });
});

describe('restore writes the backup into the live file, whatever it holds', () => {
  it('FTS5 with triggers, an AUTOINCREMENT counter, a view, rowids, user_version, and another page size', async () => {
    const project = makeProject({ withMigrations: false });
    try {
      const schema = `
        CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, body TEXT);
        CREATE VIRTUAL TABLE notes_fts USING fts5(title, body, content='notes', content_rowid='id');
        CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN INSERT INTO notes_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END;
        CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN INSERT INTO notes_fts(notes_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END;
        CREATE TABLE tags (name TEXT, note_id INTEGER REFERENCES notes(id));
        CREATE INDEX tags_note ON tags (note_id);
        CREATE VIEW tagged AS SELECT n.title, t.name FROM notes n JOIN tags t ON t.note_id = n.id;`;
      const backupPath = project.path('other-page-size.db');
      const backup = new Database(backupPath);
      backup.pragma('page_size = 8192');
      backup.exec(schema);
      backup.exec("INSERT INTO notes (title, body) VALUES ('alpha', 'first words'), ('beta', 'second words'), ('gamma', 'third'); DELETE FROM notes WHERE id = 3;");
      backup.exec("INSERT INTO tags (rowid, name, note_id) VALUES (40, 'x', 1), (41, 'y', 2); PRAGMA user_version = 7;");
      backup.close();
      const livePath = project.path('live.db');
      const live = new Database(livePath);
      live.pragma('journal_mode = WAL');
      live.exec(schema);
      live.exec("INSERT INTO notes (title, body) VALUES ('other', 'live words'); INSERT INTO tags VALUES ('z', 1);");
      live.close();

      const result = await project.migrate(['restore', backupPath, '--url', 'file:./live.db']);
      assertExit(result, 0, 'restore of a backup with another page size');
      const db = new Database(livePath, { readonly: true });
      try {
        assert.deepEqual(db.prepare('SELECT id, title FROM notes ORDER BY id').all(), [{ id: 1, title: 'alpha' }, { id: 2, title: 'beta' }]);
        assert.deepEqual(db.prepare("SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'words' ORDER BY rowid").pluck().all(), [1, 2], 'the full-text index came back');
        assert.deepEqual(db.prepare('SELECT rowid, name FROM tags ORDER BY rowid').all(), [{ rowid: 40, name: 'x' }, { rowid: 41, name: 'y' }]);
        assert.equal(db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'notes'").pluck().get(), 3, 'the counter did not go back to 2');
        assert.deepEqual(db.prepare('SELECT title, name FROM tagged ORDER BY name').all(), [{ title: 'alpha', name: 'x' }, { title: 'beta', name: 'y' }]);
        assert.equal(db.pragma('user_version', { simple: true }), 7);
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        assert.deepEqual(db.prepare("SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'notes_fts_%' AND name NOT LIKE 'sqlite_%' AND name <> '__migrate_lock' ORDER BY type, name").all(), [
          { type: 'index', name: 'tags_note' },
          { type: 'table', name: 'notes' },
          { type: 'table', name: 'notes_fts' },
          { type: 'table', name: 'tags' },
          { type: 'trigger', name: 'notes_ad' },
          { type: 'trigger', name: 'notes_ai' },
          { type: 'view', name: 'tagged' },
        ]);
      } finally {
        db.close();
      }
      // The triggers work on the restored tables: a new note is found by the full-text index.
      const writer = new Database(livePath);
      writer.exec("INSERT INTO notes (title, body) VALUES ('delta', 'more words')");
      assert.deepEqual(writer.prepare("SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'more'").pluck().all(), [4]);
      writer.close();
    } finally {
      project.cleanup();
    }
  });
});

describe('backups belong to one database', () => {
  it('bot.db and bot.sqlite in one folder: each restores its own data, rotation of one keeps the other\'s, and one\'s backup refuses to go into the other', async () => {
    const project = makeProject();
    try {
      const paths = { db: project.path('data', 'bot.db'), sqlite: project.path('data', 'bot.sqlite') };
      for (const [kind, path] of Object.entries(paths)) {
        assertExit(await project.migrate(['up', '--url', `file:${path}`]), 0, `up ${kind}`);
        const db = new Database(path);
        db.prepare("INSERT INTO users (email, password_hash) VALUES (?, 'h')").run(`${kind}@x`);
        db.close();
      }
      await writeBackup(paths.db, '0001_password_reset_token_index');
      await new Promise((resolve) => setTimeout(resolve, 5));
      const newest = await writeBackup(paths.sqlite, '0001_password_reset_token_index');
      // bot.db changes after its backup; restoring its latest backup must bring back bot.db's own row, not bot.sqlite's.
      const db = new Database(paths.db);
      db.prepare("UPDATE users SET email = 'changed@x'").run();
      db.close();
      const restored = await project.migrate(['restore', 'latest', '--url', `file:${paths.db}`]);
      assertExit(restored, 0, 'restore latest into bot.db');
      assert.deepEqual([...emailsIn(paths.db)], ['db@x'], "bot.db's own backup came back");

      // Rotation of bot.db's backups never touches bot.sqlite's.
      for (let i = 0; i < 3; i++) await writeBackup(paths.db, '0001_password_reset_token_index', { keep: 1 });
      assert.equal(readdirSync(project.path('data', 'backups')).filter((f) => f.startsWith('bot.db.') && f.endsWith('.db')).length, 1, 'bot.db keeps 1');
      assert.ok(readdirSync(project.path('data', 'backups')).includes(newest.file), "bot.sqlite's backup is still there");

      // bot.sqlite's backup into bot.db: refused, then allowed with --from.
      const before = [...emailsIn(paths.db)];
      const refused = await project.migrate(['restore', newest.path, '--url', `file:${paths.db}`]);
      assertExit(refused, 1, "restore of bot.sqlite's backup into bot.db");
      assert.match(refused.stderr.trim(), /^error: bot\.sqlite\.\d{8}T\d{9}Z\.0001_password_reset_token_index\.db is a backup of bot\.sqlite, not of bot\.db: .*pass --from .*bot\.sqlite to put its data here anyway; nothing was changed$/);
      assert.deepEqual([...emailsIn(paths.db)], before);
      const forced = await project.migrate(['restore', newest.path, '--url', `file:${paths.db}`, '--from', paths.sqlite]);
      assertExit(forced, 0, 'restore --from bot.sqlite');
      assert.deepEqual([...emailsIn(paths.db)], ['sqlite@x']);
    } finally {
      project.cleanup();
    }
  });
});

describe('half-written backups', () => {
  it('a .partial left by a killed run is removed by the next backup and reported; one still being written is kept', async () => {
    const project = makeProject();
    try {
      assertExit(await project.migrate(['up', '0000']), 0, 'up 0000');
      const db = new Database(project.path('data', 'bot.db'));
      db.prepare("INSERT INTO users (email, password_hash) VALUES ('a@x', 'h')").run();
      db.close();
      const folder = project.path('data', 'backups');
      mkdirSync(folder, { recursive: true });
      const stale = join(folder, 'bot.db.20260101T000000000Z.0000_initial_migration.db.partial');
      const live = join(folder, 'bot.db.20260101T000001000Z.0000_initial_migration.db.partial');
      const others = join(folder, 'bot.sqlite.20260101T000000000Z.0000_initial_migration.db.partial');
      for (const file of [stale, live, others]) writeFileSync(file, Buffer.alloc(3_000_000));
      const old = new Date(Date.now() - 10 * 60_000);
      utimesSync(stale, old, old);
      utimesSync(others, old, old);
      const result = await project.migrate(['up']);
      assertExit(result, 0, 'up');
      assert.match(`${result.stdout}${result.stderr}`, /Removed bot\.db\.20260101T000000000Z\.0000_initial_migration\.db\.partial \(3\.0 MB\): a backup a killed run left half-written/);
      assert.ok(!existsSync(stale), 'the stale partial is gone');
      assert.ok(existsSync(live), 'a partial written to a moment ago may be a running backup: kept');
      assert.ok(existsSync(others), "another database's partial is not this one's to remove");
    } finally {
      project.cleanup();
    }
  });
});


describe('status on a damaged file', () => {
  it('reports [corrupt] from PRAGMA quick_check and exits 1 (it said "Problems: none"); down refuses it, changing nothing', async () => {
    const project = makeProject();
    try {
      assertExit(await project.migrate(['up']), 0, 'up');
      const path = project.path('data', 'bot.db');
      const db = new Database(path);
      db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO users (email, password_hash) SELECT 'u' || i || '@x', hex(randomblob(40)) FROM n`).run();
      db.pragma('journal_mode = DELETE');
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      const page = db.prepare("SELECT pageno FROM dbstat WHERE name = 'users' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET 5").pluck().get() as number;
      db.close();
      // Garbage over the cell pointers and cells of one leaf page of users: a damaged sector.
      const fd = openSync(path, 'r+');
      writeSync(fd, Buffer.alloc(pageSize - 16, 0xa5), 0, pageSize - 16, (page - 1) * pageSize + 8);
      closeSync(fd);
      const status = await project.migrate(['status']);
      assertExit(status, 1, 'status on a damaged file');
      assert.match(status.stdout, /\[corrupt\] PRAGMA quick_check finds the file damaged: .+ \(restore a backup: npm run db -- backups\)/);

      // down (and up) with work to do refuse before anything changes: no step, no backup of the damage.
      const damagedPage = () => readFileSync(path).subarray((page - 1) * pageSize, page * pageSize);
      const pageBefore = damagedPage();
      const applied = () => {
        const check = new Database(path, { readonly: true });
        try { return check.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get(); } finally { check.close(); }
      };
      const appliedBefore = applied();
      const down = await project.migrate(['down', '-1']);
      assertExit(down, 1, 'down -1 on a damaged file');
      assert.match(down.stderr.trim(), /^error: PRAGMA quick_check finds file:\S+ damaged: .+; nothing was changed \(restore a backup: npm run db -- backups\)$/);
      assert.equal(applied(), appliedBefore, 'no migration was reverted');
      assert.ok(damagedPage().equals(pageBefore), 'the damaged page is as it was');
      assert.ok(!existsSync(project.path('data', 'backups')), 'no backup of the damaged file was written');
      // An up with nothing to do reads no table pages, so it does not run the check and succeeds as `current` would.
      assertExit(await project.migrate(['up']), 0, 'up with nothing to do');
    } finally {
      project.cleanup();
    }
  });
});
