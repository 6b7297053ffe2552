import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SCHEMA_PATH } from './config.js';
import { repairAndTryMigration, repairDownFiles, type GeneratedMigrationCheck } from './engine/checks/generated.js';
import { columnOrdersAround, computeDownMigration, drizzleKitDiff, renderDownFile, type SnapshotDiff } from './engine/diff/down.js';
import { describeAmbiguities, parseRenameFlags, SPLIT_ADVICE } from './engine/diff/renames.js';
import { checkDownRestores } from './engine/diff/scratch.js';
import { assertSnapshotsCurrent, emptySnapshot, readSnapshot } from './engine/diff/snapshot.js';
import { MigrateError } from './engine/errors.js';
import { loadMigrations, readJournal, type Migration } from './engine/journal.js';
import { findRenameCandidates, modelsDifferFromLastSnapshot, writeMigrationFromModels } from './engine/rename-migration.js';
import { BASE, resolveRevision } from './engine/revisions.js';
import { context, type RunnerOptions } from './runner.js';

// Making migrations: generate (drizzle-kit, then down file, repairs and the trial on data) and write-down. Apart from
// runner.ts because only a source checkout makes migrations: the commands that apply them never load this, nor
// drizzle-kit.

export interface WrittenDownFile {
  tag: string;
  path: string;
  /** No SQL could be derived (a hand-written migration): the file is a template to fill in. */
  template: boolean;
  dataLoss: string[];
  /** What write-down's repairs changed in the file (drizzle-kit's SQLite defects), one reason each. */
  repairs: string[];
  /** Differences between the schema before the up and after the down, checked on a scratch database. */
  problems: string[];
}

/**
 * Writes the down file of each migration that lacks one (or of the named ones, with `overwrite`),
 * from drizzle-kit's diff of its snapshot back to the previous one, then checks on a scratch
 * database that it restores the previous schema.
 */
export async function writeDownFiles(
  options: RunnerOptions & { revisions?: string[]; overwrite?: boolean; diff?: SnapshotDiff; skipCheck?: boolean },
): Promise<WrittenDownFile[]> {
  const ctx = context(options);
  let migrations = loadMigrations(ctx.folder);
  const chosen = options.revisions?.length
    ? options.revisions.map((name) => {
        const position = resolveRevision(name, migrations);
        if (position === BASE) throw new MigrateError('INVALID_TARGET', `'base' has no down file`);
        return migrations[position]!;
      })
    : migrations.filter((m) => m.down === null);
  const written: { migration: Migration; template: boolean; dataLoss: string[] }[] = [];
  for (const migration of chosen) {
    if (migration.down !== null && !options.overwrite) {
      throw new MigrateError('EXISTS', `${migration.downPath} already exists (pass --overwrite to write it again)`);
    }
    const before = migration.position === 0 ? emptySnapshot() : readSnapshot(migrations[migration.position - 1]!.snapshotPath);
    const after = readSnapshot(migration.snapshotPath);
    const down = await computeDownMigration(before, after, options.diff ?? drizzleKitDiff, columnOrdersAround(migrations, migration.position));
    const source =
      down.statements.length > 0
        ? `Generated from drizzle-kit's diff of ${migration.snapshotPath.split('/').slice(-1)[0]} back to the previous snapshot; review it like the up file.`
        : 'The snapshot did not change (a hand-written migration): this file must be written by hand.';
    writeFileSync(migration.downPath, renderDownFile(migration.tag, down, source));
    written.push({ migration, template: down.statements.length === 0, dataLoss: down.dataLoss });
  }
  migrations = loadMigrations(ctx.folder);
  // generate repairs its new files itself, the up first (a repaired up can change the schema the down starts from).
  const repairs = options.skipCheck
    ? []
    : await repairDownFiles(migrations, written.filter((w) => !w.template).map((w) => w.migration.position), options.diff ?? drizzleKitDiff);
  if (repairs.length > 0) migrations = loadMigrations(ctx.folder);
  const results: WrittenDownFile[] = [];
  for (const { migration, template, dataLoss } of written) {
    const problems = template || options.skipCheck ? [] : await checkDownRestores(migrations, migration.position).catch((error: Error) => [error.message]);
    const reasons = repairs.filter((r) => r.file === migration.downPath).map((r) => r.reason);
    results.push({ tag: migration.tag, path: migration.downPath, template, dataLoss, repairs: reasons, problems });
  }
  return results;
}

function journalLength(folder: string): number {
  return existsSync(join(folder, 'meta', '_journal.json')) ? readJournal(folder).entries.length : 0;
}

function drizzleKitBin(): string {
  const entry = createRequire(import.meta.url).resolve('drizzle-kit');
  return join(dirname(entry), 'bin.cjs');
}

export interface GenerateResult {
  /** What drizzle-kit wrote, with its down file. */
  downFiles: WrittenDownFile[];
  /** The repairs made in the new files and what the trial on generated rows found (none for a custom migration). */
  checks: GeneratedMigrationCheck[];
  /** Set when drizzle-kit wrote nothing though the models differ from the last snapshot, and the migration was generated here. */
  generatedHere?: string;
}

/** `generate`'s options: drizzle-kit's, plus answers to its rename questions. */
export interface GenerateOptions extends RunnerOptions {
  name?: string;
  custom?: boolean;
  config?: string;
  /** `--rename-table old=new`, repeatable. */
  renameTables?: string[];
  /** `--rename-column table.old=new`, repeatable. */
  renameColumns?: string[];
  /** The models (default: drizzle.config.ts's schema); read here only when renames are given or a rename question failed. */
  schemaPath?: string;
}

/**
 * `generate`: runs `drizzle-kit generate` (its prompts, if any, go to this terminal), then writes and
 * checks the down file of every migration it added. `custom` makes an empty migration to write by hand.
 * With rename flags, the migration is generated through drizzle-kit's API instead (its CLI can only ask
 * in a terminal), with the renames answered up front.
 */
export async function generate(options: GenerateOptions): Promise<GenerateResult> {
  const ctx = context(options);
  const schemaPath = options.schemaPath ?? SCHEMA_PATH;
  const renames = parseRenameFlags({ tables: options.renameTables, columns: options.renameColumns });
  assertSnapshotsCurrent(ctx.folder);
  if (renames.tables.length > 0 || renames.columns.length > 0) {
    if (options.custom) throw new MigrateError('BAD_RENAME', 'rename flags generate a migration from the models; a custom migration is written by hand (leave out --custom)');
    const tag = await writeMigrationFromModels({ folder: ctx.folder, schemaPath, name: options.name ?? 'rename', renames });
    return checkGenerated(options, [tag]);
  }
  const before = journalLength(ctx.folder);
  const args = [drizzleKitBin(), 'generate'];
  if (options.config) args.push('--config', options.config);
  if (options.name) args.push('--name', options.name);
  if (options.custom) args.push('--custom');
  // stdin and stdout stay the terminal's (drizzle-kit asks about renames there); stderr is read because
  // drizzle-kit exits 0 even when it fails, e.g. when a rename question finds no terminal to ask in.
  const child = spawnSync(process.execPath, args, { stdio: ['inherit', 'inherit', 'pipe'], encoding: 'utf8' });
  if (child.stderr) process.stderr.write(child.stderr);
  const failure = child.stderr?.split('\n').find((line) => /error/i.test(line));
  if (child.status !== 0 || (failure && journalLength(ctx.folder) === before)) {
    const advice = failure?.includes('TTY') ? `: ${await renameAdvice(ctx.folder, schemaPath)}` : '';
    throw new MigrateError('GENERATE_FAILED', `drizzle-kit generate failed (${failure?.trim() ?? `exit ${child.status ?? child.signal}`}); no migration was added${advice}`);
  }
  const after = existsSync(join(ctx.folder, 'meta', '_journal.json')) ? readJournal(ctx.folder).entries : [];
  const added = after.slice(before).map((e) => e.tag);
  if (options.custom) return { downFiles: await writeDownFiles({ ...options, revisions: added, overwrite: false }), checks: [] };
  if (added.length > 0) return checkGenerated(options, added);
  // drizzle-kit 0.31 says "No schema changes" for some changes it cannot ALTER (a new STORED generated column):
  // when the models still differ from the last snapshot, the migration is generated here and repaired below.
  const missed = await modelsDifferFromLastSnapshot(ctx.folder, schemaPath);
  if (!missed) return { downFiles: [], checks: [] };
  const tag = await writeMigrationFromModels({ folder: ctx.folder, schemaPath, name: options.name ?? 'migration', renames: { tables: [], columns: [] } });
  return { ...(await checkGenerated(options, [tag])), generatedHere: missed };
}

/** Writes the down files of new migrations, then repairs and tries each (the trial checks the down file too). */
async function checkGenerated(options: GenerateOptions, tags: string[]): Promise<GenerateResult> {
  const downFiles = await writeDownFiles({ ...options, revisions: tags, overwrite: false, skipCheck: true });
  const folder = context(options).folder;
  const checks: GeneratedMigrationCheck[] = [];
  for (const tag of tags) checks.push(await repairAndTryMigration(folder, tag));
  return { downFiles, checks };
}

/** What to do when drizzle-kit had a rename question and no terminal: the flags that answer it, with the real names when they can be found. */
async function renameAdvice(folder: string, schemaPath: string): Promise<string> {
  const general = 'drizzle-kit asks in a terminal whether a dropped and an added table or column are a rename';
  const candidates = await findRenameCandidates(folder, schemaPath).catch(() => []);
  if (candidates.length > 0) return `${general}: ${describeAmbiguities(candidates)}; if it is not a rename, ${SPLIT_ADVICE}`;
  return `${general}; answer it up front with --rename-table <old>=<new> or --rename-column <table>.<old>=<new>, run it in a terminal, or ${SPLIT_ADVICE}`;
}
