import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';

/** The repository this test suite belongs to. */
export const ROOT = resolve(import.meta.dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TempProject {
  dir: string;
  /** Runs `tsx src/migrate.ts <args>` in the project folder, as a user would. */
  migrate(args: string[], env?: Record<string, string | undefined>): Promise<RunResult>;
  /** Runs any command in the project folder. */
  run(command: string, args: string[], env?: Record<string, string | undefined>): Promise<RunResult>;
  /** Opens a SQLite file of the project (relative to its folder) with better-sqlite3. */
  open(file?: string): Database.Database;
  path(...parts: string[]): string;
  cleanup(): void;
}

/**
 * Runs a command to its end and collects its output. The child gets this process's environment without
 * DATABASE_URL and DEBUG (a test names its database itself), then `env`; a variable set to undefined is removed.
 */
export function runProcess(command: string, args: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return new Promise<RunResult>((resolvePromise, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: undefined, DEBUG: undefined, ...env };
    for (const key of Object.keys(childEnv)) if (childEnv[key] === undefined) delete childEnv[key];
    const child = spawn(command, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/**
 * A copy of this project in a temporary folder (code, config, and by default its migrations),
 * sharing node_modules, so each test has its own database files and migrations folder.
 */
export function makeProject(options: { withMigrations?: boolean; fixture?: string } = {}): TempProject {
  const dir = mkdtempSync(join(tmpdir(), 'migrate-test-'));
  for (const entry of ['package.json', 'tsconfig.json', 'drizzle.config.ts', 'src']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  if (options.fixture) cpSync(join(ROOT, 'test', 'fixtures', options.fixture), join(dir, 'drizzle'), { recursive: true });
  else if (options.withMigrations !== false) cpSync(join(ROOT, 'drizzle'), join(dir, 'drizzle'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));

  const run = (command: string, args: string[], env: Record<string, string | undefined> = {}) => runProcess(command, args, dir, env);

  return {
    dir,
    run,
    migrate: (args, env) => run(TSX, ['src/migrate.ts', ...args], env),
    open: (file = 'data/bot.db') => new Database(join(dir, file)),
    path: (...parts) => join(dir, ...parts),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Table names of a database, without SQLite's own. */
export function tableNames(db: Database.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}

/** The rows of drizzle's bookkeeping table, oldest first. */
export function appliedRows(db: Database.Database): { hash: string; created_at: number }[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE name = '__drizzle_migrations'").get();
  return exists ? (db.prepare('SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at').all() as { hash: string; created_at: number }[]) : [];
}

/** Full text of the schema, for "nothing changed" assertions. */
export function schemaDump(db: Database.Database): string {
  return (db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").all() as object[]).map((r) => JSON.stringify(r)).join('\n');
}
