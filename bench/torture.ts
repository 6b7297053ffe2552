// Torture: rounds of a live app writing while a data-changing runner command (up with a drizzle-kit table rebuild
// of a parent with an ON DELETE CASCADE child, its down, restore latest) is SIGKILLed at a random point, then run
// again to completion. Counts the acknowledged writes lost and the recoveries that failed; both must be 0.
// Usage: npm run bench:torture -- [rounds] [--seed N] [--round R]
//   --seed N   the seed of the random choices (printed by every run); with the same seed, round R makes the same choices
//   --round R  run only round R of that seed (to replay a failure); the kill delays are the same fractions of the
//              commands' durations, measured again at start
//   --verbose  a line per round
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, watch } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { median, positiveInteger } from './common.js';
import { makeProject, type TempProject } from '../test/helpers/project.js';
import { writeMigrations } from '../test/helpers/migrations.js';
import { startLiveApp, type LiveApp } from '../test/helpers/live-app.js';
import { writeBackup } from '../src/engine/backup.js';
import * as runner from '../src/runner.js';

/** Rows of the prepared database: a few thousand, so that a round stays well under a second or two. */
const SEED_USERS = 3000;
const SESSIONS_PER_USER = 2;
/** Accounts added at head after the backup was taken: a restore of that backup must take them away. */
const LATE_USERS = 100;
const LOCK_TIMEOUT_S = 10;
/** A retry (recovery) that takes longer than this has hung. */
const RETRY_LIMIT_MS = 60_000;
/** The share of rounds where the app is SIGKILLed too, at a random moment. */
const APP_KILL_SHARE = 0.2;

// ---------------------------------------------------------------------------------------------------------- options

function parseArgs(argv: string[]): { rounds: number; seed: number; only: number | null; verbose: boolean } {
  let verbose = false;
  let rounds = 1000;
  let seed: number | null = null;
  let only: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--seed') seed = Number(argv[++i]);
    else if (arg.startsWith('--seed=')) seed = Number(arg.slice('--seed='.length));
    else if (arg === '--round') only = positiveInteger('round', argv[++i] ?? '');
    else if (arg.startsWith('--round=')) only = positiveInteger('round', arg.slice('--round='.length));
    else if (arg === '--verbose') verbose = true;
    else if (/^\d+$/.test(arg)) rounds = positiveInteger('rounds', arg);
    else throw new RangeError(`unknown argument ${arg}; usage: bench/torture.ts [rounds] [--seed N] [--round R] [--verbose]`);
  }
  if (seed !== null && !(Number.isSafeInteger(seed) && seed >= 0)) throw new RangeError('--seed must be a non-negative integer');
  return { rounds, seed: seed ?? randomInt(2 ** 31), only, verbose };
}

/** mulberry32: a small seeded generator, so that a round's choices follow from (seed, round) alone. */
function generator(seed: number, round: number): () => number {
  let state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(round + 1, 0xc2b2ae35)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ------------------------------------------------------------------------------------------------------- the schema

const USERS_COLUMNS = 'id, email, password_hash, display_name, created_at';
const usersTable = (name: string, displayName: string) =>
  `CREATE TABLE ${name} (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, email text NOT NULL, password_hash text NOT NULL, ` +
  `display_name ${displayName}, created_at integer DEFAULT (unixepoch()) NOT NULL)`;

/** The app's schema, then a change drizzle-kit writes as a rebuild of the parent `users` (a column made NOT NULL). */
function writeTortureMigrations(folder: string): [string, string] {
  const tags = writeMigrations(folder, [
    {
      name: 'app',
      up: [
        usersTable('users', 'text'),
        'CREATE UNIQUE INDEX users_email_unique ON users (email)',
        'CREATE TABLE sessions (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE, token text NOT NULL)',
        'CREATE INDEX sessions_user_idx ON sessions (user_id)',
      ],
      down: ['DROP TABLE sessions', 'DROP TABLE users'],
    },
    {
      name: 'rebuild_users',
      up: [
        'PRAGMA foreign_keys=OFF',
        usersTable('__new_users', "text DEFAULT '' NOT NULL"),
        `INSERT INTO __new_users (${USERS_COLUMNS}) SELECT id, email, password_hash, coalesce(display_name, ''), created_at FROM users`,
        'DROP TABLE users',
        'ALTER TABLE __new_users RENAME TO users',
        'PRAGMA foreign_keys=ON',
        'CREATE UNIQUE INDEX users_email_unique ON users (email)',
      ],
      down: [
        'PRAGMA foreign_keys=OFF',
        usersTable('__new_users', 'text'),
        `INSERT INTO __new_users (${USERS_COLUMNS}) SELECT ${USERS_COLUMNS} FROM users`,
        'DROP TABLE users',
        'ALTER TABLE __new_users RENAME TO users',
        'PRAGMA foreign_keys=ON',
        'CREATE UNIQUE INDEX users_email_unique ON users (email)',
      ],
    },
  ]);
  return [tags[0]!, tags[1]!];
}

// ------------------------------------------------------------------------------------------------- the commands

type Start = 'base' | 'head';
type CommandName = 'up' | 'down' | 'restore latest';
const COMMANDS: CommandName[] = ['up', 'down', 'restore latest'];

interface Expected {
  revision: string;
  seedUsers: number;
  lateUsers: number;
  sessions: number;
}

interface Setup {
  project: TempProject;
  base: string;
  head: string;
}

/** Where each command starts and what the database must hold once it has been carried out. */
function plan(command: CommandName, setup: Setup): { start: Start; args: string[]; expected: Expected } {
  const seedSessions = SEED_USERS * SESSIONS_PER_USER;
  switch (command) {
    case 'up':
      return { start: 'base', args: ['up'], expected: { revision: setup.head, seedUsers: SEED_USERS, lateUsers: 0, sessions: seedSessions } };
    case 'down':
      // To the revision, not -1: a retry after a killed run that had already reverted must not revert one more.
      return { start: 'head', args: ['down', setup.base], expected: { revision: setup.base, seedUsers: SEED_USERS, lateUsers: LATE_USERS, sessions: seedSessions + LATE_USERS } };
    case 'restore latest':
      // The prepared backup was taken at base, before the late accounts.
      return { start: 'head', args: ['restore', 'latest'], expected: { revision: setup.base, seedUsers: SEED_USERS, lateUsers: 0, sessions: seedSessions } };
  }
}

// ------------------------------------------------------------------------------------------------ the databases

const ROUND_DIR = 'round';
const DB_NAME = 'bot.db';

/** Builds the two prepared databases (at base and at head), each with a backup taken at base in its backups folder. */
async function prepare(setup: Setup): Promise<void> {
  const { project } = setup;
  const base = project.path('prepared', 'base', DB_NAME);
  const migrationsFolder = project.path('drizzle');
  mkdirSync(project.path('prepared', 'base'), { recursive: true });
  await runner.upgrade({ url: `file:${base}`, migrationsFolder, target: setup.base, backup: false });
  let db = new Database(base);
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${SEED_USERS})
           INSERT INTO users (id, email, password_hash, display_name) SELECT i, 'seed-' || i, 'hash-' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'user ' || i END FROM n;
           ${Array.from({ length: SESSIONS_PER_USER }, (_, k) => `INSERT INTO sessions (user_id, token) SELECT id, 'token-${k}-' || id FROM users;`).join('\n')}`);
  db.pragma('journal_mode = DELETE');
  db.close();
  await writeBackup(base, setup.base);

  const head = project.path('prepared', 'head', DB_NAME);
  mkdirSync(project.path('prepared', 'head', 'backups'), { recursive: true });
  copyFileSync(base, head);
  for (const file of readdirSync(project.path('prepared', 'base', 'backups'))) {
    copyFileSync(project.path('prepared', 'base', 'backups', file), project.path('prepared', 'head', 'backups', file));
  }
  await runner.upgrade({ url: `file:${head}`, migrationsFolder, backup: false });
  db = new Database(head);
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${LATE_USERS})
           INSERT INTO users (email, password_hash, display_name) SELECT 'late-' || i, 'h', 'late' FROM n;
           INSERT INTO sessions (user_id, token) SELECT id, 'late' FROM users WHERE email LIKE 'late-%';`);
  db.pragma('journal_mode = DELETE');
  db.close();
}

/** A fresh copy of a prepared database and its backup in the round's folder; returns the database's path. */
function freshRound(project: TempProject, start: Start): string {
  const dir = project.path(ROUND_DIR);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'backups'), { recursive: true });
  copyFileSync(project.path('prepared', start, DB_NAME), join(dir, DB_NAME));
  for (const file of readdirSync(project.path('prepared', start, 'backups'))) copyFileSync(project.path('prepared', start, 'backups', file), join(dir, 'backups', file));
  return join(dir, DB_NAME);
}

// ------------------------------------------------------------------------------------------------- the processes

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `migrate <args>` on the round's database and SIGKILLs it as `kill` says. Node itself with tsx's loader,
 * as test/helpers/crash.ts does: the tsx CLI runs the script in a child that survives a SIGKILL of the CLI.
 */
/**
 * When to SIGKILL a run: `afterMs` from its spawn, or (`fromWork`) `afterMs` from the moment its first backup file
 * appears in the backups folder, which no start-up jitter shifts.
 */
interface KillAt {
  afterMs: number;
  fromWork: boolean;
}

function runMigrate(project: TempProject, args: string[], kill: KillAt): Promise<Run & { workStartMs: number | null }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.DATABASE_URL;
    delete env.DEBUG;
    const started = performance.now();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/migrate.ts', ...args, '--lock-timeout', String(LOCK_TIMEOUT_S), '--url', `file:./${ROUND_DIR}/${DB_NAME}`],
      { cwd: project.dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    let timer: NodeJS.Timeout | undefined;
    let workStartMs: number | null = null;
    // Watched from before the spawn's first tick: the backup's `.partial` is the first file the run writes.
    const watcher = watch(project.path(ROUND_DIR, 'backups'), (_event, file) => {
      if (workStartMs !== null || !String(file ?? '').endsWith('.partial')) return;
      workStartMs = performance.now() - started;
      if (kill.fromWork) timer = setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
    });
    if (!kill.fromWork) timer = setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      watcher.close();
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started, workStartMs });
    });
  });
}

const NO_KILL: KillAt = { afterMs: RETRY_LIMIT_MS, fromWork: false };
const describeKill = (kill: KillAt) => `${kill.afterMs} ms after its ${kill.fromWork ? 'first backup file appeared' : 'spawn'}`;

const describeAppKill = (choice: { appKillAfterMs: number | null }) =>
  choice.appKillAfterMs === null ? 'stopped at the end' : `killed ${choice.appKillAfterMs} ms after the runner's spawn`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------------------------------------- the checks

/** What the round's database folder shows after the kill (files only: the database is not opened before the retry). */
function phaseAfterKill(command: CommandName, path: string, preparedBackups: Set<string>): string {
  const files = readdirSync(join(path, '..', 'backups')).filter((f) => !preparedBackups.has(f));
  const partial = files.some((f) => f.endsWith('.partial'));
  const whole = files.some((f) => f.endsWith('.db'));
  const what = command === 'restore latest' ? 'saved copy' : 'backup';
  return whole ? `after its ${what}` : partial ? `during its ${what}` : `before its ${what}`;
}

function keysIn(path: string): Set<string> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return new Set(db.prepare('SELECT email FROM users').pluck().all() as string[]);
  } finally {
    db.close();
  }
}

/** What is wrong with the recovered database: integrity, revision, drift, the prepared rows, the cascade's children. */
async function recoveryProblems(setup: Setup, path: string, expected: Expected): Promise<string[]> {
  const problems: string[] = [];
  const db = new Database(path, { fileMustExist: true });
  try {
    const integrity = (db.prepare('PRAGMA integrity_check').pluck().all() as string[]).join('; ');
    if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`);
    const fk = db.prepare('PRAGMA foreign_key_check').all();
    if (fk.length > 0) problems.push(`foreign_key_check: ${fk.length} row(s), first ${JSON.stringify(fk[0])}`);
    const one = (sql: string) => db.prepare(sql).pluck().get() as number | null;
    const seed = one("SELECT count(*) FROM users WHERE email LIKE 'seed-%'");
    const seedIds = one("SELECT sum(id) FROM users WHERE email LIKE 'seed-%' AND id <= " + SEED_USERS) ?? 0;
    if (seed !== expected.seedUsers || seedIds !== (SEED_USERS * (SEED_USERS + 1)) / 2) problems.push(`prepared accounts: ${seed} of ${expected.seedUsers} (id sum ${seedIds})`);
    const late = one("SELECT count(*) FROM users WHERE email LIKE 'late-%'");
    if (late !== expected.lateUsers) problems.push(`late accounts: ${late}, expected ${expected.lateUsers}`);
    const sessions = one('SELECT count(*) FROM sessions');
    if (sessions !== expected.sessions) problems.push(`sessions (the cascade's children): ${sessions} of ${expected.sessions}`);
  } catch (error) {
    problems.push(`reading the database: ${(error as Error).message}`);
  } finally {
    db.close();
  }
  try {
    const where = { url: `file:${path}`, migrationsFolder: setup.project.path('drizzle') };
    const { revision } = await runner.current(where);
    if (revision !== expected.revision) problems.push(`at ${revision}, not ${expected.revision}`);
    const status = await runner.status(where);
    const drift = status.problems.filter((p) => p.kind === 'drift').map((p) => p.message);
    if (drift.length > 0) problems.push(`drift: ${drift.join('; ')}`);
  } catch (error) {
    problems.push(`reading the revision: ${(error as Error).message}`);
  }
  return problems;
}

// --------------------------------------------------------------------------------------------------- one round

interface RoundChoice {
  command: CommandName;
  kill: KillAt;
  /** When the app is SIGKILLed, counted from the runner's start; null: it is stopped with SIGTERM at the end. */
  appKillAfterMs: number | null;
}

interface RoundResult extends RoundChoice {
  round: number;
  killed: boolean;
  phase: string;
  /** The retry found the killed run's change already made (up/down: nothing to do; restore: it was already restored). */
  alreadyDone: boolean;
  acknowledged: number;
  /** Why the app's inserts that SQLite refused were refused (error codes). */
  refused: string[];
  lost: string[];
  problems: string[];
  ms: number;
}

interface Timing {
  /** A whole uninterrupted run, from spawn to exit. */
  totalMs: number;
  /** When its first backup file appeared: Node and tsx have started, the lock is taken, the work begins. */
  workStartMs: number;
}

function choose(seed: number, round: number, durations: Map<CommandName, Timing>): RoundChoice {
  const random = generator(seed, round);
  const command = COMMANDS[(round - 1) % COMMANDS.length]!;
  const { totalMs, workStartMs } = durations.get(command)!;
  const fromWork = random() < 0.5;
  const at = random();
  // Half the kills spread over the whole normal run (start-up, lock, backup, change, exit) and a little past its end;
  // the other half over its work alone, counted from its first backup file (backup, change, commit, exit).
  const afterMs = Math.round(at * 1.1 * (fromWork ? totalMs - workStartMs : totalMs));
  const killApp = random() < APP_KILL_SHARE;
  const appAt = random();
  return { command, kill: { afterMs, fromWork }, appKillAfterMs: killApp ? Math.round(appAt * totalMs * 2) : null };
}

async function runRound(setup: Setup, round: number, choice: RoundChoice, preparedBackups: Set<string>): Promise<RoundResult> {
  const started = performance.now();
  const { start, args, expected } = plan(choice.command, setup);
  const path = freshRound(setup.project, start);
  const app: LiveApp = startLiveApp(path, { prefix: `r${round}-` });
  const problems: string[] = [];
  let killed = false;
  let phase = 'app did not start';
  let alreadyDone = false;
  try {
    await app.ready;
    const appTimer = choice.appKillAfterMs === null ? null : setTimeout(() => app.kill(), choice.appKillAfterMs);
    try {
      const first = await runMigrate(setup.project, args, choice.kill);
      killed = first.signal === 'SIGKILL';
      if (!killed && first.code !== 0) problems.push(`the first run (not killed) exited ${first.code}: ${first.stderr.trim() || first.stdout.trim()}`);
      phase = killed ? phaseAfterKill(choice.command, path, preparedBackups) : 'finished first';
      const retry = await runMigrate(setup.project, args, NO_KILL);
      if (retry.signal === 'SIGKILL') problems.push(`the retry did not finish within ${RETRY_LIMIT_MS / 1000} s`);
      else if (retry.code !== 0) problems.push(`the retry exited ${retry.code}: ${(retry.stderr.trim() || retry.stdout.trim()).split('\n').join(' | ')}`);
      alreadyDone =
        choice.command === 'restore latest'
          ? new RegExp(`saved as ${DB_NAME.replace('.', '\\.')}\\.\\d{8}T\\d{9}Z\\.${setup.base}\\.saved-before-restore`).test(retry.stdout)
          : /^Nothing to do/m.test(retry.stdout);
      // A few more writes after the recovery.
      await sleep(20);
    } finally {
      if (appTimer) clearTimeout(appTimer);
    }
  } catch (error) {
    problems.push((error as Error).message);
  }
  await app.stop();

  problems.push(...(await recoveryProblems(setup, path, expected)));

  // Every acknowledged write is in the live database, or (restore only) in a copy a restore saved first.
  const written = app.acknowledged();
  const readKeys = (file: string): Set<string> => {
    try {
      return keysIn(file);
    } catch (error) {
      problems.push(`reading the accounts of ${file.slice(setup.project.dir.length + 1)}: ${(error as Error).message}`);
      return new Set();
    }
  };
  const live = readKeys(path);
  const saved =
    choice.command === 'restore latest'
      ? readdirSync(join(path, '..', 'backups'))
          .filter((f) => f.includes('.saved-before-restore') && f.endsWith('.db'))
          .map((f) => readKeys(join(path, '..', 'backups', f)))
      : [];
  const lost = written.filter((key) => !live.has(key) && !saved.some((s) => s.has(key)));
  if (!existsSync(path)) problems.push('the database file is gone');
  return { ...choice, round, killed, phase, alreadyDone, acknowledged: written.length, refused: app.refused().map((line) => line.split(' ').slice(1).join(' ')), lost, problems, ms: performance.now() - started };
}

// --------------------------------------------------------------------------------------------------------- main

const { rounds, seed, only, verbose } = parseArgs(process.argv.slice(2));
const wallStarted = performance.now();
const project = makeProject({ withMigrations: false });
let exitCode = 0;
try {
  const [base, head] = writeTortureMigrations(project.path('drizzle'));
  const setup: Setup = { project, base, head };
  await prepare(setup);
  const preparedBackups = new Set(readdirSync(project.path('prepared', 'head', 'backups')));
  console.log(`seed ${seed}; ${only === null ? `${rounds} rounds` : `round ${only} only`}; ${SEED_USERS} accounts, ${SEED_USERS * SESSIONS_PER_USER} sessions (ON DELETE CASCADE children)`);

  // The normal duration of each command, uninterrupted, with the app writing: the kills are spread over it. And how
  // long its work takes once its first backup file appears (under the lock): half the kills are spread over that part
  // alone, where the database is changed, a whole run being mostly Node's start-up.
  const durations = new Map<CommandName, Timing>();
  for (const command of COMMANDS) {
    const { start, args } = plan(command, setup);
    const totals: number[] = [];
    const workStarts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const app = startLiveApp(freshRound(project, start), { prefix: 'timing-' });
      await app.ready;
      const run = await runMigrate(project, args, NO_KILL);
      await app.stop();
      if (run.code !== 0) throw new Error(`the timing run of ${command} failed (exit ${run.code}): ${run.stderr.trim()}`);
      if (run.workStartMs === null) throw new Error(`the timing run of ${command} wrote no backup`);
      totals.push(run.ms);
      workStarts.push(run.workStartMs);
    }
    durations.set(command, { totalMs: median(totals), workStartMs: median(workStarts) });
  }
  console.log(
    `normal durations (median of 5): ${COMMANDS.map((c) => `${c} ${durations.get(c)!.totalMs.toFixed(0)} ms (its first backup file at ${durations.get(c)!.workStartMs.toFixed(0)} ms)`).join(', ')}`,
  );

  const results: RoundResult[] = [];
  const numbers = only === null ? Array.from({ length: rounds }, (_, i) => i + 1) : [only];
  for (const round of numbers) {
    const result = await runRound(setup, round, choose(seed, round, durations), preparedBackups);
    results.push(result);
    if (verbose) {
      console.log(
        `round ${round}: ${result.command}, kill ${describeKill(result.kill)}: ${result.killed ? `killed ${result.phase}${result.alreadyDone ? ', change made' : ''}` : 'finished first'}; ` +
          `app ${describeAppKill(result)}; ${result.acknowledged} writes; ${result.ms.toFixed(0)} ms`,
      );
    }
    if (result.problems.length > 0 || result.lost.length > 0) {
      console.log(
        `FAIL round ${round}: ${result.command}, runner killed ${describeKill(result.kill)} (${result.killed ? result.phase : 'finished first'}), ` +
          `app ${describeAppKill(result)}: ` +
          [...result.problems, ...(result.lost.length > 0 ? [`${result.lost.length} acknowledged write(s) lost: ${result.lost.slice(0, 5).join(', ')}`] : [])].join('; '),
      );
    }
    if (results.length % 50 === 0) {
      const failed = results.filter((r) => r.problems.length > 0).length;
      const lost = results.reduce((n, r) => n + r.lost.length, 0);
      console.log(`round ${results.length}/${numbers.length}: lost ${lost}, failed recoveries ${failed}, median round ${(median(results.map((r) => r.ms)) / 1000).toFixed(2)} s, ${((performance.now() - wallStarted) / 1000).toFixed(0)} s so far`);
    }
  }

  const lost = results.reduce((n, r) => n + r.lost.length, 0);
  const failures = results.filter((r) => r.problems.length > 0);
  console.log('');
  for (const command of COMMANDS) {
    const of = results.filter((r) => r.command === command);
    if (of.length === 0) continue;
    const killed = of.filter((r) => r.killed);
    const phases = new Map<string, number>();
    for (const r of killed) phases.set(r.phase, (phases.get(r.phase) ?? 0) + 1);
    console.log(
      `${command}: ${of.length} rounds, ${killed.length} killed (${[...phases].map(([p, n]) => `${n} ${p}`).join(', ') || 'none'}; ` +
        `${killed.filter((r) => r.alreadyDone).length} after the change was made), ${of.length - killed.length} finished before the kill; ` +
        `app killed in ${of.filter((r) => r.appKillAfterMs !== null).length}`,
    );
  }
  const wall = (performance.now() - wallStarted) / 1000;
  const refusals = new Map<string, number>();
  for (const reason of results.flatMap((r) => r.refused)) refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
  console.log(
    `acknowledged writes: ${results.reduce((n, r) => n + r.acknowledged, 0)}; refused by SQLite (so never acknowledged): ` +
      `${[...refusals].map(([reason, n]) => `${n} ${reason}`).join(', ') || 'none'}`,
  );
  console.log(`wall time ${wall.toFixed(1)} s; median round ${(median(results.map((r) => r.ms)) / 1000).toFixed(3)} s, slowest ${(Math.max(...results.map((r) => r.ms)) / 1000).toFixed(3)} s`);
  console.log(`seed ${seed}`);
  console.log(`acknowledged writes lost: ${lost}`);
  console.log(`failed recoveries: ${failures.length}`);
  if (lost > 0 || failures.length > 0) {
    exitCode = 1;
    console.log('');
    for (const r of results.filter((x) => x.problems.length > 0 || x.lost.length > 0)) {
      console.log(
        `round ${r.round}: ${r.command}, runner killed ${describeKill(r.kill)} (${r.killed ? r.phase : 'finished first'}), app ${describeAppKill(r)}; ` +
          `replay: npm run bench:torture -- --seed ${seed} --round ${r.round}`,
      );
      for (const p of r.problems) console.log(`  ${p}`);
      if (r.lost.length > 0) console.log(`  ${r.lost.length} of ${r.acknowledged} acknowledged writes in neither the database nor a saved copy: ${r.lost.slice(0, 10).join(', ')}`);
    }
  }
} catch (error) {
  console.error(`seed ${seed}: ${(error as Error).stack ?? error}`);
  exitCode = 2;
} finally {
  project.cleanup();
}
process.exit(exitCode);
