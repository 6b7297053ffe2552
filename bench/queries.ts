// Query benchmark: the query layer (Drizzle over @libsql/client) against the raw drivers under it, on a database of
// 100,000 users. Usage: npm run bench:queries -- [--rounds 7] [--lookups 5000] [--inserts 1000] [--users 100000]
// Exits 1 when the layer's getUserByEmail takes more than MAX_LOOKUP_RATIO times as long as the same SELECT run
// through @libsql/client directly. Not part of `npm test`: tests never assert a time.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median, positiveInteger } from './common.js';
import Database from 'better-sqlite3';
import { eq, getTableColumns, sql } from 'drizzle-orm';
import { closeDb, createDb, type Db } from '../src/db.js';
import { hashPassword } from '../src/queries/password.js';
import { getUserByEmail } from '../src/queries/users.js';
import { upgrade } from '../src/runner.js';
import { users } from '../src/schema/index.js';

/** The bound the issue sets: the layer's getUserByEmail at most this many times the raw @libsql/client time. */
const MAX_LOOKUP_RATIO = 1.3;

const { values: options } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    lookups: { type: 'string', default: '5000' },
    inserts: { type: 'string', default: '1000' },
    users: { type: 'string', default: '100000' },
  },
});
const ROUNDS = positiveInteger('rounds', options.rounds);
const LOOKUPS = positiveInteger('lookups', options.lookups);
const INSERTS = positiveInteger('inserts', options.inserts);
const USERS = positiveInteger('users', options.users);

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const seedEmail = (i: number) => `user${i}@example.com`;

/** One way of doing the measured operation; `run` does `count` of them, each on the inputs of the round. */
interface Contender {
  label: string;
  run: (round: number, count: number) => Promise<void> | void;
}

interface Measured {
  label: string;
  /** Seconds per round, warm-up excluded. */
  seconds: number[];
}

/** Small seeded PRNG (mulberry32): the same lookup sequence on every run, and for every contender in a round. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}


/**
 * Runs every contender `count` times per round: one warm-up round, then ROUNDS timed ones. The order of the
 * contenders rotates from round to round, so drift on a noisy machine (another process, a WAL checkpoint)
 * is not charged to the same contender every time.
 */
async function measure(contenders: Contender[], count: number): Promise<Measured[]> {
  const seconds = contenders.map(() => [] as number[]);
  for (let round = 0; round <= ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const index = (k + round) % contenders.length;
      const contender = contenders[index]!;
      const started = performance.now();
      await contender.run(round, count);
      const elapsed = (performance.now() - started) / 1000;
      if (round > 0) seconds[index]!.push(elapsed);
    }
  }
  return contenders.map((c, i) => ({ label: c.label, seconds: seconds[i]! }));
}

const number = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Prints contender, median ops/s (min–max over rounds), and the median of the per-round time ratios against raw
 * @libsql/client (the driver under the layer) and against better-sqlite3. Returns the layer's median ratio
 * against raw @libsql/client.
 */
function report(title: string, count: number, measured: Measured[], layer: number, libsql: number, better: number): number {
  const opsPerSecond = (m: Measured) => m.seconds.map((s) => count / s);
  const ratioAgainst = (m: Measured, base: Measured) => median(m.seconds.map((s, round) => s / base.seconds[round]!));
  const rows = measured.map((m) => {
    const ops = opsPerSecond(m);
    return [
      m.label,
      number(median(ops)),
      `${number(Math.min(...ops))}–${number(Math.max(...ops))}`,
      `${ratioAgainst(m, measured[libsql]!).toFixed(2)}x`,
      `${ratioAgainst(m, measured[better]!).toFixed(2)}x`,
    ];
  });
  const header = ['contender', 'median ops/s', 'min–max ops/s', 'time vs raw libsql', 'time vs better-sqlite3'];
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => r[col]!.length)));
  const line = (cells: string[]) => cells.map((c, col) => (col === 0 ? c.padEnd(widths[col]!) : c.padStart(widths[col]!))).join('  ');
  console.log(`\n${title}: ${number(count)} operations per round, ${ROUNDS} rounds after a warm-up round`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  return ratioAgainst(measured[layer]!, measured[libsql]!);
}

async function packageVersion(name: string): Promise<string> {
  try {
    const text = await readFile(join(projectRoot, 'node_modules', name, 'package.json'), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

const folder = await mkdtemp(join(tmpdir(), 'bot-db-bench-'));
const file = join(folder, 'bench.db');
let db: Db | undefined;
let raw: Database.Database | undefined;
try {
  await upgrade({ url: `file:${file}`, migrationsFolder: join(projectRoot, 'drizzle'), backup: false });

  // Seed through better-sqlite3 in one transaction with one hash: scrypt is slow on purpose and is not measured.
  const passwordHash = await hashPassword('bench password');
  raw = new Database(file);
  raw.pragma('journal_mode = WAL'); // what createDb sets; set here first so that the seed is written the same way
  raw.pragma('busy_timeout = 5000');
  const seedStarted = performance.now();
  const seedInsert = raw.prepare('INSERT INTO users (email, password_hash) VALUES (?, ?)');
  raw.transaction(() => {
    for (let i = 0; i < USERS; i++) seedInsert.run(seedEmail(i), passwordHash);
  })();
  const seedMs = performance.now() - seedStarted;

  db = await createDb(`file:${file}`);
  const client = db.$client;
  // Same durability for the reference driver as the app's connection has (it matters for the inserts).
  const libsqlSynchronous = (await client.execute('PRAGMA synchronous')).rows[0]?.[0];
  raw.pragma(`synchronous = ${Number(libsqlSynchronous)}`);

  // The statements the layer runs, built by Drizzle from the same columns as src/queries/users.ts (every column but
  // the two secrets), so the raw contenders run the same SQL text.
  const { passwordHash: _hash, passwordResetToken: _token, ...publicColumns } = getTableColumns(users);
  const selectSql = db.select(publicColumns).from(users).where(eq(users.email, sql.placeholder('email'))).toSQL().sql;
  const insertSql = db
    .insert(users)
    .values({ email: sql.placeholder('email'), passwordHash: sql.placeholder('hash') })
    .onConflictDoNothing({ target: users.email })
    .returning(publicColumns)
    .toSQL().sql;

  console.log(`Query benchmark: Node ${process.version}, ${availableParallelism()} cores; drizzle-orm ${await packageVersion('drizzle-orm')}, ` +
    `@libsql/client ${await packageVersion('@libsql/client')}, better-sqlite3 ${await packageVersion('better-sqlite3')}`);
  console.log(`Database: ${number(USERS)} users seeded in one transaction in ${number(seedMs)} ms; WAL, synchronous=${libsqlSynchronous} on both connections`);
  console.log(`SELECT: ${selectSql}`);
  console.log(`INSERT: ${insertSql}`);

  // ---- getUserByEmail: random existing emails, the same sequence for every contender of a round.
  const lookupEmails: string[][] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const random = prng(round + 1);
    lookupEmails.push(Array.from({ length: LOOKUPS }, () => seedEmail(Math.floor(random() * USERS))));
  }
  const found = (row: unknown, email: string) => {
    if (row === undefined) throw new Error(`no user ${email}: the benchmark's lookups must all hit`);
  };
  const appDb = db;
  const selectStatement = raw.prepare(selectSql);
  const lookups = await measure(
    [
      {
        label: 'layer getUserByEmail (drizzle prepared, libsql)',
        run: async (round, count) => {
          const emails = lookupEmails[round]!;
          for (let i = 0; i < count; i++) found(await getUserByEmail(appDb, emails[i]!), emails[i]!);
        },
      },
      {
        label: 'raw @libsql/client execute({ sql, args })',
        run: async (round, count) => {
          const emails = lookupEmails[round]!;
          for (let i = 0; i < count; i++) found((await client.execute({ sql: selectSql, args: [emails[i]!] })).rows[0], emails[i]!);
        },
      },
      {
        label: 'raw better-sqlite3 prepared .get() (sync)',
        run: (round, count) => {
          const emails = lookupEmails[round]!;
          for (let i = 0; i < count; i++) found(selectStatement.get(emails[i]!), emails[i]!);
        },
      },
    ],
    LOOKUPS,
  );
  const lookupRatio = report('getUserByEmail (random existing email)', LOOKUPS, lookups, 0, 1, 2);

  // ---- Insert one user row (autocommit: one transaction per row), with the precomputed hash.
  // createUser would spend 0.4 s or so in scrypt per row; the layer's insert path is measured instead: the exact
  // Drizzle statement createUser runs after hashing (insert … on conflict do nothing returning the public columns).
  const newEmail = (who: string, round: number, i: number) => `new-${who}-${round}-${i}@example.com`;
  const insertStatement = raw.prepare(insertSql);
  const inserts = await measure(
    [
      {
        label: "layer insert (createUser's drizzle insert, no scrypt)",
        run: async (round, count) => {
          for (let i = 0; i < count; i++) {
            const email = newEmail('layer', round, i);
            const user = await appDb
              .insert(users)
              .values({ email, passwordHash })
              .onConflictDoNothing({ target: users.email })
              .returning(publicColumns)
              .get();
            found(user, email);
          }
        },
      },
      {
        label: 'raw @libsql/client execute({ sql, args })',
        run: async (round, count) => {
          for (let i = 0; i < count; i++) {
            const email = newEmail('libsql', round, i);
            found((await client.execute({ sql: insertSql, args: [email, passwordHash] })).rows[0], email);
          }
        },
      },
      {
        label: 'raw better-sqlite3 prepared .get() (sync)',
        run: (round, count) => {
          for (let i = 0; i < count; i++) {
            const email = newEmail('better', round, i);
            found(insertStatement.get(email, passwordHash), email);
          }
        },
      },
    ],
    INSERTS,
  );
  report('insert one user row (precomputed hash)', INSERTS, inserts, 0, 1, 2);

  console.log(
    `\ntime vs X = median over rounds of (this contender's time / X's time in the same round); above 1 is slower.`,
  );
  if (lookupRatio > MAX_LOOKUP_RATIO) {
    console.error(
      `FAIL: the layer's getUserByEmail takes ${lookupRatio.toFixed(2)}x the time of the same SELECT through @libsql/client ` +
        `(bound ${MAX_LOOKUP_RATIO}x)`,
    );
    process.exitCode = 1;
  } else {
    console.log(`OK: the layer's getUserByEmail takes ${lookupRatio.toFixed(2)}x raw @libsql/client (bound ${MAX_LOOKUP_RATIO}x)`);
  }
} finally {
  if (db) closeDb(db);
  raw?.close();
  await rm(folder, { recursive: true, force: true });
}
