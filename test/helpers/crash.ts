import { spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ROOT, type TempProject } from './project.js';
import { writeMigrations } from './migrations.js';
import * as runner from '../../src/runner.js';

/** Rows in the parent and in its ON DELETE CASCADE child: enough for the rebuild to take a while. */
export const CRASH_ROWS = 200_000;

/**
 * A parent table rebuilt the way drizzle-kit rebuilds (new table, copy, drop, rename), with a child
 * that cascades on delete: a run killed anywhere must leave either the old or the new schema, every
 * child row, and a bookkeeping row that says which.
 */
export function writeCrashProject(project: TempProject): string {
  writeMigrations(project.path('drizzle'), [
    {
      name: 'tables',
      up: [
        'CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)',
        'CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, note TEXT)',
        'CREATE INDEX child_parent_idx ON child (parent_id)',
      ],
      down: ['DROP TABLE child', 'DROP TABLE parent'],
    },
    {
      name: 'rebuild_parent',
      up: [
        'PRAGMA foreign_keys=OFF',
        'CREATE TABLE __new_parent (id INTEGER PRIMARY KEY, name TEXT, score INTEGER DEFAULT 0 NOT NULL)',
        'INSERT INTO __new_parent (id, name, score) SELECT id, name, coalesce(score, 0) FROM parent',
        'DROP TABLE parent',
        'ALTER TABLE __new_parent RENAME TO parent',
        'PRAGMA foreign_keys=ON',
        'CREATE INDEX parent_name_idx ON parent (name)',
      ],
      down: [
        'DROP INDEX parent_name_idx',
        'PRAGMA foreign_keys=OFF',
        'CREATE TABLE __new_parent (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)',
        'INSERT INTO __new_parent (id, name, score) SELECT id, name, score FROM parent',
        'DROP TABLE parent',
        'ALTER TABLE __new_parent RENAME TO parent',
        'PRAGMA foreign_keys=ON',
      ],
    },
  ]);
  return project.path('drizzle');
}

/** Builds the seed database once: migrated to 0000 and filled. */
export async function buildSeed(project: TempProject, file: string): Promise<void> {
  await runner.upgrade({ url: `file:${project.path(file)}`, migrationsFolder: project.path('drizzle'), target: '0000', backup: false });
  const db = new Database(project.path(file));
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${CRASH_ROWS})
           INSERT INTO parent (id, name, score) SELECT i, 'name ' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE i END FROM n;
           INSERT INTO child (parent_id, note) SELECT id, 'note' FROM parent;`);
  db.close();
}

export interface KillOutcome {
  /** Whether the runner was killed before it finished (false: it finished first). */
  killed: boolean;
  delayMs: number;
}

/** Starts `migrate <args>` on a database file and SIGKILLs it after `delayMs`. */
export function runAndKill(project: TempProject, file: string, args: string[], delayMs: number): Promise<KillOutcome> {
  return new Promise((resolve, reject) => {
    // node itself with tsx's loader, not the tsx CLI: the CLI runs the script in a child process that a SIGKILL of
    // the CLI leaves running, which would then write to the database while it is inspected.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/migrate.ts', ...args, '--url', `file:./${file}`], {
      cwd: project.dir,
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', delayMs });
    });
  });
}

/** Times one whole uninterrupted run, to spread the kill points over it. */
export async function timeRun(project: TempProject, seed: string, scratch: string, args: string[]): Promise<number> {
  copyFileSync(project.path(seed), project.path(scratch));
  const started = performance.now();
  const outcome = await runAndKill(project, scratch, args, 600_000);
  if (outcome.killed) throw new Error('the timing run did not finish');
  return performance.now() - started;
}

export interface AfterCrash {
  integrity: string;
  revision: string;
  drift: string[];
  children: number;
}

/** What a killed run left: integrity, the recorded revision, drift against that revision, child rows. */
export async function inspectAfterCrash(project: TempProject, file: string): Promise<AfterCrash> {
  const db = new Database(project.path(file));
  const [{ integrity_check: integrity } = { integrity_check: 'no answer' }] = db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[];
  const children = (db.prepare('SELECT count(*) AS n FROM child').get() as { n: number }).n;
  db.close();
  const where = { url: `file:${project.path(file)}`, migrationsFolder: project.path('drizzle') };
  const status = await runner.status(where);
  return { integrity, revision: status.current, drift: status.problems.filter((p) => p.kind === 'drift').map((p) => p.message), children };
}

export { copyFileSync };
