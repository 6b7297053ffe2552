// adopt: the Python app's database (made here by real Alembic, SQLAlchemy and passlib) taken to the migrations'
// schema with every account kept; each refusal one line with the file byte-for-byte as it was; a live writer and
// a killed adoption lose nothing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { closeDb, createDb } from '../src/db.js';
import { InvalidCredentialsError, InvalidResetTokenError, resetPassword, verifyPassword } from '../src/queries/index.js';
import { users } from '../src/schema/index.js';
import { runAndKill, timeRun } from './helpers/crash.js';
import { findPython } from './helpers/python.js';
import { makeProject, ROOT, type RunResult, type TempProject } from './helpers/project.js';

const LEGACY_FLAGS = ['--rename-column', 'users.hashed_password=password_hash', '--drop-column', 'users.is_active'];

/** The users table as SQLAlchemy 1.4 creates it for the Python app's model, after Alembic's 7f71d8f421e3. */
const SQLALCHEMY_USERS = `
CREATE TABLE users (
	id INTEGER NOT NULL,
	email VARCHAR(255) NOT NULL,
	hashed_password VARCHAR(255) NOT NULL,
	is_active BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL, email_verified_at DATETIME, password_reset_token VARCHAR(255), password_reset_expires DATETIME,
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE INDEX ix_users_id ON users (id);
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version VALUES ('7f71d8f421e3');`;

function assertExit(result: RunResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

/** The one line a refused command prints on stderr. */
function errorLine(result: RunResult): string {
  const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  return lines[0]!;
}

const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Seconds since the epoch of a naive UTC datetime as Python printed it (`YYYY-MM-DD HH:MM:SS[.ffffff]`). */
const utcSeconds = (iso: string | null) => (iso === null ? null : Math.floor(Date.parse(`${iso.replace(' ', 'T')}Z`) / 1000));

/** A legacy database made by hand in SQLAlchemy's shape, with `rows` as SQL VALUES tuples for users. */
function legacyDb(project: TempProject, file: string, rows: string[], extraSql = ''): string {
  const path = project.path(file);
  const db = new Database(path);
  db.exec(SQLALCHEMY_USERS);
  if (rows.length > 0) {
    db.exec(`INSERT INTO users (id, email, hashed_password, is_active, created_at, updated_at, email_verified_at, password_reset_token, password_reset_expires) VALUES ${rows.join(', ')}`);
  }
  if (extraSql) db.exec(extraSql);
  db.close();
  return path;
}

const ann = "(1, 'ann@example.com', '$2b$04$abcdefghijklmnopqrstuu0123456789abcdefghijklmnopqrstu', 1, '2024-03-01 12:00:00.000000', '2024-03-01 12:00:00.000000', NULL, NULL, NULL)";
const bo = "(2, 'bo@example.com', 'x', 0, '2024-03-01 12:00:01.123456', '2024-03-01 13:00:01.123456', '2024-03-02 08:30:15.654321', NULL, NULL)";

describe('adopt: refusals are one line and leave the file byte-for-byte as it was', { concurrency: false }, () => {
  let project: TempProject;
  before(() => {
    project = makeProject();
  });
  after(() => project.cleanup());

  /** `others`: another connection has the file open in a transaction (its -journal is its own). */
  async function refused(file: string, args: string[], pattern: RegExp, code = 1, others = false): Promise<void> {
    const path = project.path(file);
    const before = digest(path);
    const result = await project.migrate(['adopt', '--url', `file:./${file}`, ...args]);
    assertExit(result, code, `adopt ${args.join(' ')}`);
    assert.match(errorLine(result), pattern);
    assert.equal(digest(path), before, 'the database file is byte-for-byte unchanged');
    assert.ok(!existsSync(project.path('backups')) || readdirSync(project.path('backups')).length === 0, 'no backup was written for a refused adoption');
    if (!others) for (const suffix of ['-journal', '-wal']) assert.ok(!existsSync(`${path}${suffix}`), `no ${suffix} file left`);
  }

  it('a column holding data that the models lack, and the NOT NULL column nothing fills', async () => {
    legacyDb(project, 'cols.db', [ann, bo]);
    await refused('cols.db', [], /^error: cannot adopt: users\.password_hash is NOT NULL without a default in the migrations, and no column of the database's users fills it \(2 rows\): name the column that holds it with --rename-column users\.<column>=password_hash; column users\.hashed_password holds data \(2 of 2 rows\)/);
    await refused('cols.db', ['--rename-column', 'users.hashed_password=password_hash'], /cannot adopt: column users\.is_active holds data \(2 of 2 rows\) that the migrations' users has no column for: keep it with --rename-column users\.is_active=<column>, or let it go with --drop-column users\.is_active; nothing was changed$/);
  });

  it('a flag naming what is not there', async () => {
    await refused('cols.db', ['--rename-column', 'users.hashed_pasword=password_hash', '--drop-column', 'users.is_active'], /--rename-column users\.hashed_pasword=password_hash: table users has no column hashed_pasword \(it has id, email, hashed_password, is_active/);
    await refused('cols.db', ['--rename-column', 'users.hashed_password', '--drop-column', 'users.is_active'], /--rename-column users\.hashed_password: expected <table>\.<old>=<new>/, 2);
  });

  it('a value that is no date: names the table, the row and the value', async () => {
    legacyDb(project, 'dates.db', [ann, "(2, 'bo@example.com', 'x', 1, 'yesterday', '2024-03-01 13:00:01', NULL, NULL, NULL)"]);
    await refused('dates.db', LEGACY_FLAGS, /cannot adopt: users row 2 \(rowid\): created_at holds "yesterday", which is not a date and time \(YYYY-MM-DD HH:MM:SS\[\.ffffff\], T or space, a zone or none\) for users\.created_at; fix or clear the value/);
  });

  it('a value that is no date in a nullable column (it would become NULL unnoticed): found by the check of the copy, named', async () => {
    legacyDb(project, 'nullable-dates.db', [ann, "(2, 'bo@example.com', 'x', 1, '2024-03-01 12:00:00', '2024-03-01 13:00:01', '02/03/2024', NULL, NULL)"]);
    await refused('nullable-dates.db', LEGACY_FLAGS, /cannot adopt: users row 2 \(rowid\): email_verified_at holds "02\/03\/2024", which is not a date and time .* for users\.email_verified_at; fix or clear the value/);
    legacyDb(project, 'expiry.db', [ann, "(2, 'bo@example.com', 'x', 1, '2024-03-01 12:00:00', '2024-03-01 13:00:01', NULL, 'tok', 'tomorrow')"]);
    await refused('expiry.db', LEGACY_FLAGS, /cannot adopt: users row 2 \(rowid\): password_reset_expires holds "tomorrow", which is not a date and time/);
  });

  it('two accounts whose emails are one once normalised (composed and decomposed accent, case): names both rows', async () => {
    const composed = 'jos\u00e9@example.com';
    const decomposed = 'Jose\u0301@Example.com';
    legacyDb(project, 'emails.db', [ann, `(2, '${composed}', 'x', 1, '2024-03-01 12:00:00', '2024-03-01 12:00:00', NULL, NULL, NULL)`, `(3, '${decomposed}', 'y', 1, '2024-03-01 12:00:00', '2024-03-01 12:00:00', NULL, NULL, NULL)`]);
    await refused('emails.db', LEGACY_FLAGS, new RegExp(`cannot adopt: users rows 2 and 3 \\(rowids: email "${composed}" and email "${decomposed}"\\) would share users\\(email\\) once converted, which users_email_unique keeps unique`));
  });

  it('a table with rows that the migrations do not have; --drop-table lets it go', async () => {
    legacyDb(project, 'tables.db', [ann], "CREATE TABLE sessions (id INTEGER PRIMARY KEY, token TEXT); INSERT INTO sessions VALUES (1, 't');");
    await refused('tables.db', LEGACY_FLAGS, /cannot adopt: table sessions holds 1 rows and the migrations have no table sessions: add it to the models and generate a migration first, or let it go with --drop-table sessions/);
    const result = await project.migrate(['adopt', '--url', 'file:./tables.db', ...LEGACY_FLAGS, '--drop-table', 'sessions', '--no-backup']);
    assertExit(result, 0, 'adopt --drop-table sessions');
    assert.match(result.stdout, /dropped table sessions: --drop-table, 1 row\(s\) let go/);
  });

  it('a NULL where the migrations say NOT NULL', async () => {
    const db = new Database(project.path('nulls.db'));
    // SQLAlchemy's table, but created_at nullable (an older model), with one row that has none.
    db.exec(SQLALCHEMY_USERS.replace('created_at DATETIME NOT NULL', 'created_at DATETIME'));
    db.exec(`INSERT INTO users VALUES ${ann}, (2, 'bo@example.com', 'x', 1, NULL, '2024-03-01 13:00:01', NULL, NULL, NULL)`);
    db.close();
    await refused('nulls.db', LEGACY_FLAGS, /cannot adopt: users row 2 \(rowid\): users\.created_at is NOT NULL in the migrations, and the row holds NULL in created_at; give it a value/);
  });

  it('a database the runner already manages', async () => {
    legacyDb(project, 'managed.db', [ann], 'CREATE TABLE __drizzle_migrations (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric);');
    await refused('managed.db', LEGACY_FLAGS, /the database already has the runner's table __drizzle_migrations: it is managed by these migrations; use status and up instead of adopt/);
  });

  it('another connection writing: refused after --lock-timeout, naming it', async () => {
    legacyDb(project, 'busy.db', [ann]);
    // The writer is another process, as the app is: a POSIX lock is per process, and this test's own reads of the
    // file (its digest) would release a lock held by a connection of this process.
    const script = `const db = new (require(${JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'))}))(${JSON.stringify(project.path('busy.db'))});
      db.exec('BEGIN IMMEDIATE'); db.prepare("UPDATE users SET email = 'ann2@example.com' WHERE id = 1").run();
      process.stdout.write('locked\\n'); process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); }); process.stdin.resume();`;
    const writer = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => writer.stdout.once('data', () => resolve()));
    try {
      await refused('busy.db', [...LEGACY_FLAGS, '--lock-timeout', '1'], /another connection is writing to .*busy\.db: stop the app before adopting .*; nothing was changed/, 1, true);
    } finally {
      const closed = new Promise((resolve) => writer.on('close', resolve));
      writer.stdin.end();
      await closed;
    }
  });

  it('--dry-run prints the plan and changes nothing; --json gives it as data', async () => {
    legacyDb(project, 'dry.db', [ann, bo]);
    const before = digest(project.path('dry.db'));
    const text = await project.migrate(['adopt', '--url', 'file:./dry.db', ...LEGACY_FLAGS, '--dry-run']);
    assertExit(text, 0, 'adopt --dry-run');
    assert.match(text.stdout, /^Would adopt dry\.db into 0001_password_reset_token_index \(Alembic revision 7f71d8f421e3; alembic_version is not carried over\)\./);
    assert.match(text.stdout, /password_hash\s+<- hashed_password \(renamed\)/);
    assert.match(text.stdout, /created_at\s+<- created_at\s+\[datetime-seconds\]/);
    assert.match(text.stdout, /dropped column users\.is_active: --drop-column, 2 value\(s\) let go/);
    const json = await project.migrate(['adopt', '--url', 'file:./dry.db', ...LEGACY_FLAGS, '--dry-run', '--json']);
    assertExit(json, 0, 'adopt --dry-run --json');
    const plan = JSON.parse(json.stdout) as { dryRun: boolean; tables: { table: string; rows: number }[]; refusals: string[]; alembicRevision: string };
    assert.deepEqual([plan.dryRun, plan.tables.map((t) => [t.table, t.rows]), plan.refusals, plan.alembicRevision], [true, [['users', 2]], [], '7f71d8f421e3']);
    const refusing = await project.migrate(['adopt', '--url', 'file:./dry.db', '--dry-run']);
    assertExit(refusing, 1, 'a dry run that would be refused');
    assert.match(refusing.stdout, /REFUSED: column users\.is_active holds data/);
    assert.equal(digest(project.path('dry.db')), before);
  });
});

describe('adopt: a live app writing during the adoption loses no acknowledged write', () => {
  it('every insert the writer saw committed is in the adopted table; the rest failed loudly', async () => {
    const project = makeProject();
    try {
      const rows = Array.from({ length: 20000 }, (_, i) => `(${i + 1}, 'u${i + 1}@example.com', 'h', 1, '2024-03-01 12:00:00.000000', '2024-03-01 12:00:00.000000', NULL, NULL, NULL)`);
      const path = legacyDb(project, 'live.db', rows);
      // The old app: inserts an account every 2 ms and prints each one SQLite acknowledged; errors go to stderr.
      const writerScript = `
        const Database = require(${JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'))});
        const db = new Database(${JSON.stringify(path)}, { timeout: 2000 });
        let n = 0;
        const timer = setInterval(() => {
          n += 1;
          const email = 'live' + n + '@example.com';
          try {
            db.prepare("INSERT INTO users (email, hashed_password, is_active, created_at, updated_at) VALUES (?, 'h', 1, '2024-03-01 12:00:00', '2024-03-01 12:00:00')").run(email);
            process.stdout.write(email + '\\n');
          } catch (error) {
            process.stderr.write(email + ' ' + error.code + '\\n');
          }
        }, 2);
        process.on('SIGTERM', () => { clearInterval(timer); db.close(); process.exit(0); });`;
      const writer = spawn(process.execPath, ['-e', writerScript], { stdio: ['ignore', 'pipe', 'pipe'] });
      let acknowledged = '';
      let failed = '';
      writer.stdout.on('data', (chunk) => (acknowledged += chunk));
      writer.stderr.on('data', (chunk) => (failed += chunk));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const result = await project.migrate(['adopt', '--url', 'file:./live.db', ...LEGACY_FLAGS, '--lock-timeout', '10']);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const closed = new Promise((resolve) => writer.on('close', resolve));
      writer.kill('SIGTERM');
      await closed;
      assertExit(result, 0, 'adopt under a live writer');
      const emails = acknowledged.split('\n').filter(Boolean);
      assert.ok(emails.length > 10, `the writer wrote during the test (${emails.length} acknowledged)`);
      assert.ok(failed.length > 0, 'the writer failed once the schema was the new one (no silent success)');
      const db = new Database(path, { readonly: true });
      try {
        const present = new Set((db.prepare("SELECT email FROM users WHERE email LIKE 'live%'").pluck().all() as string[]));
        const lost = emails.filter((e) => !present.has(e));
        assert.deepEqual(lost, [], `${lost.length} acknowledged write(s) lost`);
        assert.equal(db.prepare('SELECT count(*) FROM users').pluck().get(), 20000 + emails.length);
      } finally {
        db.close();
      }
    } finally {
      project.cleanup();
    }
  });
});

describe('adopt: killed at any moment, the original stays as it was and the next run completes', () => {
  it('SIGKILL at 8 points of a 100,000-row adoption', async () => {
    const project = makeProject();
    try {
      const seed = project.path('seed.db');
      const db = new Database(seed);
      db.exec(SQLALCHEMY_USERS);
      db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
        INSERT INTO users SELECT i, 'user' || i || '@example.com', 'h', 1, '2024-03-01 12:00:00.250000', '2024-03-01 12:00:00', NULL, NULL, NULL FROM n`);
      db.close();
      const state = (path: string) => {
        // Read-write, as the next user opens it: a killed run leaves a hot journal that such an open rolls back.
        const read = new Database(path);
        try {
          return {
            integrity: read.pragma('integrity_check', { simple: true }),
            tables: read.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all(),
            rows: read.prepare('SELECT count(*) FROM users').pluck().get(),
            sum: read.prepare('SELECT sum(length(email)) FROM users').pluck().get(),
          };
        } finally {
          read.close();
        }
      };
      const expected = state(seed);
      const args = ['adopt', ...LEGACY_FLAGS, '--no-backup'];
      const total = await timeRun(project, 'seed.db', 'timing.db', args);
      let killed = 0;
      const points = 8;
      for (let i = 0; i < points; i++) {
        const file = `kill-${i}.db`;
        copyFileSync(seed, project.path(file));
        const delayMs = Math.round(total * (0.1 + (0.85 * i) / points));
        const outcome = await runAndKill(project, file, args, delayMs);
        const now = state(project.path(file));
        // Killed after the commit (while it closed), or not killed at all: adopted, whole.
        if (!outcome.killed || now.tables.includes('__drizzle_migrations')) {
          assert.deepEqual([now.integrity, now.rows, now.tables.includes('__drizzle_migrations')], ['ok', 100000, true], `kill ${i} at ${delayMs} ms: finished, so adopted`);
          continue;
        }
        killed++;
        assert.deepEqual(now, expected, `killed at ${delayMs} ms: the database is as it was`);
        // No half-written state trips the next run: it adopts the file completely.
        const again = await project.migrate(['adopt', '--url', `file:./${file}`, ...LEGACY_FLAGS, '--no-backup']);
        assertExit(again, 0, `adopt after the kill at ${delayMs} ms`);
        const done = state(project.path(file));
        assert.deepEqual([done.integrity, done.rows, done.tables.includes('__drizzle_migrations')], ['ok', 100000, true]);
      }
      assert.ok(killed >= points / 2, `only ${killed} of ${points} runs were killed before they finished`);
    } finally {
      project.cleanup();
    }
  });
});

const python = findPython(['alembic', 'sqlalchemy', 'aiosqlite', 'passlib', 'bcrypt'], ['python3-alembic', 'python3-sqlalchemy', 'python3-aiosqlite', 'python3-passlib', 'python3-bcrypt']);

interface PythonAccount {
  id: number;
  email: string;
  password: string;
  hashed_password: string;
  created_at: string;
  updated_at: string;
  email_verified_at: string | null;
  password_reset_token: string | null;
  password_reset_expires: string | null;
}

describe("adopt: the Python app's database, made by Alembic, SQLAlchemy and passlib", () => {
  it('every account kept with its id, email, verification, reset state and timestamps; at head with no drift', async (t) => {
    if ('missing' in python) {
      t.skip(`SKIPPED LOUDLY: ${python.missing}`);
      return;
    }
    const project = makeProject();
    try {
      const path = project.path('data', 'bot.db');
      spawnSync('mkdir', ['-p', project.path('data')]);
      const made = spawnSync(python.python, [join(ROOT, 'test', 'fixtures', 'python-app', 'make_legacy_db.py'), path], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const accounts = JSON.parse(made.stdout) as PythonAccount[];

      const result = await project.migrate(['adopt', ...LEGACY_FLAGS]);
      assertExit(result, 0, 'adopt');
      assert.match(result.stdout, /Alembic revision 7f71d8f421e3/);
      assert.match(result.stdout, /1 pending reset token\(s\) of users carried over/);
      assert.match(result.stdout, /1 expired reset token\(s\) of users cleared/);
      const backup = /Backup of the database as it was: (.+)$/m.exec(result.stdout)![1]!;
      const saved = new Database(resolve(project.dir, backup), { readonly: true });
      assert.equal(saved.prepare('SELECT version_num FROM alembic_version').pluck().get(), '7f71d8f421e3', 'the backup is the Python database');
      saved.close();

      const status = await project.migrate(['status', '--json']);
      assertExit(status, 0, 'status after adopt');
      assert.deepEqual((JSON.parse(status.stdout) as { problems: unknown[]; pending: string[] }).problems, []);

      const db = new Database(path, { readonly: true });
      try {
        const rows = db.prepare('SELECT * FROM users ORDER BY id').all() as Record<string, unknown>[];
        assert.equal(rows.length, accounts.length);
        const nowSeconds = Date.now() / 1000;
        for (const [i, account] of accounts.entries()) {
          const row = rows[i]!;
          const pending = account.password_reset_token !== null && utcSeconds(account.password_reset_expires)! > nowSeconds;
          assert.deepEqual(row, {
            id: account.id,
            email: account.email.normalize('NFC').trim().toLowerCase(),
            password_hash: account.hashed_password,
            email_verified_at: utcSeconds(account.email_verified_at),
            password_reset_token: pending ? createHash('sha256').update(account.password_reset_token!).digest('hex') : null,
            password_reset_expires: pending ? utcSeconds(account.password_reset_expires) : null,
            created_at: utcSeconds(account.created_at),
            updated_at: utcSeconds(account.updated_at),
          });
        }
        assert.equal(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name IN ('alembic_version', 'ix_users_email', 'ix_users_id')").pluck().get(), 0);
      } finally {
        db.close();
      }

      // Every account logs in with its old password through the query layer, as typed in Python (any case or
      // form of the email); after that login its hash is the layer's scrypt, and the pending reset link works.
      const app = await createDb(`file:${path}`);
      try {
        for (const account of accounts) {
          const user = await verifyPassword(app, account.email, account.password);
          assert.equal(user.id, account.id, `${account.email} logs in`);
          await assert.rejects(verifyPassword(app, account.email, `${account.password}x`), InvalidCredentialsError);
        }
        const hashes = (await app.select({ hash: users.passwordHash }).from(users)).map((r) => r.hash);
        assert.ok(hashes.every((h) => h.startsWith('scrypt$')), `every hash is scrypt after its login: ${hashes.join(', ')}`);
        const pending = accounts.find((a) => a.password_reset_token !== null && utcSeconds(a.password_reset_expires)! > Date.now() / 1000)!;
        const reset = await resetPassword(app, pending.password_reset_token!, 'a new password');
        assert.equal(reset.id, pending.id, 'the reset link mailed by the Python app still works');
        const expired = accounts.find((a) => a.password_reset_token !== null && a.id !== pending.id)!;
        await assert.rejects(resetPassword(app, expired.password_reset_token!, 'another'), InvalidResetTokenError);
      } finally {
        closeDb(app);
      }
    } finally {
      project.cleanup();
    }
  });
});
