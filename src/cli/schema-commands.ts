import type { Command } from 'commander';
import type * as checks from '../checks.js';
import { SCHEMA_PATH } from '../config.js';
import { assertNever } from '../engine/errors.js';
import type { StairwayStage } from '../engine/checks/stairway.js';
import { ANALYZERS } from '../engine/lint/index.js';
import type { CommandKit, GlobalOptions } from './program.js';
import { requireSourceCheckout } from './source-only.js';

/** The checks load drizzle-kit's API, the models and the lint analyzers: only these commands pay for them. */
const loadChecks = () => import('../checks.js');

/** `check`, `verify` and `lint`: the commands that judge migrations rather than run them. */
export function registerSchemaCommands(program: Command, kit: CommandKit): void {
  program
    .command('check')
    .description('exit 1 when the models have changes no migration holds, the migrations do not give the models\' schema, or the history is inconsistent')
    .option('--schema <file>', 'the TypeScript models (drizzle.config.ts schema)', SCHEMA_PATH)
    .action(async (_opts: unknown, command: Command) => {
      requireSourceCheckout('check');
      const { options, where } = kit.globals(command);
      const result = await (await loadChecks()).check({ ...where, schemaPath: options.schema as string | undefined });
      kit.print(options.json, result, renderCheck(result));
      if (!result.ok) process.exitCode = 1;
    });

  program
    .command('verify')
    .description('stairway test on a scratch in-memory database: for each migration, rows in every table, up, down (schema and rows back?), up again')
    .action(async (_opts: unknown, command: Command) => {
      const { options, where } = kit.globals(command);
      const result = await (await loadChecks()).verify(where);
      kit.print(options.json, result, renderVerify(result));
      if (!result.ok) process.exitCode = 1;
    });

  program
    .command('lint')
    .description('report dropped tables and columns, renames, rebuilds of referenced tables and changes that fail on existing rows')
    .argument('[target]', 'pending | all | <revision> | <from>:<to> (inclusive)', 'pending')
    .option('--strict', 'exit 1 on any finding, not only on errors')
    .addHelpText('after', `\nChecks:\n${ANALYZERS.map((a) => `  ${a.summary}`).join('\n')}`)
    .action(async (target: string, _opts: unknown, command: Command) => {
      const { options, where } = kit.globals(command);
      const result = await (await loadChecks()).lint({ ...where, target, strict: options.strict === true });
      kit.print(options.json, result, renderLint(result));
      if (!result.ok) process.exitCode = 1;
    });
}

/**
 * `up --sql` / `down --sql`: prints the SQL the command would run instead of running it. Returns false
 * (and does nothing) without `--sql`, so the up and down actions call it first.
 */
export async function printOfflineSql(kit: CommandKit, direction: 'up' | 'down', target: string, command: Command): Promise<boolean> {
  const { options, where } = kit.globals(command);
  const o = options as GlobalOptions & { sql?: boolean; allowModified?: boolean; allowOutOfOrder?: boolean };
  if (!o.sql) return false;
  const result = await (await loadChecks()).offlineSql({ ...where, direction, target, allowModified: o.allowModified, allowOutOfOrder: o.allowOutOfOrder });
  kit.print(o.json, result, result.sql.trimEnd());
  return true;
}

const CHECK_TITLES = { history: 'History', models: 'Models', 'model-match': 'Model-match' } as const;

export function renderCheck(result: checks.CheckResult): string {
  const lines: string[] = [];
  for (const group of ['history', 'models', 'model-match'] as const) {
    const found = result.findings.filter((f) => f.check === group);
    const title = CHECK_TITLES[group].padEnd(12);
    if (found.length === 0) {
      const detail =
        group === 'history'
          ? `${result.migrations} migration${result.migrations === 1 ? '' : 's'} in one line`
          : group === 'models'
            ? 'no change without a migration'
            : result.comparedWith === null
              ? 'not run: fix the history first'
              : `the migrations give the schema of the ${result.comparedWith}`;
      lines.push(`${title} ${group === 'model-match' && result.comparedWith === null ? '' : 'ok: '}${detail}`);
      continue;
    }
    lines.push(`${title} ${found.length} problem${found.length === 1 ? '' : 's'}`);
    for (const f of found) {
      const [first, ...rest] = f.message.split('\n');
      lines.push(`  - ${first}`, ...rest.map((line) => `      ${line}`), `    fix: ${f.fix}`);
    }
  }
  return lines.join('\n');
}

function stageText(stage: StairwayStage): string {
  switch (stage) {
    case 'up':
      return 'its up migration fails on a database with rows';
    case 'down':
      return 'its down migration fails';
    case 'schema':
      return 'its down migration does not restore the schema';
    case 'data':
      return 'its down migration loses rows it does not declare';
    case 'up-again':
      return 'its up migration does not run the same again after its down';
    default:
      return assertNever(stage);
  }
}

export function renderVerify(result: checks.VerifyResult): string {
  if (result.migrations === 0) return 'No migrations to verify.';
  const lines = result.passed.map((tag) => `ok    ${tag}`);
  const failure = result.failure;
  if (failure) {
    lines.push(`FAIL  ${failure.tag}: ${stageText(failure.stage)} (${failure.file})`);
    for (const difference of failure.differences) lines.push(`  - ${difference}`);
  }
  for (const warning of result.warnings) lines.push(`note: ${warning}`);
  lines.push(
    failure
      ? `Verified ${result.passed.length} of ${result.migrations} migrations; ${failure.tag} fails: ${stageText(failure.stage)}.`
      : `Verified ${result.migrations} migration${result.migrations === 1 ? '' : 's'}: up, down and up again give back the schema and the rows.`,
  );
  return lines.join('\n');
}

export function renderLint(result: checks.LintResult): string {
  const count = result.migrations.length;
  if (count === 0) return 'No migrations to lint (nothing pending; name a revision, a range from:to, or all).';
  const which = `${count} migration${count === 1 ? '' : 's'} (${result.migrations.join(', ')})`;
  const lines = result.findings.map((f) => `${f.file}:${f.statement}  ${f.code}  ${f.severity.padEnd(7)}  ${f.message}`);
  for (const note of result.notes) lines.push(`note: ${note}`);
  if (result.findings.length === 0) {
    lines.push(`No findings in ${which}.`);
  } else {
    const errors = result.findings.filter((f) => f.severity === 'error').length;
    const warnings = result.findings.length - errors;
    const tail = !result.ok ? '' : '; warnings do not fail without --strict';
    lines.push(`${result.findings.length} finding${result.findings.length === 1 ? '' : 's'} (${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}) in ${which}${tail}.`);
  }
  return lines.join('\n');
}
