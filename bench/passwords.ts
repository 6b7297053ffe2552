// Password benchmark: whether requestPasswordReset takes the same time for a known and an unknown email (it must,
// or its timing tells which emails have accounts). Usage: npm exec tsx bench/passwords.ts -- [--calls 2000] [--users 10000]
// Prints medians; asserts nothing (tests never assert a time).
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { median, positiveInteger } from './common.js';
import { closeDb, createDb, type Db } from '../src/db.js';
import { hashPassword } from '../src/queries/password.js';
import { requestPasswordReset } from '../src/queries/users.js';
import { upgrade } from '../src/runner.js';

const { values: options } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    users: { type: 'string', default: '10000' },
  },
});
const CALLS = positiveInteger('calls', options.calls);
const USERS = positiveInteger('users', options.users);

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
} finally {
  if (db) closeDb(db);
  await rm(folder, { recursive: true, force: true });
}
