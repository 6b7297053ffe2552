// Adoption benchmark (issue 16): `adopt` of the Python app's users table against the floor, the same rows copied
// into the migrations' users table by one INSERT … SELECT (with unixepoch() for its datetimes, so both give the
// same rows), on copies of one SQLAlchemy-shaped file. Each contender runs in its own process; the time is that of
// the work inside it (opening the file to committing), and the peak RSS of the process is reported, at the full row
// count and at a tenth of it, to show that memory does not grow with the rows.
// Usage: npm run bench:adopt -- [--rows 1000000] [--rounds 5] [--keep]
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { median, positiveInteger } from './common.js';

const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const FLAGS = { renameColumns: ['users.hashed_password=password_hash'], dropColumns: ['users.is_active'] };
/** The bound: adopt at most this many times the floor. */
const BOUND = 1.5;

const { values: options } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '5' },
    keep: { type: 'boolean', default: false },
    child: { type: 'string' },
    file: { type: 'string' },
  },
});

interface Measured {
  ms: number;
  maxRssMb: number;
}

/** The users table as SQLAlchemy 1.4 made it for the Python app, with `rows` accounts like real ones. */
function buildSource(path: string, rows: number): void {
  const db = new Database(path);
  db.exec(`
    CREATE TABLE users (
      id INTEGER NOT NULL, email VARCHAR(255) NOT NULL, hashed_password VARCHAR(255) NOT NULL, is_active BOOLEAN NOT NULL,
      created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, email_verified_at DATETIME, password_reset_token VARCHAR(255),
      password_reset_expires DATETIME, PRIMARY KEY (id));
    CREATE UNIQUE INDEX ix_users_email ON users (email);
    CREATE INDEX ix_users_id ON users (id);
    CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
    INSERT INTO alembic_version VALUES ('7f71d8f421e3');`);
  // SQLAlchemy's DATETIME text has six digits of fraction; one email in a thousand has capitals, one in five
  // thousand a decomposed accent; one account in a hundred has a reset pending.
  db.exec(`
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows})
    INSERT INTO users SELECT i,
      CASE WHEN i % 5000 = 0 THEN 'jose' || char(769) || i || '@example.com' WHEN i % 1000 = 0 THEN 'User' || i || '@Example.com' ELSE 'user' || i || '@example.com' END,
      '$2b$12$' || hex(randomblob(26)), i % 7 <> 0,
      strftime('%Y-%m-%d %H:%M:%f', 1600000000 + i, 'unixepoch') || '123',
      strftime('%Y-%m-%d %H:%M:%f', 1600000000 + 2 * i, 'unixepoch') || '456',
      CASE WHEN i % 3 = 0 THEN strftime('%Y-%m-%d %H:%M:%S', 1600000500 + i, 'unixepoch') || '.000000' END,
      CASE WHEN i % 100 = 0 THEN 'token-' || i END,
      CASE WHEN i % 100 = 0 THEN strftime('%Y-%m-%d %H:%M:%S', unixepoch() + 86400 - i % 2 * 172800, 'unixepoch') || '.000000' END
    FROM n`);
  db.close();
}

/** The floor: the migrations' users table made from their SQL, then one INSERT … SELECT in one transaction. */
function runFloor(file: string): void {
  const db = new Database(file);
  const start = performance.now();
  db.exec('BEGIN IMMEDIATE');
  db.exec('DROP INDEX ix_users_email; DROP INDEX ix_users_id; ALTER TABLE users RENAME TO legacy_users');
  for (const tag of ['0000_initial_migration', '0001_password_reset_token_index']) {
    for (const chunk of readFileSync(join(ROOT, 'drizzle', `${tag}.sql`), 'utf8').split('--> statement-breakpoint')) if (chunk.trim()) db.exec(chunk);
  }
  db.exec(`INSERT INTO users (id, email, password_hash, email_verified_at, password_reset_token, password_reset_expires, created_at, updated_at)
    SELECT id, email, hashed_password, unixepoch(email_verified_at), password_reset_token, unixepoch(password_reset_expires), unixepoch(created_at), unixepoch(updated_at) FROM legacy_users`);
  db.exec('DROP TABLE legacy_users; DROP TABLE alembic_version');
  db.exec('COMMIT');
  const ms = performance.now() - start;
  db.close();
  report(ms);
}

async function runAdopt(file: string): Promise<void> {
  const { adopt } = await import('../src/adopt.js');
  const start = performance.now();
  await adopt({ url: `file:${file}`, migrationsFolder: join(ROOT, 'drizzle'), ...FLAGS, backup: false });
  report(performance.now() - start);
}

function report(ms: number): void {
  process.stdout.write(JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024 } satisfies Measured));
}

function measure(kind: 'floor' | 'adopt', file: string): Measured {
  const child = spawnSync(TSX, [join(ROOT, 'bench', 'adopt.ts'), '--child', kind, '--file', file], { cwd: ROOT, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`${kind} failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as Measured;
}

function check(file: string, rows: number): void {
  const db = new Database(file, { readonly: true });
  try {
    const count = db.prepare('SELECT count(*) FROM users').pluck().get();
    if (count !== rows) throw new Error(`${file}: ${count} users, expected ${rows}`);
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  if (options.child) {
    if (options.child === 'floor') runFloor(options.file!);
    else await runAdopt(options.file!);
    return;
  }
  const rows = positiveInteger('rows', options.rows);
  const rounds = positiveInteger('rounds', options.rounds);
  const folder = mkdtempSync(join(tmpdir(), 'bench-adopt-'));
  try {
    const source = join(folder, 'source.db');
    const small = join(folder, 'small.db');
    buildSource(source, rows);
    buildSource(small, Math.max(1, Math.floor(rows / 10)));
    console.log(`Adopting ${rows.toLocaleString('en')} accounts; ${rounds} timed rounds after a warm-up; temporary folder ${folder}`);
    const floor: Measured[] = [];
    const adopted: Measured[] = [];
    const ratios: number[] = [];
    for (let round = 0; round <= rounds; round++) {
      const order = round % 2 === 0 ? (['floor', 'adopt'] as const) : (['adopt', 'floor'] as const);
      const times: Partial<Record<'floor' | 'adopt', Measured>> = {};
      for (const kind of order) {
        const file = join(folder, `${kind}.db`);
        for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
        copyFileSync(source, file);
        times[kind] = measure(kind, file);
        check(file, rows);
      }
      if (round === 0) continue;
      floor.push(times.floor!);
      adopted.push(times.adopt!);
      ratios.push(times.adopt!.ms / times.floor!.ms);
      console.log(`  round ${round}/${rounds}: floor ${times.floor!.ms.toFixed(0)} ms, adopt ${times.adopt!.ms.toFixed(0)} ms`);
    }
    const smallFile = join(folder, 'small-adopt.db');
    copyFileSync(small, smallFile);
    const smallRun = measure('adopt', smallFile);
    const ms = (list: Measured[]) => median(list.map((m) => m.ms));
    const rss = (list: Measured[]) => Math.max(...list.map((m) => m.maxRssMb));
    const ratio = median(ratios);
    console.log(`\n(load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
    console.log('contender                                              median ms   min–max ms     peak RSS');
    const line = (label: string, list: Measured[]) =>
      console.log(`${label.padEnd(55)}${ms(list).toFixed(0).padStart(9)}   ${Math.min(...list.map((m) => m.ms)).toFixed(0)}–${Math.max(...list.map((m) => m.ms)).toFixed(0)}`.padEnd(85) + `${rss(list).toFixed(0)} MB`);
    line('floor: one INSERT … SELECT into the migrations\' table', floor);
    line('adopt --no-backup (checks, conversions, read-back)', adopted);
    console.log(`adopt of ${Math.floor(rows / 10).toLocaleString('en')} accounts: ${smallRun.ms.toFixed(0)} ms, peak RSS ${smallRun.maxRssMb.toFixed(0)} MB (against ${rss(adopted).toFixed(0)} MB at ${rows.toLocaleString('en')})`);
    const met = ratio <= BOUND;
    console.log(`\n${met ? 'MET   ' : 'MISSED'}  adopt vs floor, median of per-round ratios: ${ratio.toFixed(2)}x (bound ${BOUND}x)`);
    if (!met) process.exitCode = 1;
  } finally {
    if (options.keep) console.log(`kept ${folder}`);
    else rmSync(folder, { recursive: true, force: true });
  }
}

await main();
