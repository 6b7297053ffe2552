import { Command, CommanderError, Option } from 'commander';
import { MigrateError } from '../engine/errors.js';
import { parseBudget, type BackupBudget } from '../engine/sizes.js';
import type { RunnerEvent } from '../runner.js';
import * as runner from '../runner.js';
import type { WrittenDownFile } from '../generate.js';
import * as render from './render.js';
import { printOfflineSql, registerSchemaCommands } from './schema-commands.js';
import { requireSourceCheckout } from './source-only.js';

/** Where the CLI writes; a parameter so that the CLI can be driven without a terminal. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Making migrations loads drizzle-kit's helpers: only the commands that make them pay for it. */
const generation = () => import('../generate.js');
const adoption = () => import('../adopt.js');

const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export interface GlobalOptions {
  url?: string;
  dir?: string;
  json?: boolean;
}

/** What every command's action needs: its options, where to work, and how to print. */
export interface CommandKit {
  io: Io;
  /** Options of the whole program merged with the command's own, and the runner's location options. */
  globals(command: Command): { options: GlobalOptions & Record<string, unknown>; where: { url?: string; migrationsFolder?: string; lockTimeoutMs?: number } };
  /** Prints a result: as JSON with `ok: true` under --json, else as the given text. */
  print(json: boolean | undefined, result: object, text: string): void;
  /** Renders execution progress (nothing under --json). */
  progress(json: boolean | undefined): (event: RunnerEvent) => void;
}

function commandKit(io: Io): CommandKit {
  return {
    io,
    globals(command) {
      const options = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
      const lockTimeoutMs = options.lockTimeout === undefined ? undefined : Number(options.lockTimeout) * 1000;
      if (lockTimeoutMs !== undefined && !(lockTimeoutMs >= 0)) throw new MigrateError('BAD_TARGET', `--lock-timeout must be a number of seconds, not '${String(options.lockTimeout)}'`);
      return { options, where: { url: options.url, migrationsFolder: options.dir, lockTimeoutMs } };
    },
    print(json, result, text) {
      io.out(json ? `${JSON.stringify({ ok: true, ...result }, null, 2)}\n` : `${text}\n`);
    },
    progress(json) {
      return (event) => {
        if (!json) render.renderEvent(event, io.out, (line) => io.err(`${line}\n`));
      };
    },
  };
}

/** Runs the CLI and returns its exit code: 0 success, 1 failure, 2 usage error. */
export async function runCli(argv: string[], io: Io = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    return reportError(error, io, argv.includes('--json'));
  }
}

function reportError(error: unknown, io: Io, json: boolean): number {
  if (error instanceof CommanderError) {
    // Commander already printed its message on stderr; help and version end with code 0.
    if (error.exitCode === 0) return 0;
    if (json) io.out(`${JSON.stringify({ ok: false, error: { code: 'USAGE', message: error.message.replace(/^error: /, '') } })}\n`);
    return 2;
  }
  const code = error instanceof MigrateError ? error.code : 'INTERNAL';
  const message = error instanceof Error ? error.message : String(error);
  const exitCode = error instanceof MigrateError && error.isUsage ? 2 : 1;
  if (json) io.out(`${JSON.stringify({ ok: false, error: { code, message } })}\n`);
  io.err(`error: ${message.split('\n')[0]}\n`);
  if (process.env.DEBUG && error instanceof Error && error.stack) io.err(`${error.stack}\n`);
  return exitCode;
}

function buildProgram(io: Io): Command {
  const program = new Command('migrate')
    .description('Apply, revert and inspect the Drizzle migrations in ./drizzle (Alembic-style).')
    .option('--url <url>', 'database URL (overrides DATABASE_URL; default file:./data/bot.db)')
    .option('--dir <folder>', 'migrations folder', './drizzle')
    .option('--json', 'machine-readable output')
    .option('--lock-timeout <seconds>', 'how long up, down, stamp and restore wait for another runner (default 60)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  const kit = commandKit(io);
  const { globals, print, progress } = kit;

  const safetyOptions = (command: Command) =>
    command
      .option('--no-backup', 'do not back up the database file first')
      .option('--keep-backups <n>', 'how many backups of the database to keep, beyond the newest of each revision', '10')
      .option('--max-backup-size <size>', "what all of the database's backups may take: 2GB, 500MB, or 3x the database's size (default: 5x the database, at least 1 GB)")
      .option('--allow-modified', 'run even though an applied migration file was edited since it was applied')
      .option('--allow-out-of-order', 'apply pending migrations that sort before the current revision')
      .option('--sql', 'print the SQL it would run (transactions, pragmas, bookkeeping rows) instead of running it; changes nothing');

  safetyOptions(
    program
      .command('up')
      .alias('upgrade')
      .description('apply migrations up to and including the target: head (default), a revision, or +N')
      .argument('[target]', 'head | <revision> | +N', 'head'),
  ).action(async (target: string, _opts: unknown, command: Command) => {
    if (await printOfflineSql(kit, 'up', target, command)) return;
    const { options, where } = globals(command);
    const o = options as GlobalOptions & ProtectionFlags & { allowModified?: boolean; allowOutOfOrder?: boolean };
    const result = await runner.upgrade(
      { ...where, ...protection(o), target, allowModified: o.allowModified, allowOutOfOrder: o.allowOutOfOrder },
      progress(o.json),
    );
    print(o.json, result, render.renderMigrate(result));
  });

  safetyOptions(
    program
      .command('down')
      .alias('downgrade')
      .description('revert migrations: -N (default -1), back to a revision (which stays applied), or base')
      .argument('[target]', '-N | <revision> | base', '-1'),
  ).action(async (target: string, _opts: unknown, command: Command) => {
    if (await printOfflineSql(kit, 'down', target, command)) return;
    const { options, where } = globals(command);
    const o = options as GlobalOptions & ProtectionFlags & { allowModified?: boolean };
    const result = await runner.downgrade({ ...where, ...protection(o), target, allowModified: o.allowModified }, progress(o.json));
    print(o.json, result, render.renderMigrate(result));
  });

  program
    .command('current')
    .description('show the last applied revision, or base')
    .action(async (_opts: unknown, command: Command) => {
      const { options, where } = globals(command);
      const result = await runner.current(where);
      print(options.json, result, render.renderCurrent(result));
    });

  program
    .command('status')
    .description('applied and pending migrations, and problems: edited or missing applied migrations, out-of-order pending ones, missing down files, schema drift')
    .action(async (_opts: unknown, command: Command) => {
      const { options, where } = globals(command);
      const result = await runner.status(where);
      print(options.json, result, render.renderStatus(result));
      if (result.problems.length > 0) process.exitCode = 1;
    });

  program
    .command('backups')
    .description("list this database's backups (taken before each up and down), newest first")
    .action(async (_opts: unknown, command: Command) => {
      const { options, where } = globals(command);
      const result = await runner.backups(where);
      print(options.json, result, render.renderBackups(result));
    });

  program
    .command('restore')
    .description('put a backup back in place of the database (refuses while another connection writes; saves the current database first)')
    .argument('<backup>', "a file name from 'backups', a path, or latest")
    .option('--from <database>', "the database a backup named as another database's was taken of: restore it here anyway")
    .action(async (from: string, _opts: unknown, command: Command) => {
      const { options, where } = globals(command);
      const result = await runner.restore({ ...where, from, backupOf: (options as { from?: string }).from }, progress(options.json));
      print(options.json, result, render.renderRestore(result));
    });

  program
    .command('unlock')
    .description("remove the runner's lock left by a process on another host that is gone (same-host locks of dead processes are taken over by themselves)")
    .action(async (_opts: unknown, command: Command) => {
      const { options, where } = globals(command);
      const result = await runner.unlock(where);
      print(options.json, result, result.removed ? `Removed the lock of ${result.removed}.` : 'Nobody held the lock.');
    });

  program
    .command('history')
    .description('list every migration in order, applied or pending, with the current one marked')
    .action(async (_opts: unknown, command: Command) => {
      const { options, where } = globals(command);
      const result = await runner.history(where);
      print(options.json, result, render.renderHistory(result));
    });

  program
    .command('show')
    .description('show one migration: index, tag, creation time, hash, state, up SQL and down SQL')
    .argument('<revision>', 'index, tag, unique part of a tag, or head')
    .action(async (revision: string, _opts: unknown, command: Command) => {
      const { options, where } = globals(command);
      const result = await runner.show({ ...where, revision });
      print(options.json, result, render.renderShow(result));
    });

  program
    .command('stamp')
    .description('record the database as being at a revision without running SQL (adopt an existing database)')
    .argument('<revision>', 'revision, head or base')
    .option('--force', 'stamp even if the schema differs from what the migrations up to the revision give')
    .action(async (revision: string, _opts: unknown, command: Command) => {
      const { options, where } = globals(command);
      const o = options as GlobalOptions & { force?: boolean };
      const result = await runner.stamp({ ...where, revision, force: o.force }, progress(o.json));
      for (const difference of result.differences) io.err(`warning: ${difference}\n`);
      print(o.json, result, render.renderStamp(result));
    });

  program
    .command('adopt')
    .description("take a database made elsewhere (the Python app's) to the migrations' schema, keeping every row; backs it up first")
    .option('--rename-column <table.old=new>', 'the database column that fills a column of another name (repeatable)', collect, [])
    .option('--drop-column <table.column>', 'a column of the database whose data is let go (repeatable)', collect, [])
    .option('--drop-table <table>', 'a table of the database the migrations do not have, let go with its rows (repeatable)', collect, [])
    .option('--to <revision>', "the revision whose schema to adopt into", 'head')
    .option('--dry-run', 'print the plan (tables, columns, conversions, refusals, row counts) and change nothing')
    .option('--no-backup', 'do not back up the database file first')
    .option('--keep-backups <n>', 'how many backups of the database to keep, beyond the newest of each revision', '10')
    .option('--max-backup-size <size>', "what all of the database's backups may take: 2GB, 500MB, or 3x the database's size (default: 5x the database, at least 1 GB)")
    .addHelpText(
      'after',
      '\nExample (the Python app\'s database):\n  npm run db -- adopt --dry-run --rename-column users.hashed_password=password_hash --drop-column users.is_active\n  npm run db -- adopt --rename-column users.hashed_password=password_hash --drop-column users.is_active',
    )
    .action(async (_opts: unknown, command: Command) => {
      const { options, where } = globals(command);
      const o = options as GlobalOptions & ProtectionFlags & { renameColumn?: string[]; dropColumn?: string[]; dropTable?: string[]; to?: string; dryRun?: boolean };
      const result = await (await adoption()).adopt({
        ...where,
        ...protection(o),
        renameColumns: o.renameColumn,
        dropColumns: o.dropColumn,
        dropTables: o.dropTable,
        to: o.to,
        dryRun: o.dryRun,
      });
      print(o.json, result, render.renderAdopt(result));
      if (result.dryRun && result.refusals.length > 0) process.exitCode = 1;
    });

  program
    .command('generate')
    .description('generate a migration from the models with drizzle-kit, then write and check its down file')
    .addOption(new Option('--name <name>', 'migration name (the tag becomes NNNN_<name>)'))
    .option('--custom', 'an empty migration to write by hand (same as `new`)')
    .option('--config <file>', 'drizzle-kit config file', 'drizzle.config.ts')
    .option('--rename-table <old=new>', "answer drizzle-kit's rename question for a table (repeatable; works without a terminal)", collect, [])
    .option('--rename-column <table.old=new>', "answer drizzle-kit's rename question for a column (repeatable; works without a terminal)", collect, [])
    .action(async (_opts: unknown, command: Command) => {
      requireSourceCheckout('generate');
      const { options, where } = globals(command);
      const o = options as GlobalOptions & { name?: string; custom?: boolean; config?: string; renameTable?: string[]; renameColumn?: string[] };
      const result = await (await generation()).generate({
        ...where,
        name: o.name,
        custom: o.custom,
        config: o.config,
        renameTables: o.renameTable,
        renameColumns: o.renameColumn,
      });
      if (!o.json) print(o.json, result, render.renderGenerate(result));
      failOnDownProblems(result.downFiles);
      if (o.json) print(o.json, result, '');
    });

  program
    .command('new')
    .alias('revision')
    .description('create an empty migration and an empty down file, both to write by hand')
    .argument('<name>', 'migration name')
    .option('--config <file>', 'drizzle-kit config file', 'drizzle.config.ts')
    .action(async (name: string, _opts: unknown, command: Command) => {
      requireSourceCheckout('new');
      const { options, where } = globals(command);
      const o = options as GlobalOptions & { config?: string };
      const result = await (await generation()).generate({ ...where, name, custom: true, config: o.config });
      print(o.json, result, render.renderGenerate(result));
    });

  program
    .command('write-down')
    .description('write the down file of every migration that lacks one, or of the named revisions')
    .argument('[revisions...]', 'revisions to (re)write; default: every migration without a down file')
    .option('--overwrite', 'replace existing down files of the named revisions')
    .action(async (revisions: string[], _opts: unknown, command: Command) => {
      requireSourceCheckout('write-down');
      const { options, where } = globals(command);
      const o = options as GlobalOptions & { overwrite?: boolean };
      const files = await (await generation()).writeDownFiles({ ...where, revisions, overwrite: o.overwrite });
      if (!o.json) print(o.json, { files }, render.renderDownFiles(files));
      failOnDownProblems(files);
      if (o.json) print(o.json, { files }, '');
    });

  registerSchemaCommands(program, kit);
  return program;
}

/** Commander's accumulator for a repeatable option. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface ProtectionFlags {
  backup?: boolean;
  keepBackups?: string;
  maxBackupSize?: string;
}

/** `--no-backup`, `--keep-backups N` and `--max-backup-size` as the runner's options. */
function protection(flags: ProtectionFlags): { backup: boolean; keepBackups: number; backupBudget?: BackupBudget } {
  const keep = Number(flags.keepBackups ?? '10');
  if (!Number.isInteger(keep) || keep < 1) throw new MigrateError('BAD_TARGET', `--keep-backups must be a whole number of at least 1, not '${flags.keepBackups}'`);
  const budget = flags.maxBackupSize === undefined ? undefined : parseBudget(flags.maxBackupSize);
  if (budget === null) throw new MigrateError('BAD_TARGET', `--max-backup-size must be a size (2GB, 500MB, 1000000) or a multiple of the database's size of at least 1 (5x), not '${flags.maxBackupSize}'`);
  return { backup: flags.backup !== false, keepBackups: keep, ...(budget ? { backupBudget: budget } : {}) };
}

function failOnDownProblems(files: WrittenDownFile[]): void {
  const broken = files.filter((f) => f.problems.length > 0);
  if (broken.length > 0) {
    throw new MigrateError(
      'GENERATE_FAILED',
      `${broken.map((f) => f.path).join(', ')} does not restore the previous schema (${broken[0]!.problems[0]}): edit it by hand, then check with 'write-down' output or 'show'`,
    );
  }
}
