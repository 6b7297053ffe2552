import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ROOT, appliedRows, runProcess, schemaDump, type RunResult } from './helpers/project.js';

// `npm run deploy` against a real OpenSSH server: sshd runs on a free loopback port with a throwaway host key and
// client key, and the "server" is a temporary folder on this machine. The first deploy runs `npm ci --omit=dev`
// there, which builds better-sqlite3 from source: this suite takes a few minutes.

const SSHD = '/usr/sbin/sshd';

/** The deploy reads DEPLOY_* variables: none of the test runner's may leak into it. */
function run(command: string, args: string[], cwd: string, extraEnv: Record<string, string> = {}): Promise<RunResult> {
  const unset = Object.fromEntries(Object.keys(process.env).filter((key) => key.startsWith('DEPLOY_')).map((key) => [key, undefined]));
  return runProcess(command, args, cwd, { ...unset, ...extraEnv });
}

const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePromise(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A copy of the project as a developer has it (sources, migrations, lock file), sharing node_modules. */
function copyProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deploy-project-'));
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'drizzle', 'scripts']) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** Adds a hand-written migration whose second statement fails (its first would create a table). */
function addFailingMigration(project: string): string {
  const journalPath = join(project, 'drizzle', 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { idx: number; version: string; when: number; tag: string; breakpoints: boolean }[] };
  const last = journal.entries.at(-1)!;
  const idx = last.idx + 1;
  const tag = `${String(idx).padStart(4, '0')}_fails_on_deploy`;
  journal.entries.push({ idx, version: '6', when: last.when + 1000, tag, breakpoints: true });
  writeFileSync(journalPath, `${JSON.stringify(journal, null, 2)}\n`);
  writeFileSync(join(project, 'drizzle', `${tag}.sql`), 'CREATE TABLE `deploy_probe` (`id` integer);\n--> statement-breakpoint\nINSERT INTO `no_such_table` VALUES (1);\n');
  writeFileSync(join(project, 'drizzle', `${tag}.down.sql`), 'DROP TABLE `deploy_probe`;\n');
  return tag;
}

describe('npm run deploy over ssh (real sshd on a loopback port)', { skip: !existsSync(SSHD) && `${SSHD} is not installed (Debian package openssh-server)` }, () => {
  let tmp = '';
  let project = '';
  let sshd: ChildProcess | undefined;
  let sshdLog = '';
  let sshArgs: string[] = [];
  let deployArgs: string[] = [];
  let app = '';
  const host = `${userInfo().username}@127.0.0.1`;
  const journal = JSON.parse(readFileSync(join(ROOT, 'drizzle', 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  const head = journal.entries.at(-1)!.tag;

  const deploy = (...extra: string[]) => run(join(project, 'node_modules', '.bin', 'tsx'), ['scripts/deploy.ts', ...deployArgs, ...extra], project);
  const onServer = (command: string) => run('ssh', [...sshArgs, host, command], tmp);
  const restarts = () => (existsSync(join(app, 'restarts.log')) ? readFileSync(join(app, 'restarts.log'), 'utf8').split('\n').filter(Boolean).length : 0);
  const stagingFolders = () => readdirSync(app).filter((name) => name.startsWith('.deploy-') && name !== '.deploy-previous');
  const databaseState = () => {
    const db = new Database(join(app, 'data', 'bot.db'), { readonly: true });
    try {
      return { schema: schemaDump(db), applied: appliedRows(db) };
    } finally {
      db.close();
    }
  };

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'deploy-sshd-'));
    for (const key of ['host_key', 'client_key']) {
      const keygen = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `deploy-test-${key}`, '-f', join(tmp, key)], tmp);
      assert.equal(keygen.code, 0, show(keygen));
    }
    cpSync(join(tmp, 'client_key.pub'), join(tmp, 'authorized_keys'));
    const port = await freePort();
    const config = join(tmp, 'sshd_config');
    writeFileSync(
      config,
      [
        'ListenAddress 127.0.0.1',
        `Port ${port}`,
        `HostKey ${join(tmp, 'host_key')}`,
        `AuthorizedKeysFile ${join(tmp, 'authorized_keys')}`,
        `PidFile ${join(tmp, 'sshd.pid')}`,
        'StrictModes no',
        'UsePAM no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        '',
      ].join('\n'),
    );
    // sshd's privilege separation needs this directory (a package install creates it at boot, a container lacks it).
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    sshd = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    sshd.stderr!.on('data', (chunk) => (sshdLog += chunk));

    const sshOptions = ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'BatchMode=yes', 'LogLevel=ERROR'];
    sshArgs = ['-i', join(tmp, 'client_key'), '-p', String(port), ...sshOptions.flatMap((o) => ['-o', o])];
    let ready: RunResult | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      ready = await onServer('true');
      if (ready.code === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(ready?.code, 0, `sshd did not accept the test key: ${ready && show(ready)}\nsshd: ${sshdLog}`);

    project = copyProject();
    app = join(tmp, 'server', 'opt', 'bot-generic');
    deployArgs = [
      host,
      '--dir', app,
      '--port', String(port),
      '--identity', join(tmp, 'client_key'),
      ...sshOptions.flatMap((o) => ['--ssh-option', o]),
      '--restart-command', `echo restarted >> ${join(app, 'restarts.log')}`,
    ];
  });

  after(() => {
    sshd?.kill('SIGTERM');
    if (project) rmSync(project, { recursive: true, force: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('--dry-run prints each command, one per line, and changes nothing', async () => {
    const dry = await deploy('--dry-run');
    assert.equal(dry.code, 0, show(dry));
    const lines = dry.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 7, dry.stdout);
    assert.equal(lines[0], 'npm run build');
    for (const line of lines.slice(1)) assert.match(line, /^(ssh|tar) /);
    assert.match(lines[2]!, /^tar -C \S+ -cf - dist drizzle package.json package-lock.json \| ssh .*'mkdir -p \S+\/\.deploy-\w+ && tar -xof - -C \S+'$/);
    assert.match(lines[3]!, /npm ci --omit=dev.*# only when .*package-lock\.json's sha256 is not [0-9a-f]{64}$/);
    assert.match(lines[4]!, /node \S+\/\.deploy-\w+\/dist\/migrate\.js up --dir \S+\/drizzle --url file:\S+\/data\/bot\.db/);
    assert.match(lines[6]!, /'echo restarted >> \S+restarts\.log'$/);
    assert.equal(existsSync(app), false, 'nothing was copied to the server');
    assert.equal(existsSync(join(project, 'dist')), false, 'nothing was built');

    // The defaults are the old guide's.
    const defaults = await run(join(project, 'node_modules', '.bin', 'tsx'), ['scripts/deploy.ts', 'deploy@example.com', '--dry-run'], project);
    assert.equal(defaults.code, 0, show(defaults));
    assert.match(defaults.stdout, /^ssh -p 22 deploy@example.com 'cd \/opt\/bot-generic && node \/opt\/bot-generic\/\.deploy-\w+\/dist\/migrate\.js up .*--url file:\/opt\/bot-generic\/data\/bot\.db/m);
    assert.match(defaults.stdout.trimEnd(), /'sudo systemctl restart bot-generic'$/);

    // ... and every one can come from the environment.
    const fromEnv = await run(join(project, 'node_modules', '.bin', 'tsx'), ['scripts/deploy.ts', '--dry-run'], project, {
      DEPLOY_HOST: 'ops@bot.example.com',
      DEPLOY_DIR: '/srv/bot',
      DEPLOY_SERVICE: 'bot',
      DEPLOY_PORT: '2222',
      DEPLOY_DATABASE_URL: 'file:/var/lib/bot/bot.db',
    });
    assert.equal(fromEnv.code, 0, show(fromEnv));
    assert.match(fromEnv.stdout, /^ssh -p 2222 ops@bot.example.com 'cd \/srv\/bot && node \/srv\/bot\/\.deploy-\w+\/dist\/migrate\.js up .*--url file:\/var\/lib\/bot\/bot\.db/m);
    assert.match(fromEnv.stdout.trimEnd(), /'sudo systemctl restart bot'$/);
    assert.equal(existsSync(join(project, 'dist')), false, 'nothing was built');
  });

  test('an unreachable server stops the deploy at the check step, before anything is copied', { timeout: 120_000 }, async () => {
    const closedPort = await freePort();
    const failed = await run(join(project, 'node_modules', '.bin', 'tsx'), ['scripts/deploy.ts', ...deployArgs, '--port', String(closedPort)], project);
    assert.equal(failed.code, 1, show(failed));
    assert.equal(
      failed.stderr.trimEnd().split('\n').at(-1),
      `error: deploy failed at step 'check': ssh ${host} (node, npm and the deployed lock file): ssh exited with code 255 (connection or authentication failed, or the remote command exited 255); nothing on the server was changed`,
    );
    assert.equal(existsSync(app), false);
  });

  test('the first deploy installs, migrates to head and restarts; the second skips npm ci', { timeout: 900_000 }, async () => {
    const first = await deploy();
    assert.equal(first.code, 0, show(first));
    assert.match(first.stdout, /==> install: ssh .*npm ci --omit=dev/);
    assert.match(first.stdout, new RegExp(`Applied ${journal.entries.length} migrations? in .*: base -> ${head}\\.`));

    const current = await onServer(`cd ${app} && node dist/migrate.js current --url file:${app}/data/bot.db`);
    assert.equal(current.code, 0, show(current));
    assert.equal(current.stdout.trim(), `${head} (head)`);
    assert.equal(restarts(), 1, 'the restart command ran once');
    assert.equal(existsSync(join(app, 'node_modules', 'better-sqlite3')), true, 'production dependencies are installed');
    assert.equal(existsSync(join(app, 'node_modules', 'drizzle-kit')), false, 'no dev dependencies');
    for (const item of ['dist/migrate.js', 'drizzle/meta/_journal.json', 'package.json', 'package-lock.json']) assert.equal(existsSync(join(app, item)), true, item);
    assert.deepEqual(stagingFolders(), [], 'the staging folder was swapped in and removed');

    const second = await deploy();
    assert.equal(second.code, 0, show(second));
    assert.match(second.stdout, /Lock file unchanged \(sha256 [0-9a-f]+…\): skipping npm ci/);
    assert.doesNotMatch(second.stdout, /==> install/);
    assert.match(second.stdout, new RegExp(`Nothing to do: the database is at ${head}\\.`));
    assert.equal(restarts(), 2);
    assert.equal(existsSync(join(app, '.deploy-previous', 'dist', 'migrate.js')), true, 'the previous release is kept');
    assert.equal(existsSync(join(app, 'node_modules', 'better-sqlite3')), true, 'node_modules stays in place');
    assert.deepEqual(stagingFolders(), []);
  });

  test('a failing migration stops the deploy: database unchanged, old code in place, no restart', { timeout: 300_000 }, async (t) => {
    assert.equal(restarts(), 2, 'runs after the successful deploys');
    const tag = addFailingMigration(project);
    const before = databaseState();
    const drizzleBefore = readdirSync(join(app, 'drizzle')).sort();
    const distInode = statSync(join(app, 'dist')).ino;
    const migrateJs = readFileSync(join(app, 'dist', 'migrate.js'), 'utf8');
    appendFileSync(join(app, 'dist', 'marker-of-the-old-build'), 'old\n');

    const failed = await deploy();
    assert.equal(failed.code, 1, show(failed));
    const lastLine = failed.stderr.trimEnd().split('\n').at(-1)!;
    t.diagnostic(lastLine);
    assert.match(lastLine, /^error: deploy failed at step 'migrate': node \S+\/\.deploy-\w+\/dist\/migrate\.js up on \S+ exited with code 1; the service keeps running the old code \(nothing swapped, no restart\)/);
    assert.match(failed.stderr, new RegExp(`drizzle/${tag}\\.sql: statement 2 of 2 failed: no such table: no_such_table`));
    assert.match(failed.stdout, /FAILED after .*, rolled back/);
    const backup = /backed up on the server at (\S+)$/.exec(lastLine)?.[1];
    assert.ok(backup, `the message says where the backup is: ${lastLine}`);
    assert.equal(existsSync(backup), true, backup);

    assert.deepEqual(databaseState(), before, 'schema and bookkeeping rows are unchanged');
    assert.equal(restarts(), 2, 'the restart command did not run');
    assert.deepEqual(readdirSync(join(app, 'drizzle')).sort(), drizzleBefore, 'the deployed migrations are the old ones');
    assert.equal(existsSync(join(app, 'drizzle', `${tag}.sql`)), false);
    assert.equal(statSync(join(app, 'dist')).ino, distInode, 'the deployed dist/ was not replaced');
    assert.equal(existsSync(join(app, 'dist', 'marker-of-the-old-build')), true);
    assert.equal(readFileSync(join(app, 'dist', 'migrate.js'), 'utf8'), migrateJs);
    assert.deepEqual(stagingFolders(), [], 'the staging folder was removed');

    const current = await onServer(`cd ${app} && node dist/migrate.js current --url file:${app}/data/bot.db`);
    assert.equal(current.stdout.trim(), `${head} (head)`, 'the deployed runner still sees its head');
  });
});
