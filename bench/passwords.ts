// Password benchmark: whether requestPasswordReset takes the same time for a known and an unknown email (it must,
// or its timing tells which emails have accounts), and what one password check costs in each stored format.
// Usage: npx tsx bench/passwords.ts [--calls 2000] [--users 10000] [--checks 5]
// Prints medians; asserts nothing (tests never assert a time).
import { pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { median, positiveInteger } from './common.js';
import { closeDb, createDb, type Db } from '../src/db.js';
import { argon2id, bcrypt } from 'hash-wasm';
import { hashPassword, passwordMatches } from '../src/queries/password.js';
import { requestPasswordReset } from '../src/queries/users.js';
import { upgrade } from '../src/runner.js';

const { values: options } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    users: { type: 'string', default: '10000' },
    checks: { type: 'string', default: '5' },
  },
});
const CALLS = positiveInteger('calls', options.calls);
const USERS = positiveInteger('users', options.users);
const CHECKS = positiveInteger('checks', options.checks);

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const seedEmail = (i: number) => `user${i}@example.com`;

/** 25th, 50th and 75th percentile of per-call milliseconds, as text. */
function spread(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${median(ms).toFixed(3)} ms (p25 ${at(0.25).toFixed(3)}, p75 ${at(0.75).toFixed(3)})`;
}

/**
 * Per-call milliseconds of requestPasswordReset for a known and for an unknown email, the two interleaved call by
 * call (known, unknown, unknown, known, …) so that drift on a busy machine (a WAL checkpoint, another process)
 * falls on both alike. The first tenth of the calls is a warm-up and not counted.
 */
async function measureResets(db: Db): Promise<{ known: number[]; unknown: number[] }> {
  const known: number[] = [];
  const unknown: number[] = [];
  const warmUp = Math.ceil(CALLS / 10);
  for (let i = 0; i < CALLS + warmUp; i++) {
    const order = i % 2 === 0 ? (['known', 'unknown'] as const) : (['unknown', 'known'] as const);
    for (const which of order) {
      const email = which === 'known' ? seedEmail(i % USERS) : `nobody${i}@example.com`;
      const started = performance.now();
      const token = await requestPasswordReset(db, email);
      const elapsed = performance.now() - started;
      if ((token !== undefined) !== (which === 'known')) throw new Error(`unexpected answer for ${email}`);
      if (i >= warmUp) (which === 'known' ? known : unknown).push(elapsed);
    }
  }
  return { known, unknown };
}

/**
 * One hash per stored format at its tool's default cost, made here in the formats' layout (the tests make them with
 * passlib and hashlib; the cost of checking does not depend on who made them).
 */
async function sampleHashes(password: string): Promise<[string, string][]> {
  const ab64 = (b: Buffer) => b.toString('base64').replaceAll('+', '.').replace(/=+$/, '');
  const salt = randomBytes(16);
  const text = 'aB3dE5gH7jK9mN1p';
  const argon2 = await argon2id({ password, salt, iterations: 2, parallelism: 8, memorySize: 102400, hashLength: 16, outputType: 'encoded' });
  return [
    ['layer scrypt N=2^15 r=8 p=3', await hashPassword(password)],
    ['unknown format (dummy scrypt)', 'not a hash'],
    ['passlib bcrypt cost 12', await bcrypt({ password, salt, costFactor: 12, outputType: 'encoded' })],
    ['passlib pbkdf2_sha256 29000', `$pbkdf2-sha256$29000$${ab64(salt)}$${ab64(pbkdf2Sync(password, salt, 29000, 32, 'sha256'))}`],
    ['passlib argon2id m=100MiB t=2 p=8', argon2.replace(/=+(?=\$|$)/g, '')],
    ['werkzeug pbkdf2:sha256:600000', `pbkdf2:sha256:600000$${text}$${pbkdf2Sync(password, text, 600000, 32, 'sha256').toString('hex')}`],
    ['werkzeug scrypt:32768:8:1', `scrypt:32768:8:1$${text}$${scryptSync(password, text, 64, { N: 32768, r: 8, p: 1, maxmem: 64 * 2 ** 20 }).toString('hex')}`],
  ];
}

/** Median milliseconds of passwordMatches (right password) for each format, and how long the event loop was held. */
async function measureChecks(): Promise<void> {
  const password = 'bench pässword';
  console.log(`\npasswordMatches, right password, median of ${CHECKS} (event loop held: the longest timer delay meanwhile)`);
  for (const [label, hash] of await sampleHashes(password)) {
    const ms: number[] = [];
    let held = 0;
    for (let i = 0; i <= CHECKS; i++) {
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        held = Math.max(held, now - last);
        last = now;
      }, 1);
      const started = performance.now();
      const matched = await passwordMatches(password, hash);
      if (i > 0) ms.push(performance.now() - started);
      // One more timer turn, so that a check that held the loop to its very end is measured too.
      await new Promise((resolve) => setTimeout(resolve, 2));
      clearInterval(timer);
      if (matched !== (hash !== 'not a hash')) throw new Error(`${label}: unexpected ${matched}`);
    }
    console.log(`  ${label.padEnd(36)} ${median(ms).toFixed(1).padStart(7)} ms   loop held up to ${held.toFixed(0)} ms`);
  }
}

const folder = await mkdtemp(join(tmpdir(), 'bot-db-bench-passwords-'));
const file = join(folder, 'bench.db');
let db: Db | undefined;
try {
  await upgrade({ url: `file:${file}`, migrationsFolder: join(projectRoot, 'drizzle'), backup: false });
  // Seeded with one hash through better-sqlite3: scrypt is slow on purpose and is not what is measured here.
  const passwordHash = await hashPassword('bench password');
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  const insert = raw.prepare('INSERT INTO users (email, password_hash) VALUES (?, ?)');
  raw.transaction(() => {
    for (let i = 0; i < USERS; i++) insert.run(seedEmail(i), passwordHash);
  })();
  raw.close();

  db = await createDb(`file:${file}`);
  console.log(`Password benchmark: Node ${process.version}, ${availableParallelism()} cores; ${USERS} users, ${CALLS} calls per case`);
  const { known, unknown } = await measureResets(db);
  console.log(`requestPasswordReset, known email:   ${spread(known)}`);
  console.log(`requestPasswordReset, unknown email: ${spread(unknown)}`);
  console.log(`unknown / known (medians): ${(median(unknown) / median(known)).toFixed(2)}`);
  await measureChecks();
} finally {
  if (db) closeDb(db);
  await rm(folder, { recursive: true, force: true });
}
