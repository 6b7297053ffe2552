// One-command deploy over SSH: `npm run deploy -- user@host [options]` (see `--help` and the README's
// "One-command deploy"). It does what "Deploying by hand" does, with a staging folder so that the running service
// keeps its old code until the migrations have applied:
//   build → check the server → copy to <dir>/.deploy-<time> → npm ci (only when the lock file changed)
//   → migrate with the staged runner → swap the staged files into place → restart.
// It uses the system's ssh and tar, so ~/.ssh/config, agents and known_hosts work as they do for the user.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';

/** The checkout this script belongs to: what gets built and copied. */
const PROJECT_ROOT = resolve(import.meta.dirname, '..');

/** What the server receives; node_modules is installed there from the lock file. */
const SHIPPED = ['dist', 'drizzle', 'package.json', 'package-lock.json'] as const;

export interface DeployOptions {
  host: string;
  dir: string;
  service: string;
  port: number;
  identity?: string;
  sshOptions: string[];
  restartCommand: string;
  databaseUrl: string;
  dryRun: boolean;
  forceInstall: boolean;
  projectRoot: string;
  /** Names the staging folder; unique per deploy. */
  stamp: string;
}

type StepName = 'build' | 'check' | 'copy' | 'install' | 'migrate' | 'swap' | 'restart';

/** A command as argv; `pipeTo` feeds its stdout into a second command (tar | ssh). */
interface Command_ {
  argv: string[];
  cwd?: string;
  pipeTo?: string[];
  /** How a failure message names it. */
  label: string;
}

class DeployError extends Error {
  constructor(
    readonly step: StepName,
    message: string,
    /** What the failed command printed on stdout. */
    readonly stdout = '',
  ) {
    super(message);
  }
}

/** Quotes a word for a POSIX shell, leaving plain words as they are. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_\/.,:@%+=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function display(command: Command_): string {
  const line = command.argv.map(shellQuote).join(' ');
  return command.pipeTo ? `${line} | ${command.pipeTo.map(shellQuote).join(' ')}` : line;
}

/** The ssh argv that runs `remote` (a shell command line) on the server. */
function ssh(options: DeployOptions, remote: string): string[] {
  return [
    'ssh',
    '-p',
    String(options.port),
    ...(options.identity ? ['-i', options.identity] : []),
    ...options.sshOptions.flatMap((option) => ['-o', option]),
    options.host,
    remote,
  ];
}

/** The staging folder and every remote command line, computed up front (no I/O), so --dry-run shows what runs. */
export function planDeploy(options: DeployOptions) {
  const q = shellQuote;
  const dir = options.dir;
  const staging = `${dir}/.deploy-${options.stamp}`;
  const previous = `${dir}/.deploy-previous`;
  const lock = `${dir}/package-lock.json`;
  return {
    staging,
    previous,
    build: { argv: ['npm', 'run', 'build'], cwd: options.projectRoot, label: 'npm run build' } satisfies Command_,
    // Prints the deployed lock file's sha256 only when node_modules was installed from it; fails when the server
    // lacks node or npm, before anything is copied.
    check: {
      argv: ssh(
        options,
        `command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are not on the PATH of a non-interactive ssh session" >&2; exit 1; }; ` +
          `if [ -f ${q(lock)} ] && [ -d ${q(`${dir}/node_modules`)} ]; then sha256sum < ${q(lock)}; fi`,
      ),
      label: `ssh ${options.host} (node, npm and the deployed lock file)`,
    } satisfies Command_,
    copy: {
      argv: ['tar', '-C', options.projectRoot, '-cf', '-', ...SHIPPED],
      pipeTo: ssh(options, `mkdir -p ${q(staging)} && tar -xof - -C ${q(staging)}`),
      label: `tar | ssh ${options.host} tar -x into ${staging}`,
    } satisfies Command_,
    install: { argv: ssh(options, `cd ${q(staging)} && npm ci --omit=dev --no-audit --no-fund`), label: `npm ci --omit=dev on ${options.host}` } satisfies Command_,
    // From the app folder, so that a relative database URL means what it means to the service; node resolves
    // the staged runner's packages from <staging>/node_modules when installed, else from <dir>/node_modules.
    migrate: {
      argv: ssh(
        options,
        `cd ${q(dir)} && node ${q(`${staging}/dist/migrate.js`)} up --dir ${q(`${staging}/drizzle`)} --url ${q(options.databaseUrl)} --lock-timeout 120`,
      ),
      label: `node ${staging}/dist/migrate.js up on ${options.host}`,
    } satisfies Command_,
    // Each item is moved in one rename, so the service sees either the old or the new file; the old ones are kept
    // in .deploy-previous until the next deploy.
    swap: {
      argv: ssh(
        options,
        `cd ${q(dir)} && rm -rf ${q(previous)} && mkdir ${q(previous)} && ` +
          `for f in ${[...SHIPPED, 'node_modules'].join(' ')}; do if [ -e ${q(staging)}/"$f" ]; then ` +
          `if [ -e "$f" ]; then mv "$f" ${q(previous)}/ || exit 1; fi; mv ${q(staging)}/"$f" "$f" || exit 1; fi; done && rmdir ${q(staging)}`,
      ),
      label: `the swap on ${options.host}`,
    } satisfies Command_,
    restart: { argv: ssh(options, options.restartCommand), label: `'${options.restartCommand}' on ${options.host}` } satisfies Command_,
    cleanup: { argv: ssh(options, `rm -rf ${q(staging)}`), label: `rm -rf ${staging} on ${options.host}` } satisfies Command_,
  };
}

interface Ran {
  code: number | null;
  stdout: string;
}

/** Runs a command, passing its output through to ours, and keeps its stdout. */
function execute(command: Command_, options: { quiet?: boolean } = {}): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const [file, ...args] = command.argv;
    const first = spawn(file!, args, { cwd: command.cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let last: ChildProcess = first;
    if (command.pipeTo) {
      const [file2, ...args2] = command.pipeTo;
      last = spawn(file2!, args2, { stdio: ['pipe', 'pipe', 'inherit'] });
      first.stdout.pipe(last.stdin!);
      last.stdin!.on('error', () => undefined); // reported through the exit codes
    }
    let stdout = '';
    last.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!options.quiet) process.stdout.write(chunk);
    });
    let firstCode: number | null = 0;
    first.on('error', reject);
    last.on('error', reject);
    const firstDone = command.pipeTo ? new Promise<void>((r) => first.on('close', (code) => ((firstCode = code), r()))) : Promise.resolve();
    last.on('close', (code) => {
      void firstDone.then(() => resolvePromise({ code: code === 0 ? firstCode : code, stdout }));
    });
  });
}

function exitText(command: Command_, code: number | null): string {
  const viaSsh = command.argv[0] === 'ssh' || command.pipeTo !== undefined;
  if (code === 255 && viaSsh) return `${command.label}: ssh exited with code 255 (connection or authentication failed, or the remote command exited 255)`;
  return `${command.label} exited with code ${code ?? 'null (killed by a signal)'}`;
}

/** Runs the deploy; throws a DeployError naming the step that failed. */
export async function deploy(options: DeployOptions, out: (line: string) => void): Promise<void> {
  const plan = planDeploy(options);
  const localLock = readFileSync(resolve(options.projectRoot, 'package-lock.json'));
  const localSha = createHash('sha256').update(localLock).digest('hex');

  if (options.dryRun) {
    out(display(plan.build));
    out(display(plan.check));
    out(display(plan.copy));
    out(`${display(plan.install)}  # only when ${options.dir}/package-lock.json's sha256 is not ${localSha}${options.forceInstall ? ' (--force-install: always)' : ''}`);
    out(display(plan.migrate));
    out(display(plan.swap));
    out(display(plan.restart));
    return;
  }

  const step = async (name: StepName, command: Command_, quiet = false): Promise<Ran> => {
    out(`==> ${name}: ${display(command)}`);
    const ran = await execute(command, { quiet });
    if (ran.code !== 0) throw new DeployError(name, exitText(command, ran.code), ran.stdout);
    return ran;
  };

  const nothingChanged = (error: unknown): never => {
    if (error instanceof DeployError) throw new DeployError(error.step, `${error.message}; nothing on the server was changed`, error.stdout);
    throw error;
  };
  await step('build', plan.build).catch(nothingChanged);
  for (const item of SHIPPED) {
    if (!existsSync(resolve(options.projectRoot, item))) nothingChanged(new DeployError('build', `${item} is missing in ${options.projectRoot} after the build`));
  }
  const checked = await step('check', plan.check, true).catch(nothingChanged);
  const remoteSha = checked.stdout.trim().split(/\s+/)[0] ?? '';

  // From the copy until the migrations have applied, a failure removes the staging folder (even a partial one) and
  // leaves the service on its old code.
  let staged = true;
  try {
    try {
      await step('copy', plan.copy);
      if (remoteSha === localSha && !options.forceInstall) {
        out(`Lock file unchanged (sha256 ${localSha.slice(0, 12)}…): skipping npm ci, the installed node_modules stay.`);
      } else {
        const why = options.forceInstall ? '--force-install' : remoteSha ? `lock file changed, sha256 ${remoteSha.slice(0, 12)}… -> ${localSha.slice(0, 12)}…` : 'nothing installed yet';
        out(`Installing production dependencies (${why}).`);
        await step('install', plan.install);
      }
    } catch (error) {
      if (!(error instanceof DeployError)) throw error;
      throw new DeployError(error.step, `${error.message}; the service keeps running the old code (staging folder removed, no migration run, no restart)`, error.stdout);
    }
    try {
      await step('migrate', plan.migrate);
    } catch (error) {
      if (!(error instanceof DeployError)) throw error;
      const backup = backupPath(error.stdout, options.dir);
      throw new DeployError(
        'migrate',
        `${error.message}; the service keeps running the old code (nothing swapped, no restart), the failing migration was rolled back` +
          (backup ? `, and the database as it was before this deploy is backed up on the server at ${backup}` : ''),
      );
    }
    staged = false; // the swap moves the staging folder's contents: a swap that stops part-way is for a person to look at
    await step('swap', plan.swap).catch((error: unknown) => {
      if (!(error instanceof DeployError)) throw error;
      throw new DeployError('swap', `${error.message}; the swap may have stopped part-way: compare ${options.dir} with ${plan.staging} and ${plan.previous}; the service was not restarted`);
    });
  } finally {
    if (staged) {
      out(`==> cleanup: ${display(plan.cleanup)}`);
      await execute(plan.cleanup).catch(() => undefined);
    }
  }
  await step('restart', plan.restart).catch((error: unknown) => {
    if (!(error instanceof DeployError)) throw error;
    throw new DeployError('restart', `${error.message}; the new release is in place (the old one in ${plan.previous}) and migrated, but the service was not restarted`);
  });
  out(`Deployed to ${options.host}:${options.dir} and ran: ${options.restartCommand}`);
}

/**
 * The backup the runner reported (`Backed up to <path> (41.0 KB, 12.3 ms)`, or `Backed up: <path> already holds
 * this state …` when an identical one was there); relative paths are relative to `dir`.
 */
function backupPath(runnerOutput: string, dir: string): string | undefined {
  const path = /^Backed up(?: to (.+) \([^()]*\)|: (.+) already holds this state.*)$/m.exec(runnerOutput)?.slice(1).find((p) => p !== undefined);
  return path === undefined ? undefined : path.startsWith('/') ? path : `${dir}/${path}`;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Parses argv and the DEPLOY_* environment into options; throws CommanderError on bad usage. */
export function parseDeployArgs(argv: string[]): DeployOptions {
  const program = new Command('deploy')
    .description('Build, copy to the server over ssh, install production dependencies when the lock file changed, migrate (with a backup), swap in and restart.')
    .argument('[host]', 'the server as user@host (or DEPLOY_HOST)')
    .addOption(new Option('--dir <folder>', 'app folder on the server (absolute)').env('DEPLOY_DIR').default('/opt/bot-generic'))
    .addOption(new Option('--service <name>', 'systemd service to restart').env('DEPLOY_SERVICE').default('bot-generic'))
    .addOption(new Option('-p, --port <port>', 'SSH port').env('DEPLOY_PORT').default('22'))
    .addOption(new Option('-i, --identity <file>', 'SSH identity file (private key)').env('DEPLOY_IDENTITY'))
    .option('-o, --ssh-option <option>', 'extra ssh option, passed as -o (repeatable)', collect, [])
    .addOption(new Option('--restart-command <command>', 'shell command run on the server at the end (default: sudo systemctl restart <service>)').env('DEPLOY_RESTART_COMMAND'))
    .addOption(new Option('--database-url <url>', "the server's database URL (default: file:<dir>/data/bot.db)").env('DEPLOY_DATABASE_URL'))
    .option('--force-install', 'run npm ci --omit=dev even when the lock file did not change')
    .option('--dry-run', 'print each command instead of running it')
    .exitOverride()
    .configureOutput({ writeOut: (t) => process.stdout.write(t), writeErr: (t) => process.stderr.write(t) });
  program.parse(argv, { from: 'user' });
  const o = program.opts<{ dir: string; service: string; port: string; identity?: string; sshOption: string[]; restartCommand?: string; databaseUrl?: string; forceInstall?: boolean; dryRun?: boolean }>();
  const host = program.args[0] ?? process.env.DEPLOY_HOST;
  if (!host) throw new CommanderError(2, 'deploy.host', 'error: name the server: npm run deploy -- user@host (or set DEPLOY_HOST)');
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CommanderError(2, 'deploy.port', `error: --port must be a port number, not '${o.port}'`);
  const dir = o.dir.replace(/\/+$/, '');
  if (!isAbsolute(dir) || dir === '') throw new CommanderError(2, 'deploy.dir', `error: --dir must be an absolute folder other than /, not '${o.dir}'`);
  return {
    host,
    dir,
    service: o.service,
    port,
    identity: o.identity,
    sshOptions: o.sshOption,
    restartCommand: o.restartCommand ?? `sudo systemctl restart ${shellQuote(o.service)}`,
    databaseUrl: o.databaseUrl ?? `file:${dir}/data/bot.db`,
    dryRun: o.dryRun === true,
    forceInstall: o.forceInstall === true,
    projectRoot: PROJECT_ROOT,
    stamp: new Date().toISOString().replace(/[-:.]/g, ''),
  };
}

async function main(): Promise<number> {
  let options: DeployOptions;
  try {
    options = parseDeployArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      if (error.code.startsWith('deploy.')) process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  try {
    await deploy(options, (line) => process.stdout.write(`${line}\n`));
    return 0;
  } catch (error) {
    if (error instanceof DeployError) {
      process.stderr.write(`error: deploy failed at step '${error.step}': ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`error: deploy failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

// `npm run deploy -- … --dry-run | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = await main();
