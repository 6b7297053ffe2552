// Migration benchmark (issue 8): the runner against drizzle's own migrators, drizzle-kit migrate and better-sqlite3
// floors, each run as a whole process (`node …`), on workloads built in a temporary folder.
// Usage: npm run bench -- [--rounds 5] [--heavy-rounds 5] [--only W1,W4] [--quick] [--rows 1000000] [--keep] [--strict]
//   --rounds N        timed rounds of W1 and W3 after one warm-up round (W2 runs 3N: its commands are short)
//   --heavy-rounds N  timed rounds of W4, W5 and W1's 1,000-migration set (a round of W4 takes about 20 s on 2 cores)
//   --only      run a subset of W1 (apply), W2 (current/status), W3 (down), W4 (rebuild), W5 (verify/check)
//   --quick     100,000 rows in W4 instead of 1,000,000, and no 1,000-migration set in W1
//   --rows N    rows in each of W4's two tables
//   --keep      keep the temporary folder (its path is printed)
//   --strict    exit 1 when a target is missed (by default only failures and lost rows exit 1)
// Every contender's time is the wall time of its process, from spawn to exit. Contenders alternate: in each round
// all of them run once, in an order that rotates from round to round; round 0 is a warm-up and is not counted
// (drizzle-orm's better-sqlite3 migrator in W4, 5 to 11 s a run, skips the warm-up).
// "x vs B" columns are the median over rounds of (contender's time / B's time in the same round).
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { alembicArgs, findAlembicPython, revisionId, writeAlembicProject } from './alembic.js';
import { median, positiveInteger } from './common.js';
import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { generateSQLiteDrizzleJson, generateSQLiteMigration } from 'drizzle-kit/api';

// ------------------------------------------------------------------------------------------------ options

const { values: options } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'heavy-rounds': { type: 'string', default: '5' },
    only: { type: 'string', default: 'W1,W2,W3,W4,W5' },
    quick: { type: 'boolean', default: false },
    rows: { type: 'string' },
    keep: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
  },
});
const ROUNDS = positiveInteger('rounds', options.rounds);
const HEAVY_ROUNDS = positiveInteger('heavy-rounds', options['heavy-rounds']);
const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5'] as const;
type Workload = (typeof WORKLOADS)[number];
const ONLY = new Set(options.only.split(',').map((w) => w.trim().toUpperCase()));
for (const w of ONLY) if (!(WORKLOADS as readonly string[]).includes(w)) throw new RangeError(`--only: unknown workload ${w} (W1…W5)`);
const runs = (w: Workload) => ONLY.has(w);
const REBUILD_ROWS = options.rows ? positiveInteger('rows', options.rows) : options.quick ? 100_000 : 1_000_000;
const SMALL = 200;
const LARGE = options.quick ? 0 : 1000;

/** The targets of issue 8. */
const BOUNDS = {
  w1Floor: 1.3,
  w1DrizzleKit: 0.5,
  w1Growth: 5.5,
  w2Current: 1.8,
  w3Down: 1.1,
  w4Floor: 1.15,
  w5Verify: 4,
};

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const contendersDir = join(projectRoot, 'bench', 'contenders');
const node = process.execPath;
const builtRunner = join(projectRoot, 'dist', 'migrate.js');
const tsxCli = join(projectRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const tsRunner = join(projectRoot, 'src', 'migrate.ts');
const drizzleKitBin = join(projectRoot, 'node_modules', 'drizzle-kit', 'bin.cjs');

/** Children get this process's environment without what would change their start-up or their database. */
const childEnv: NodeJS.ProcessEnv = { ...process.env };
for (const name of ['NODE_OPTIONS', 'DATABASE_URL', 'DATABASE_AUTH_TOKEN', 'DEBUG']) delete childEnv[name];

// ------------------------------------------------------------------------------------------ measurement

interface Outcome {
  stdout: string;
  stderr: string;
}

/** One command measured as a whole process. */
interface Contender {
  label: string;
  /** The program to run (default: this node). */
  command?: string;
  /** Its arguments. */
  args: string[];
  /** Untimed, before each run: lay out the files the run starts from. */
  prepare?: () => void;
  /** Untimed, after each run: check what it did; a returned string is a note shown next to its time. */
  after?: (outcome: Outcome) => string | void;
  /** Exit codes that count as success (default 0). */
  okCodes?: number[];
  /** Not run in the warm-up round: a process of a minute or more, for which a warm-up buys nothing but time. */
  skipWarmup?: boolean;
}

interface Measured {
  label: string;
  seconds: number[];
  notes: string[];
  outcomes: Outcome[];
}

function runProcess(args: string[], okCodes = [0], command = node): { seconds: number; outcome: Outcome } {
  const started = performance.now();
  const child = spawnSync(command, args, { cwd: projectRoot, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  if (child.error) throw child.error;
  if (child.status === null || !okCodes.includes(child.status)) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${child.status ?? child.signal}:\n${(child.stderr || '').slice(-4000)}\n${(child.stdout || '').slice(-4000)}`,
    );
  }
  return { seconds, outcome: { stdout: child.stdout, stderr: child.stderr } };
}

/** Runs every contender once per round: a warm-up round, then `rounds` timed ones, the order rotating each round. */
function measure(contenders: Contender[], rounds = ROUNDS): Measured[] {
  const measured = contenders.map((c) => ({ label: c.label, seconds: [] as number[], notes: [] as string[], outcomes: [] as Outcome[] }));
  for (let round = 0; round <= rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const index = (k + round) % contenders.length;
      const contender = contenders[index]!;
      if (round === 0 && contender.skipWarmup) continue;
      contender.prepare?.();
      const { seconds, outcome } = runProcess(contender.args, contender.okCodes, contender.command);
      const note = contender.after?.(outcome);
      if (round === 0) continue;
      const m = measured[index]!;
      m.seconds.push(seconds);
      m.outcomes.push(outcome);
      if (note) m.notes.push(note);
    }
    process.stderr.write(`  round ${round}/${rounds}${round === 0 ? ' (warm-up)' : ''} done\n`);
  }
  return measured;
}

/** Median over rounds of a's time divided by b's time in the same round. */
const pairedRatio = (a: Measured, b: Measured) => median(a.seconds.map((s, round) => s / b.seconds[round]!));
/** Median over rounds of a's time minus b's time in the same round (seconds). */
const pairedDifference = (a: Measured, b: Measured) => median(a.seconds.map((s, round) => s - b.seconds[round]!));

function find(measured: Measured[], label: string): Measured {
  const m = measured.find((x) => x.label === label);
  if (!m) throw new Error(`no contender ${label}`);
  return m;
}

const seconds = (s: number) => (s < 10 ? s.toFixed(3) : s.toFixed(2));
const count = (n: number) => n.toLocaleString('en-US');

/** Prints a table: contender, median s, min–max s, one ratio column per baseline, notes. */
function table(title: string, measured: Measured[], baselines: { label: string; header: string }[], extra?: { header: string; cell: (m: Measured) => string }) {
  const header = ['contender', 'median s', 'min–max s', ...baselines.map((b) => b.header), ...(extra ? [extra.header] : []), 'notes'];
  const rows = measured.map((m) => [
    m.label,
    seconds(median(m.seconds)),
    `${seconds(Math.min(...m.seconds))}–${seconds(Math.max(...m.seconds))}`,
    ...baselines.map((b) => `${pairedRatio(m, find(measured, b.label)).toFixed(2)}x`),
    ...(extra ? [extra.cell(m)] : []),
    [...new Set(m.notes)].join('; '),
  ]);
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => r[col]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, col) => (col === 0 || col === cells.length - 1 ? c.padEnd(widths[col]!) : c.padStart(widths[col]!)))
      .join('  ')
      .trimEnd();
  const rounds = measured[0]?.seconds.length ?? 0;
  console.log(`\n${title}\n(${rounds} timed rounds after a warm-up round; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

interface Target {
  workload: Workload;
  text: string;
  value: number;
  bound: number;
  unit: 'x' | 's';
  /** Met when value <= bound, unless a precondition failed (then missed with the reason). */
  broken?: string;
}
const targets: Target[] = [];
function target(t: Target): void {
  targets.push(t);
  const met = t.broken === undefined && t.value <= t.bound;
  const fmt = (v: number) => (t.unit === 'x' ? `${v.toFixed(2)}x` : `${(v * 1000).toFixed(0)} ms`);
  console.log(`  target ${t.text}: ${fmt(t.value)} (bound ${fmt(t.bound)}) ${met ? 'MET' : 'MISSED'}${t.broken ? ` (${t.broken})` : ''}`);
}

// --------------------------------------------------------------------------------------- the workloads

const folder = mkdtempSync(join(tmpdir(), 'bot-db-bench-migrations-'));
// Files in the temporary folder (a models file, drizzle-kit's config) import drizzle-orm: resolve the project's.
symlinkSync(join(projectRoot, 'node_modules'), join(folder, 'node_modules'), 'dir');
const path = (...parts: string[]) => join(folder, ...parts);
let failed: string | null = null;
const cleanup = () => {
  if (options.keep) console.log(`\nkept ${folder}`);
  else rmSync(folder, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const BREAKPOINT = '\n--> statement-breakpoint\n';
type Snapshot = Awaited<ReturnType<typeof generateSQLiteDrizzleJson>>;
const EMPTY: Snapshot = await generateSQLiteDrizzleJson({});
const ORIGIN_ID = '00000000-0000-0000-0000-000000000000';
const WHEN_BASE = 1_700_000_000_000;

interface MigrationFiles {
  tag: string;
  up: string[];
  down: string[];
}

/** Writes a migrations folder in drizzle-kit's layout: NNNN_tag.sql, NNNN_tag.down.sql, meta/_journal.json and snapshots. */
function writeFolder(dir: string, migrations: MigrationFiles[], snapshots: ((i: number) => object) | null): void {
  mkdirSync(join(dir, 'meta'), { recursive: true });
  const entries = migrations.map((m, idx) => {
    writeFileSync(join(dir, `${m.tag}.sql`), m.up.join(BREAKPOINT));
    if (m.down.length > 0) writeFileSync(join(dir, `${m.tag}.down.sql`), `-- Down migration for ${m.tag}.\n${m.down.join(BREAKPOINT)}\n`);
    if (snapshots) writeFileSync(join(dir, 'meta', `${String(idx).padStart(4, '0')}_snapshot.json`), JSON.stringify(snapshots(idx), null, 2));
    return { idx, version: '6', when: WHEN_BASE + idx * 60_000, tag: m.tag, breakpoints: true };
  });
  writeFileSync(join(dir, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'sqlite', entries }, null, 2));
}

/** Table i of the generated history: one CREATE TABLE plus an index, as a models file would declare it. */
const tableName = (i: number) => `t${String(i).padStart(4, '0')}`;
function generatedTable(i: number) {
  const name = tableName(i);
  return sqliteTable(
    name,
    {
      id: integer('id').primaryKey({ autoIncrement: true }),
      name: text('name').notNull(),
      value: integer('value'),
      note: text('note'),
      createdAt: integer('created_at').notNull().default(sql`(unixepoch())`),
    },
    (t) => [index(`${name}_name_idx`).on(t.name)],
  );
}
/** The same tables as TypeScript models, for `check`. */
function modelsSource(n: number): string {
  const lines = [`import { sql } from 'drizzle-orm';`, `import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';`, ''];
  for (let i = 0; i < n; i++) {
    const name = tableName(i);
    lines.push(
      `export const ${name} = sqliteTable('${name}', {`,
      `  id: integer('id').primaryKey({ autoIncrement: true }),`,
      `  name: text('name').notNull(),`,
      `  value: integer('value'),`,
      `  note: text('note'),`,
      `  createdAt: integer('created_at').notNull().default(sql\`(unixepoch())\`),`,
      `}, (t) => [index('${name}_name_idx').on(t.name)]);`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The generated history: migration i creates table i and its index. Its SQL is drizzle-kit's own
 * (generateSQLiteMigration of the snapshot without the table against the snapshot with it; the diff of one
 * table at a time is the same as against the whole schema, since the earlier tables do not change).
 */
async function generateHistory(n: number): Promise<{ migrations: MigrationFiles[]; tables: Snapshot['tables'][] }> {
  const migrations: MigrationFiles[] = [];
  const tables: Snapshot['tables'][] = [];
  for (let i = 0; i < n; i++) {
    const single = await generateSQLiteDrizzleJson({ [tableName(i)]: generatedTable(i) });
    const up = await generateSQLiteMigration(EMPTY, single);
    const name = tableName(i);
    migrations.push({ tag: `${String(i).padStart(4, '0')}_create_${name}`, up, down: [`DROP INDEX \`${name}_name_idx\`;`, `DROP TABLE \`${name}\`;`] });
    tables.push(single.tables);
  }
  return { migrations, tables };
}

/** Snapshot i of the history: every table up to i, chained by prevId. */
function historySnapshots(tables: Snapshot['tables'][]): (i: number) => object {
  const ids = tables.map(() => randomUUID());
  return (i) => {
    const all: Snapshot['tables'] = {};
    for (const t of tables.slice(0, i + 1)) Object.assign(all, t);
    return { version: '6', dialect: 'sqlite', id: ids[i], prevId: i === 0 ? ORIGIN_ID : ids[i - 1], tables: all, views: {}, enums: {}, _meta: { schemas: {}, tables: {}, columns: {} }, internal: { indexes: {} } };
  };
}

function openReadOnly(file: string): Database.Database {
  return new Database(file, { readonly: true, fileMustExist: true });
}
function appliedCount(file: string): number {
  const db = openReadOnly(file);
  try {
    return (db.prepare('SELECT count(*) AS n FROM "__drizzle_migrations"').get() as { n: number }).n;
  } finally {
    db.close();
  }
}
const removeDb = (file: string) => {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  rmSync(join(file, '..', 'backups'), { recursive: true, force: true });
};
/** A fresh folder per contender, so that one contender's database and backups never meet another's. */
function runFolder(name: string): string {
  const dir = path('runs', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
function expectApplied(file: string, n: number): string | void {
  const applied = appliedCount(file);
  if (applied !== n) throw new Error(`${file}: ${applied} bookkeeping rows after the run, expected ${n}`);
}

function drizzleKitConfig(dir: string, migrations: string, db: string): string {
  const config = join(dir, 'drizzle.config.js');
  // CommonJS: drizzle-kit require()s its config. `schema` is not read by migrate.
  writeFileSync(config, `module.exports = ${JSON.stringify({ dialect: 'sqlite', out: migrations, schema: path('schema.ts'), dbCredentials: { url: `file:${db}` } }, null, 2)};\n`);
  return config;
}

// ------------------------------------------------------------------------------------------------ main

const started = performance.now();
try {
  const cpu = cpus()[0]?.model ?? '?';
  const version = (name: string) => (JSON.parse(readFileSync(join(projectRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  console.log(`Migration benchmark, ${new Date().toISOString()}`);
  console.log(
    `Machine: ${availableParallelism()} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  console.log(`drizzle-orm ${version('drizzle-orm')}, drizzle-kit ${version('drizzle-kit')}, better-sqlite3 ${version('better-sqlite3')}, @libsql/client ${version('@libsql/client')}, tsx ${version('tsx')}`);
  console.log(`Workloads: ${[...ONLY].join(', ')}; ${ROUNDS} rounds (W2: ${ROUNDS * 3}; W1 at 1,000, W4 and W5: ${HEAVY_ROUNDS}); temporary folder ${folder}`);

  // The built runner must be the current source.
  const build = spawnSync('npm', ['run', 'build'], { cwd: projectRoot, env: childEnv, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
  console.log(`Built dist/ with npm run build (${((performance.now() - started) / 1000).toFixed(1)} s)`);

  // ---- the generated histories
  const needsHistory = runs('W1') || runs('W2') || runs('W3') || runs('W5');
  const small = path('history-200');
  const large = path('history-1000');
  // Alembic, on the same statements as the 200-migration history, when a python3 here imports it.
  const alembicPython = findAlembicPython();
  let alembicIni: string | null = null;
  const alembicHead = revisionId(SMALL - 1);
  if (needsHistory) {
    const t0 = performance.now();
    const { migrations, tables } = await generateHistory(Math.max(SMALL, LARGE));
    writeFolder(small, migrations.slice(0, SMALL), historySnapshots(tables.slice(0, SMALL)));
    if ('python' in alembicPython) alembicIni = writeAlembicProject(path('alembic'), migrations.slice(0, SMALL));
    if (LARGE > 0 && runs('W1')) writeFolder(large, migrations.slice(0, LARGE), null);
    writeFileSync(path('schema.ts'), modelsSource(SMALL));
    console.log(
      `Generated ${Math.max(SMALL, LARGE)} migrations with drizzle-kit's API in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
        `(each: CREATE TABLE of 5 columns + CREATE INDEX, with a down file; snapshots for the ${SMALL}-migration folder only: up never reads them)`,
    );
  }
  if ('python' in alembicPython) console.log(`Alembic: ${alembicPython.version} (${alembicPython.python}), the same statements in ${SMALL} revisions`);
  else console.log(`Alembic: NOT MEASURED: ${alembicPython.missing}`);
  /** Alembic's contender for a command on a database file, or none (said above) when Alembic is not installed. */
  const alembic = (label: string, database: string, command: string[], more: Omit<Contender, 'label' | 'args' | 'command'>): Contender[] =>
    alembicIni && 'python' in alembicPython ? [{ label, command: alembicPython.python, args: alembicArgs(alembicIni, database, command), ...more }] : [];
  /** Checks what Alembic left: its revision (null: base) and the number of the history's tables. */
  const expectAlembicAt = (file: string, revision: string | null, tables: number) => {
    const db = openReadOnly(file);
    try {
      const at = (db.prepare('SELECT version_num AS v FROM alembic_version').get() as { v: string } | undefined)?.v ?? null;
      const n = (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name LIKE 't%'").get() as { n: number }).n;
      if (at !== revision || n !== tables) throw new Error(`${file}: Alembic left ${at ?? 'base'} with ${n} tables, expected ${revision ?? 'base'} with ${tables}`);
    } finally {
      db.close();
    }
  };
  // An up-to-date database of the 200-migration history, for W2 and W3 (and Alembic's, by Alembic).
  const head = path('head-200.db');
  const alembicHeadDb = path('alembic-head-200.db');
  if (runs('W2') || runs('W3')) {
    if (alembicIni && 'python' in alembicPython) runProcess(alembicArgs(alembicIni, alembicHeadDb, ['upgrade', 'head']), [0], alembicPython.python);
    runProcess([builtRunner, 'up', '--url', `file:${head}`, '--dir', small]);
    expectApplied(head, SMALL);
  }

  // ---- W1: apply from an empty file
  if (runs('W1')) {
    const RUNNER = 'runner built (node dist/migrate.js up)';
    const FLOOR = 'floor, better-sqlite3, a transaction per file';
    // The runner migrates in WAL mode (as the app opens the database): the same floor in that mode is the fair one.
    const FLOOR_WAL = 'floor, a transaction per file, WAL';
    const apply = (n: number, label: string, args: (db: string, dir: string) => string[], name: string): Contender => {
      const db = join(runFolder(`w1-${n}-${name}`), 'w1.db');
      const dir = n === SMALL ? small : large;
      return { label: `${n}: ${label}`, args: args(db, dir), prepare: () => removeDb(db), after: () => expectApplied(db, n) };
    };
    const runner = (n: number) => apply(n, RUNNER, (db, dir) => [builtRunner, 'up', '--url', `file:${db}`, '--dir', dir], 'built');
    const floors = (n: number) => [
      apply(n, FLOOR, (db, dir) => [join(contendersDir, 'floor.mjs'), db, dir, 'per-file'], 'floor'),
      apply(n, FLOOR_WAL, (db, dir) => [join(contendersDir, 'floor.mjs'), db, dir, 'per-file', '--wal'], 'floorwal'),
      apply(n, 'floor, better-sqlite3, one transaction', (db, dir) => [join(contendersDir, 'floor.mjs'), db, dir, 'one-transaction'], 'floor1'),
      apply(n, 'drizzle-orm better-sqlite3 migrator', (db, dir) => [join(contendersDir, 'drizzle-better-sqlite3.mjs'), db, dir], 'orm'),
    ];
    const kitDir = runFolder(`w1-${SMALL}-kit`);
    const kitDb = join(kitDir, 'w1.db');
    const config = drizzleKitConfig(kitDir, small, kitDb);
    console.log(`\n== W1 apply: migrations applied to an empty database file ==`);
    console.log(`The TypeScript runner runs as node node_modules/tsx/dist/cli.mjs src/migrate.ts (what node_modules/.bin/tsx is; no npx).`);
    const measured = measure([
      runner(SMALL),
      ...floors(SMALL),
      apply(SMALL, 'runner from source (tsx src/migrate.ts up)', (db, dir) => [tsxCli, tsRunner, 'up', '--url', `file:${db}`, '--dir', dir], 'tsx'),
      { label: `${SMALL}: drizzle-kit migrate`, args: [drizzleKitBin, 'migrate', '--config', config], prepare: () => removeDb(kitDb), after: () => expectApplied(kitDb, SMALL) },
      ...alembic(`${SMALL}: Alembic upgrade head (its default: one transaction)`, join(runFolder(`w1-${SMALL}-alembic`), 'w1.db'), ['upgrade', 'head'], {
        prepare: () => removeDb(join(runFolder(`w1-${SMALL}-alembic`), 'w1.db')),
        after: () => expectAlembicAt(join(runFolder(`w1-${SMALL}-alembic`), 'w1.db'), alembicHead, SMALL),
      }),
    ]);
    const s = (label: string) => find(measured, `${SMALL}: ${label}`);
    table(`W1 apply, ${SMALL} migrations`, measured, [
      { label: `${SMALL}: ${FLOOR}`, header: 'vs floor/file' },
      { label: `${SMALL}: ${FLOOR_WAL}`, header: 'vs floor/WAL' },
      { label: `${SMALL}: drizzle-kit migrate`, header: 'vs drizzle-kit' },
      ...(alembicIni ? [{ label: `${SMALL}: Alembic upgrade head (its default: one transaction)`, header: 'vs Alembic' }] : []),
    ]);
    console.log('');
    target({ workload: 'W1', text: `W1 built runner vs floor (a transaction per file), ${SMALL} migrations`, value: pairedRatio(s(RUNNER), s(FLOOR)), bound: BOUNDS.w1Floor, unit: 'x' });
    target({ workload: 'W1', text: `W1 built runner vs the same floor in WAL mode, ${SMALL} migrations`, value: pairedRatio(s(RUNNER), s(FLOOR_WAL)), bound: BOUNDS.w1Floor, unit: 'x' });
    target({ workload: 'W1', text: `W1 built runner vs drizzle-kit migrate, ${SMALL} migrations`, value: pairedRatio(s(RUNNER), s('drizzle-kit migrate')), bound: BOUNDS.w1DrizzleKit, unit: 'x' });
    if (LARGE > 0) {
      // The growth: the runner at 1,000 against the runner at 200 in the same rounds (and the floors at 1,000).
      const grown = measure([runner(SMALL), runner(LARGE), ...floors(LARGE)], HEAVY_ROUNDS);
      table(`W1 apply, ${LARGE} migrations (with the runner at ${SMALL} again, for the growth)`, grown, [{ label: `${LARGE}: ${FLOOR}`, header: 'vs floor/file' }], {
        header: `vs runner at ${SMALL}`,
        cell: (m) => `${pairedRatio(m, find(grown, `${SMALL}: ${RUNNER}`)).toFixed(2)}x`,
      });
      console.log('');
      target({ workload: 'W1', text: `W1 built runner, ${LARGE} migrations vs ${SMALL}`, value: pairedRatio(find(grown, `${LARGE}: ${RUNNER}`), find(grown, `${SMALL}: ${RUNNER}`)), bound: BOUNDS.w1Growth, unit: 'x' });
    }
  }

  // ---- W2: read-only commands on an up-to-date database
  if (runs('W2')) {
    console.log(`\n== W2 status: read-only commands on an up-to-date database of ${SMALL} migrations (built runner) ==`);
    const where = ['--url', `file:${head}`, '--dir', small];
    const measured = measure(
      [
        { label: 'node -e 0', args: ['-e', '0'] },
        { label: 'runner built: current', args: [builtRunner, 'current', ...where], after: (o) => void (o.stdout.includes(`${SMALL - 1}_create`) || fail('current', o)) },
        { label: 'runner built: status', args: [builtRunner, 'status', ...where] },
        ...alembic('Alembic: current', alembicHeadDb, ['current'], { after: (o) => void (o.stdout.includes(alembicHead) || fail('alembic current', o)) }),
      ],
      ROUNDS * 3,
    );
    table(`W2 status, ${SMALL} migrations, all applied`, measured, [
      { label: 'node -e 0', header: 'vs node -e 0' },
      ...(alembicIni ? [{ label: 'Alembic: current', header: 'vs Alembic current' }] : []),
    ]);
    console.log('');
    target({ workload: 'W2', text: 'W2 built current vs node -e 0', value: pairedRatio(find(measured, 'runner built: current'), find(measured, 'node -e 0')), bound: BOUNDS.w2Current, unit: 'x' });
  }

  // ---- W3: down base against up from empty
  if (runs('W3')) {
    console.log(`\n== W3 down: down base from head against up from empty, ${SMALL} migrations (built runner) ==`);
    const upDb = join(runFolder('w3-up'), 'w3.db');
    const downDb = join(runFolder('w3-down'), 'w3.db');
    const downBackupDb = join(runFolder('w3-down-backup'), 'w3.db');
    const fromHead = (db: string) => () => {
      removeDb(db);
      copyFileSync(head, db);
    };
    const measured = measure([
      { label: 'runner built: up (from empty)', args: [builtRunner, 'up', '--url', `file:${upDb}`, '--dir', small], prepare: () => removeDb(upDb), after: () => expectApplied(upDb, SMALL) },
      { label: 'runner built: down base --no-backup', args: [builtRunner, 'down', 'base', '--no-backup', '--url', `file:${downDb}`, '--dir', small], prepare: fromHead(downDb), after: () => expectApplied(downDb, 0) },
      { label: 'runner built: down base (with its backup)', args: [builtRunner, 'down', 'base', '--url', `file:${downBackupDb}`, '--dir', small], prepare: fromHead(downBackupDb), after: () => expectApplied(downBackupDb, 0) },
      ...alembic('Alembic: downgrade base', join(runFolder('w3-alembic'), 'w3.db'), ['downgrade', 'base'], {
        prepare: () => {
          removeDb(join(runFolder('w3-alembic'), 'w3.db'));
          copyFileSync(alembicHeadDb, join(runFolder('w3-alembic'), 'w3.db'));
        },
        after: () => expectAlembicAt(join(runFolder('w3-alembic'), 'w3.db'), null, 0),
      }),
    ]);
    table(`W3 down, ${SMALL} migrations`, measured, [
      { label: 'runner built: up (from empty)', header: 'vs up' },
      ...(alembicIni ? [{ label: 'Alembic: downgrade base', header: 'vs Alembic down' }] : []),
    ]);
    console.log('');
    target({ workload: 'W3', text: 'W3 down base (--no-backup; up from empty takes none) vs up', value: pairedRatio(find(measured, 'runner built: down base --no-backup'), find(measured, 'runner built: up (from empty)')), bound: BOUNDS.w3Down, unit: 'x' });
  }

  // ---- W4: a drizzle-kit table rebuild of a referenced parent of many rows
  if (runs('W4')) await rebuildWorkload();

  // ---- W5: verify and check
  if (runs('W5')) {
    console.log(`\n== W5 verify/check on the ${SMALL}-migration history ==`);
    console.log(`check needs the TypeScript models and drizzle-kit, so it runs from source only (the built runner refuses it): tsx src/migrate.ts check --schema <generated models of the ${SMALL} tables>.`);
    const upDb = join(runFolder('w5-up'), 'w5.db');
    const measured = measure([
      { label: 'runner built: up (W1, from empty)', args: [builtRunner, 'up', '--url', `file:${upDb}`, '--dir', small], prepare: () => removeDb(upDb), after: () => expectApplied(upDb, SMALL) },
      {
        label: 'runner built: verify',
        args: [builtRunner, 'verify', '--dir', small],
        after: (o) => void (o.stdout.includes(`Verified ${SMALL} migrations`) || fail('verify', o)),
      },
      {
        label: 'runner from source (tsx): check',
        args: [tsxCli, tsRunner, 'check', '--dir', small, '--schema', path('schema.ts')],
        after: (o) => void (o.stdout.includes('Model-match  ok') || fail('check', o)),
      },
    ], HEAVY_ROUNDS);
    table(`W5 verify/check, ${SMALL} migrations`, measured, [{ label: 'runner built: up (W1, from empty)', header: 'vs runner up' }]);
    console.log('');
    target({ workload: 'W5', text: 'W5 verify vs the built runner\'s up (W1)', value: pairedRatio(find(measured, 'runner built: verify'), find(measured, 'runner built: up (W1, from empty)')), bound: BOUNDS.w5Verify, unit: 'x' });
  }

  // ---- summary
  console.log(`\n== Targets ==`);
  for (const t of targets) {
    const met = t.broken === undefined && t.value <= t.bound;
    const fmt = (v: number) => (t.unit === 'x' ? `${v.toFixed(2)}x` : `${(v * 1000).toFixed(0)} ms`);
    console.log(`${met ? 'MET   ' : 'MISSED'}  ${t.text}: ${fmt(t.value)} (bound ${fmt(t.bound)})${t.broken ? ` — ${t.broken}` : ''}`);
  }
  const missed = targets.filter((t) => t.broken !== undefined || t.value > t.bound).length;
  console.log(`${targets.length - missed} of ${targets.length} targets met. Total wall time ${((performance.now() - started) / 1000).toFixed(0)} s.`);
  if (failed) {
    console.error(`\nFAIL: ${failed}`);
    process.exitCode = 1;
  } else if (missed > 0 && options.strict) {
    process.exitCode = 1;
  }
} catch (error) {
  console.error(`\nFAIL: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  cleanup();
}

function fail(what: string, outcome: Outcome): never {
  throw new Error(`${what} did not report success:\n${outcome.stdout.slice(-3000)}\n${outcome.stderr.slice(-3000)}`);
}

// ------------------------------------------------------------------------------------------------- W4

interface RebuildState {
  parents: number;
  children: number;
  violations: number;
  rebuilt: boolean;
  applied: number;
}

async function rebuildWorkload(): Promise<void> {
  console.log(`\n== W4 rebuild: a drizzle-kit table rebuild of a referenced parent, ${count(REBUILD_ROWS)} parents and ${count(REBUILD_ROWS)} children ==`);
  // Before: parent with a unique index, child referencing it ON DELETE CASCADE (indexed). After: parent.name made
  // NOT NULL with a default, which drizzle-kit does by rebuilding the table.
  const parentBefore = sqliteTable('parent', { id: integer('id').primaryKey(), email: text('email').notNull(), name: text('name') }, (t) => [uniqueIndex('parent_email_unique').on(t.email)]);
  const parentAfter = sqliteTable('parent', { id: integer('id').primaryKey(), email: text('email').notNull(), name: text('name').notNull().default('') }, (t) => [uniqueIndex('parent_email_unique').on(t.email)]);
  const childOf = (parent: { id: typeof parentBefore.id }) =>
    sqliteTable('child', { id: integer('id').primaryKey(), parentId: integer('parent_id').notNull().references(() => parent.id, { onDelete: 'cascade' }), note: text('note') }, (t) => [
      index('child_parent_id_idx').on(t.parentId),
    ]);
  const before = await generateSQLiteDrizzleJson({ parent: parentBefore, child: childOf(parentBefore) });
  const after = await generateSQLiteDrizzleJson({ parent: parentAfter, child: childOf(parentAfter) }, before.id);
  const create = await generateSQLiteMigration(EMPTY, before);
  const rebuild = await generateSQLiteMigration(before, after);
  const dir = path('rebuild');
  const snapshots = [before, after];
  writeFolder(
    dir,
    [
      { tag: '0000_create_parent_child', up: create, down: ['DROP TABLE `child`;', 'DROP TABLE `parent`;'] },
      { tag: '0001_parent_name_not_null', up: rebuild, down: [] },
    ],
    (i) => snapshots[i]!,
  );
  const rebuildSql = readFileSync(join(dir, '0001_parent_name_not_null.sql'), 'utf8');
  if (!/PRAGMA foreign_keys=OFF;[\s\S]*CREATE TABLE `__new_parent`[\s\S]*INSERT INTO `__new_parent`[\s\S]*DROP TABLE `parent`[\s\S]*RENAME TO `parent`[\s\S]*PRAGMA foreign_keys=ON/.test(rebuildSql)) {
    throw new Error(`drizzle-kit did not generate a rebuild:\n${rebuildSql}`);
  }
  console.log(`drizzle-kit's migration (0001_parent_name_not_null.sql):\n${rebuildSql.split('\n').map((l) => `  | ${l}`).join('\n')}`);

  // The seed: 0000 applied and recorded as drizzle does, then the rows (name never NULL), built once.
  const seed = path('rebuild-seed.db');
  const t0 = performance.now();
  {
    const db = new Database(seed);
    const journal = JSON.parse(readFileSync(join(dir, 'meta', '_journal.json'), 'utf8')) as { entries: { when: number }[] };
    const createText = readFileSync(join(dir, '0000_create_parent_child.sql'), 'utf8');
    db.transaction(() => {
      for (const statement of create) db.exec(statement);
      db.exec('CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
      db.prepare('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)').run(createHash('sha256').update(createText).digest('hex'), journal.entries[0]!.when);
      const parent = db.prepare('INSERT INTO parent (id, email, name) VALUES (?, ?, ?)');
      for (let i = 1; i <= REBUILD_ROWS; i++) parent.run(i, `user${i}@example.com`, `name ${i}`);
      const child = db.prepare('INSERT INTO child (id, parent_id, note) VALUES (?, ?, ?)');
      for (let i = 1; i <= REBUILD_ROWS; i++) child.run(i, ((i * 7919) % REBUILD_ROWS) + 1, `note ${i}`);
    })();
    db.close();
  }
  // The app opens its database in WAL mode (src/db.ts), which the file keeps: the seed every target is measured on.
  // A copy in rollback-journal mode stands for a file the app never opened (one from the old Python stack, say).
  const seedWal = path('rebuild-seed-wal.db');
  copyFileSync(seed, seedWal);
  {
    const db = new Database(seedWal);
    db.pragma('journal_mode = WAL');
    db.close();
  }
  const seedBytes = statSync(seed).size;
  console.log(
    `Seed built once in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(seedBytes / 2 ** 20).toFixed(0)} MiB, in WAL mode (as the app leaves its database) ` +
      'and in rollback-journal mode, copied before every run (untimed).',
  );

  const inspect = (file: string): RebuildState => {
    const db = openReadOnly(file);
    // Memory-mapped reads: foreign_key_check looks parents up in child rowid order (random pages), 3x faster mapped.
    db.pragma('mmap_size = 1073741824');
    try {
      const n = (q: string) => (db.prepare(q).get() as { n: number }).n;
      let violations = 0;
      for (const _ of db.prepare('PRAGMA foreign_key_check').iterate()) if (++violations >= 1000) break;
      return {
        parents: n('SELECT count(*) AS n FROM parent'),
        children: n('SELECT count(*) AS n FROM child'),
        violations,
        rebuilt: n(`SELECT "notnull" AS n FROM pragma_table_info('parent') WHERE name = 'name'`) === 1,
        applied: n('SELECT count(*) AS n FROM "__drizzle_migrations"'),
      };
    } finally {
      db.close();
    }
  };
  const runnerLosses: string[] = [];
  /** Checks a migrator's result: both tables whole, no dangling child, migration applied and recorded. */
  const checked = (file: string, isRunner: boolean) => (): string | void => {
    const state = inspect(file);
    const problems: string[] = [];
    if (state.parents !== REBUILD_ROWS) problems.push(`LOST ${count(REBUILD_ROWS - state.parents)} parent rows`);
    if (state.children !== REBUILD_ROWS) problems.push(`LOST ${count(REBUILD_ROWS - state.children)} child rows`);
    if (state.violations > 0) problems.push(`foreign_key_check: ${state.violations >= 1000 ? '1000+' : state.violations} violations`);
    if (!state.rebuilt) problems.push('parent.name still nullable: migration not applied');
    if (state.applied !== 2) problems.push(`${state.applied} bookkeeping rows (expected 2)`);
    removeDb(file);
    if (problems.length === 0) return 'all rows kept, foreign_key_check empty';
    if (isRunner) runnerLosses.push(problems.join(', '));
    return problems.join(', ');
  };
  const fromSeed = (file: string, from = seedWal) => () => {
    removeDb(file);
    copyFileSync(from, file);
  };
  const backupMs: Record<string, number[]> = { 'vacuum-into': [], 'backup-api': [] };
  const backupAlone = (method: 'vacuum-into' | 'backup-api', label: string): Contender => {
    const db = join(runFolder(`w4-${method}`), 'w4.db');
    const target = join(runFolder(`w4-${method}`), 'copy.db');
    return {
      label,
      args: [join(contendersDir, 'sqlite-backup.mjs'), db, target, method],
      prepare: () => {
        fromSeed(db)();
        rmSync(target, { force: true });
      },
      after: (o) => {
        backupMs[method]!.push((JSON.parse(o.stdout) as { ms: number }).ms / 1000);
        rmSync(target, { force: true });
        removeDb(db);
      },
    };
  };
  const db = (name: string) => join(runFolder(`w4-${name}`), 'w4.db');
  const files = {
    built: db('built'),
    builtBackup: db('built-backup'),
    floor: db('floor'),
    floorCheck: db('floor-check'),
    orm: db('orm'),
    libsql: db('libsql'),
    rollbackFloor: db('rollback-floor'),
    rollbackBuilt: db('rollback-built'),
  };
  const ROLLBACK_FLOOR = 'rollback-journal file: floor';
  const contenders: Contender[] = [
    { label: 'floor: better-sqlite3 exec, foreign keys off outside the transaction', args: [join(contendersDir, 'floor.mjs'), files.floor, dir, 'per-file', '--fk-off'], prepare: fromSeed(files.floor), after: checked(files.floor, false) },
    { label: 'floor + PRAGMA foreign_key_check before commit', args: [join(contendersDir, 'floor.mjs'), files.floorCheck, dir, 'per-file', '--fk-off', '--fk-check'], prepare: fromSeed(files.floorCheck), after: checked(files.floorCheck, false) },
    { label: 'runner built: up --no-backup', args: [builtRunner, 'up', '--no-backup', '--url', `file:${files.built}`, '--dir', dir], prepare: fromSeed(files.built), after: checked(files.built, true) },
    { label: 'runner built: up (with its backup)', args: [builtRunner, 'up', '--url', `file:${files.builtBackup}`, '--dir', dir], prepare: fromSeed(files.builtBackup), after: checked(files.builtBackup, true) },
    { label: 'drizzle-orm better-sqlite3 migrator', args: [join(contendersDir, 'drizzle-better-sqlite3.mjs'), files.orm, dir], prepare: fromSeed(files.orm), after: checked(files.orm, false), skipWarmup: true },
    { label: 'drizzle-orm libSQL migrator', args: [join(contendersDir, 'drizzle-libsql.mjs'), files.libsql, dir], prepare: fromSeed(files.libsql), after: checked(files.libsql, false) },
    { label: ROLLBACK_FLOOR, args: [join(contendersDir, 'floor.mjs'), files.rollbackFloor, dir, 'per-file', '--fk-off'], prepare: fromSeed(files.rollbackFloor, seed), after: checked(files.rollbackFloor, false) },
    {
      label: 'rollback-journal file: runner built --no-backup (switches it to WAL)',
      args: [builtRunner, 'up', '--no-backup', '--url', `file:${files.rollbackBuilt}`, '--dir', dir],
      prepare: fromSeed(files.rollbackBuilt, seed),
      after: checked(files.rollbackBuilt, true),
    },
    backupAlone('vacuum-into', 'SQLite backup alone: VACUUM INTO (node script)'),
    backupAlone('backup-api', 'SQLite backup alone: online backup API (node script)'),
  ];
  const measured = measure(contenders, HEAVY_ROUNDS);
  const floorLabel = contenders[0]!.label;
  table(`W4 rebuild, ${count(REBUILD_ROWS)} + ${count(REBUILD_ROWS)} rows (WAL mode unless the label says otherwise)`, measured, [
    { label: floorLabel, header: 'vs floor' },
    { label: ROLLBACK_FLOOR, header: 'vs rollback floor' },
  ]);
  const inProcess = (method: string) => median(backupMs[method]!);
  console.log(
    `SQLite backup alone, time of the copy itself inside the script (no process start-up): VACUUM INTO median ${(inProcess('vacuum-into') * 1000).toFixed(0)} ms, ` +
      `online backup API median ${(inProcess('backup-api') * 1000).toFixed(0)} ms`,
  );
  const withBackup = find(measured, 'runner built: up (with its backup)');
  const noBackup = find(measured, 'runner built: up --no-backup');
  const extra = pairedDifference(withBackup, noBackup);
  // What the runner itself says its backup took ("Backed up to … (41.0 MB, N ms)"): the same in-process time as the scripts'.
  const ownBackupMs = withBackup.outcomes.map((o) => {
    const m = /Backed up to .* \(.*?([\d.]+) (ms|s)\)$/m.exec(o.stdout);
    if (!m) throw new Error(`the runner printed no backup line:\n${o.stdout}`);
    return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
  });
  console.log(`Runner's backup cost (with-backup minus --no-backup, median of per-round differences): ${(extra * 1000).toFixed(0)} ms`);
  console.log(`Runner's backup step as it reports it (median): ${median(ownBackupMs).toFixed(0)} ms (the difference above also counts what happens outside that step)`);
  console.log('');
  const lost = runnerLosses.length > 0 ? `the runner lost rows or left violations: ${[...new Set(runnerLosses)].join('; ')}` : undefined;
  target({ workload: 'W4', text: 'W4 built runner --no-backup vs floor, every row kept, foreign_key_check empty', value: pairedRatio(noBackup, find(measured, floorLabel)), bound: BOUNDS.w4Floor, unit: 'x', broken: lost });
  // The runner backs up with the online backup API: the same method alone is the bound.
  target({ workload: 'W4', text: "W4 runner's backup cost vs SQLite's online backup API on the same file alone (in-script time)", value: extra, bound: inProcess('backup-api'), unit: 's' });
  if (lost) {
    failed = `W4: ${lost}`;
    console.error(`\nFAIL: ${failed}`);
  }
}
