import { existsSync } from 'node:fs';
import { MIGRATIONS_FOLDER, SCHEMA_PATH, databaseUrlFromEnv } from './config.js';
import { openBetterSqlite } from './db/better-sqlite3.js';
import type { Driver } from './db/driver.js';
import { openDatabase } from './db/open.js';
import { parseDatabaseUrl } from './db/url.js';
import { readAppliedRows } from './engine/bookkeeping.js';
import { checkHistory, readHistory, type HistoryProblem } from './engine/checks/history.js';
import { compareModelsWithMigrations, compareModelsWithSnapshot, modelSnapshot, type ModelDifference } from './engine/checks/models.js';
import { runStairway, type StairwayFailure } from './engine/checks/stairway.js';
import { introspect } from './engine/diff/introspect.js';
import { withScratchDatabase } from './engine/diff/scratch.js';
import { emptySnapshot, readSnapshot } from './engine/diff/snapshot.js';
import { MigrateError } from './engine/errors.js';
import { ForeignKeyGuard } from './engine/foreign-keys.js';
import { applyFile } from './engine/procedure.js';
import { loadMigrations, snapshotFilePath, type Migration } from './engine/journal.js';
import { analyzeMigration, findRebuilds, liveCounter, parseMigrationStatements, type LintFinding } from './engine/lint/index.js';
import { renderPlanSql } from './engine/offline.js';
import { computeState, parseDownTarget, parseUpTarget, planDown, planUp, type HistoryState, type SafetyOptions } from './engine/plan.js';
import { BASE, resolveRevision, revisionLabel } from './engine/revisions.js';

/** Where the checks work: the database (lint and --sql only), the migrations folder, the models. */
export interface CheckOptions {
  url?: string;
  migrationsFolder?: string;
  /** The TypeScript models drizzle-kit reads (drizzle.config.ts `schema`). */
  schemaPath?: string;
}

const folderOf = (options: CheckOptions) => options.migrationsFolder ?? MIGRATIONS_FOLDER;

/**
 * Opens the database only to read it. An existing file is opened read-only; a missing one is not created
 * (it reads as an empty database), so these commands never change anything.
 */
async function withReadOnlyDatabase<T>(url: string, fn: (db: Driver) => Promise<T>): Promise<T> {
  const location = parseDatabaseUrl(url);
  const db =
    location.kind === 'file' && existsSync(location.path)
      ? openBetterSqlite({ ...location, readonly: true, fileMustExist: true })
      : await openDatabase(url, { readOnly: true });
  try {
    return await fn(db);
  } catch (error) {
    if (error instanceof MigrateError) throw error;
    throw new MigrateError('DATABASE', `database error: ${(error as Error).message}`, { cause: error });
  } finally {
    await db.close();
  }
}

async function loadState(folder: string, db: Driver): Promise<HistoryState> {
  return computeState(loadMigrations(folder), await readAppliedRows(db));
}

// ---------------------------------------------------------------------------------------------- check

export interface CheckFinding {
  /** history: the folder's consistency; models: model changes no migration holds; model-match: migrations' SQL vs models. */
  check: 'history' | 'models' | 'model-match';
  kind: HistoryProblem | ModelDifference['kind'] | 'mismatch' | 'migration-fails' | 'models-sql-fails';
  message: string;
  /** How to fix it. */
  fix: string;
  /** For `ungenerated`: the SQL drizzle-kit would generate. */
  statements?: string[];
}

export interface CheckResult {
  ok: boolean;
  migrations: number;
  /**
   * What model-match compared the migrations' schema with: the models, or the last snapshot when the models have
   * ungenerated changes; null when it could not run (the history lacks or repeats migrations).
   */
  comparedWith: 'models' | 'last snapshot' | null;
  findings: CheckFinding[];
}

/**
 * `check` (Alembic's `alembic check`, plus pytest-alembic's single-head and model-match tests):
 * 1. history: the journal, files and snapshot chain form one straight line;
 * 2. models: the TypeScript models hold no change that no migration holds (drizzle-kit's diff of the last
 *    snapshot against drizzle-kit's JSON for the models);
 * 3. model-match: every migration applied to an empty database gives exactly the schema drizzle-kit's SQL for
 *    the models gives (a hand-edited migration, or a change the generator missed). When step 2 found changes
 *    still to generate, the migrations are compared with the last snapshot instead, so one change is not
 *    reported twice.
 * Never touches a database.
 */
export async function check(options: CheckOptions = {}): Promise<CheckResult> {
  const folder = folderOf(options);
  const history = readHistory(folder);
  const findings: CheckFinding[] = checkHistory(history).map((f) => ({ check: 'history', ...f }));
  const models = await modelSnapshot(options.schemaPath ?? SCHEMA_PATH);

  const lastEntry = history.entries.at(-1);
  const lastSnapshotPath = lastEntry ? snapshotFilePath(folder, lastEntry.idx) : null;
  const last = lastSnapshotPath === null ? emptySnapshot() : existsSync(lastSnapshotPath) ? readSnapshot(lastSnapshotPath) : null;
  let ungenerated = false;
  if (last) {
    for (const difference of await compareModelsWithSnapshot(last, models)) {
      ungenerated = true;
      findings.push({
        check: 'models',
        kind: difference.kind,
        message: difference.message,
        fix:
          difference.kind === 'possible-rename'
            ? 'generate a migration (npm run db:generate -- --name <name>) in a terminal, where drizzle-kit asks whether each is a rename, or answer up front with --rename-table <old>=<new> / --rename-column <table>.<old>=<new>'
            : difference.kind === 'ungenerated'
              ? 'generate a migration for it: npm run db:generate -- --name <name>'
              : 'write a migration by hand (npm run db -- new <name>) and check it with verify',
        ...(difference.statements.length > 0 ? { statements: difference.statements } : {}),
      });
    }
  }

  const runnable = !findings.some((f) => f.kind === 'missing-sql' || f.kind === 'duplicate-idx' || f.kind === 'duplicate-tag');
  const comparedWith = !runnable ? null : ungenerated && last ? 'last snapshot' : 'models';
  if (comparedWith) {
    const migrations = history.entries.length > 0 ? loadMigrations(folder) : [];
    try {
      const reference = comparedWith === 'models' ? models : last!;
      for (const difference of await compareModelsWithMigrations(migrations, reference, undefined, `the ${comparedWith}`)) {
        findings.push({
          check: 'model-match',
          kind: 'mismatch',
          message: difference,
          fix: 'a migration was edited by hand or the generator missed a change: make the SQL give the schema of the models (in a new migration if the edited one is applied anywhere)',
        });
      }
    } catch (error) {
      const modelsFail = error instanceof MigrateError && error.code === 'MODELS_SQL_FAILS';
      findings.push(
        modelsFail
          ? { check: 'model-match', kind: 'models-sql-fails', message: error.message, fix: 'a drizzle-kit defect in its SQL for the models: compare by hand, and report it upstream' }
          : {
              check: 'model-match',
              kind: 'migration-fails',
              message: `the migrations do not run on an empty database: ${(error as Error).message}`,
              fix: 'fix the failing statement (try it with up on a copy of the database)',
            },
      );
    }
  }
  return { ok: findings.length === 0, migrations: history.entries.length, comparedWith, findings };
}

// --------------------------------------------------------------------------------------------- verify

export interface VerifyResult {
  ok: boolean;
  migrations: number;
  passed: string[];
  failure: StairwayFailure | null;
  warnings: string[];
}

/**
 * `verify`: the stairway test on an in-memory scratch database built from the migrations (never the live one):
 * for each migration, rows generated into every table, then up, down (schema and rows must be back), up again.
 */
export async function verify(options: CheckOptions = {}): Promise<VerifyResult> {
  const migrations = loadMigrations(folderOf(options));
  const result = await runStairway(migrations);
  return { ok: result.failure === null, migrations: migrations.length, ...result };
}

// ----------------------------------------------------------------------------------------------- lint

export interface LintResult {
  ok: boolean;
  strict: boolean;
  /** The migrations read, in order. */
  migrations: string[];
  findings: LintFinding[];
  /** Things that limited the analysis. */
  notes: string[];
}

/**
 * The migrations `lint` reads: `pending` (default: not applied to the database), `all`, one revision, or an
 * inclusive range `from:to` of revisions (either side may be left out: `0003:` is 0003 to head).
 */
export function selectMigrations(state: HistoryState, target = 'pending'): Migration[] {
  const wanted = target.trim();
  if (wanted === 'pending') return state.entries.filter((e) => !e.applied).map((e) => e.migration);
  if (wanted === 'all') return [...state.migrations];
  const position = (name: string, fallback: number) => {
    if (name === '') return fallback;
    const at = resolveRevision(name, state.migrations);
    if (at === BASE) throw new MigrateError('INVALID_TARGET', `'base' is the empty database, not a migration: name a revision, a range from:to, pending or all`);
    return at;
  };
  const parts = wanted.split(':');
  if (parts.length > 2) throw new MigrateError('BAD_TARGET', `bad range '${wanted}': use from:to, e.g. 0002:head`);
  const from = position(parts[0]!, 0);
  const to = parts.length === 2 ? position(parts[1]!, state.migrations.length - 1) : from;
  if (to < from) throw new MigrateError('BAD_TARGET', `bad range '${wanted}': ${revisionLabel(from, state.migrations)} comes after ${revisionLabel(to, state.migrations)}`);
  return state.migrations.slice(from, to + 1);
}

/**
 * `lint [target]`: reads the chosen migrations' up files statement by statement, each against the schema its
 * predecessors give on a scratch database, and reports destructive, backward-incompatible and data-dependent
 * changes. For the next migration to run on the live database, the data-dependent checks count the rows that
 * would make it fail there. Opens the database read-only.
 */
export async function lint(options: CheckOptions & { target?: string; strict?: boolean } = {}): Promise<LintResult> {
  const folder = folderOf(options);
  return withReadOnlyDatabase(options.url ?? databaseUrlFromEnv(), async (db) => {
    const state = await loadState(folder, db);
    const chosen = selectMigrations(state, options.target);
    const findings: LintFinding[] = [];
    const notes: string[] = [];
    const live = liveCounter(db);
    const last = chosen.at(-1)?.position ?? BASE;
    await withScratchDatabase(async (scratch) => {
      let broken: string | null = null;
      let guard: ForeignKeyGuard | undefined;
      for (const migration of state.migrations.slice(0, last + 1)) {
        if (chosen.includes(migration)) {
          if (broken) notes.push(`${migration.tag} was read against an incomplete schema: ${broken}`);
          const statements = parseMigrationStatements(migration.up.statements);
          // The live database is the schema this migration runs on only when every migration before it is
          // applied and it is not (an earlier pending one may, e.g., fill the NULLs this one relies on).
          const next = !state.entries[migration.position]!.applied && state.entries.slice(0, migration.position).every((e) => e.applied);
          findings.push(
            ...(await analyzeMigration({
              tag: migration.tag,
              file: migration.up.path,
              statements,
              before: await introspect(scratch),
              rebuilds: await findRebuilds(statements),
              live: next ? live : null,
            })),
          );
        }
        if (broken) continue;
        try {
          guard ??= await ForeignKeyGuard.of(scratch);
          await applyFile(scratch, migration.up, guard);
        } catch (error) {
          broken = `${migration.tag} fails on an empty database (${(error as Error).message})`;
        }
      }
    });
    const failing = findings.some((f) => f.severity === 'error') || (options.strict === true && findings.length > 0);
    return { ok: !failing, strict: options.strict === true, migrations: chosen.map((m) => m.tag), findings, notes };
  });
}

// ----------------------------------------------------------------------------------------- offline SQL

export interface OfflineSqlResult {
  direction: 'up' | 'down';
  from: string;
  to: string;
  migrations: string[];
  sql: string;
}

/** `up --sql` / `down --sql`: the SQL the command would run, planned exactly as it would be; nothing is changed. */
export async function offlineSql(
  options: CheckOptions & SafetyOptions & { direction: 'up' | 'down'; target?: string },
): Promise<OfflineSqlResult> {
  const folder = folderOf(options);
  const target = options.direction === 'up' ? parseUpTarget(options.target) : parseDownTarget(options.target);
  return withReadOnlyDatabase(options.url ?? databaseUrlFromEnv(), async (db) => {
    const state = await loadState(folder, db);
    const plan = options.direction === 'up' ? planUp(state, target, options) : planDown(state, target, options);
    return {
      direction: options.direction,
      from: revisionLabel(plan.from, state.migrations),
      to: revisionLabel(plan.to, state.migrations),
      migrations: plan.steps.map((m) => m.tag),
      sql: renderPlanSql(plan, state),
    };
  });
}
