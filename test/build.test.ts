import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { ROOT, appliedRows, runProcess, type RunResult } from './helpers/project.js';

// The production path: the runner compiled to dist/, copied to a folder the way a server gets it (dist/,
// drizzle/, package.json, package-lock.json), installed with production dependencies only, and run with node.
// `npm ci` builds better-sqlite3 from source there: this test takes minutes.

/** Production runs have no NODE_ENV of the test runner's. */
const run = (command: string, args: string[], cwd: string, env: Record<string, string | undefined> = {}) =>
  runProcess(command, args, cwd, { NODE_ENV: undefined, ...env });

function jsFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? jsFiles(path) : name.endsWith('.js') ? [path] : [];
  });
}

const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

test('the built runner works on a production install (npm ci --omit=dev, no drizzle-kit, no tsx)', { timeout: 600_000 }, async () => {
  const server = mkdtempSync(join(tmpdir(), 'migrate-build-'));
  try {
    // Build into the server folder rather than the checkout's dist/, so a build running elsewhere is not disturbed.
    const build = await run('npm', ['run', 'build', '--', '--out-dir', join(server, 'dist')], ROOT);
    assert.equal(build.code, 0, show(build));

    const entry = readFileSync(join(server, 'dist', 'migrate.js'), 'utf8');
    assert.ok(entry.startsWith('#!/usr/bin/env node\n'), 'dist/migrate.js starts with its shebang');
    // The command line is one bundle (start-up): it imports only its own chunks, not tsc's modules beside it.
    assert.doesNotMatch(entry, /\bfrom\s*['"]\.\/(?!cli-chunks\/)[^'"]*['"]/, 'dist/migrate.js imports only ./cli-chunks/');
    for (const file of jsFiles(join(server, 'dist'))) {
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /^\s*(import|export)\b[^;]*?\bfrom\s*['"](drizzle-kit|tsx)(\/[^'"]*)?['"]/m, `${file} imports drizzle-kit or tsx statically`);
      assert.doesNotMatch(text, /^\s*import\s*['"](drizzle-kit|tsx)/m, `${file} imports drizzle-kit or tsx statically`);
      assert.doesNotMatch(text, /\bfrom\s*['"][^'"]+\.ts['"]/, `${file} imports a .ts file`);
    }

    cpSync(join(ROOT, 'drizzle'), join(server, 'drizzle'), { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) cpSync(join(ROOT, file), join(server, file));

    const install = await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], server);
    assert.equal(install.code, 0, show(install));
    for (const devOnly of ['drizzle-kit', 'tsx', 'typescript']) {
      assert.equal(existsSync(join(server, 'node_modules', devOnly)), false, `node_modules/${devOnly} is not installed in production`);
    }
    assert.equal(existsSync(join(server, 'node_modules', 'better-sqlite3')), true);

    const journal = JSON.parse(readFileSync(join(ROOT, 'drizzle', 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    const tags = journal.entries.map((e) => e.tag);
    const head = tags.at(-1)!;
    const beforeHead = tags.length > 1 ? tags.at(-2)! : 'base';
    assert.ok(tags.length > 0);

    mkdirSync(join(server, 'data'));
    const database = join(server, 'data', 'bot.db');
    const env = { DATABASE_URL: `file:${database}` };
    const migrate = (...args: string[]) => run(process.execPath, ['dist/migrate.js', ...args], server, env);

    const up = await migrate('up', '--lock-timeout', '30');
    assert.equal(up.code, 0, show(up));
    assert.match(up.stdout, new RegExp(`Applied ${tags.length} migrations? in .*: base -> ${head}\\.`));

    const current = await migrate('current');
    assert.equal(current.code, 0, show(current));
    assert.equal(current.stdout.trim(), `${head} (head)`);

    // The query layer is built too, and runs on the production dependencies alone.
    const script = [
      "import { createDb, closeDb } from './dist/db.js';",
      "import { createUser, getUserByEmail } from './dist/queries/index.js';",
      'const db = await createDb();',
      "await createUser(db, { email: 'Ops@Example.com', password: 'correct horse battery' });",
      "const found = await getUserByEmail(db, 'ops@example.com');",
      'closeDb(db);',
      'console.log(found?.email);',
    ].join('\n');
    const queries = await run(process.execPath, ['--input-type=module', '-e', script], server, env);
    assert.equal(queries.code, 0, show(queries));
    assert.equal(queries.stdout.trim(), 'ops@example.com');

    const history = await migrate('history');
    assert.equal(history.code, 0, show(history));
    const lines = history.stdout.trimEnd().split('\n');
    assert.equal(lines.length, tags.length);
    for (const [i, tag] of tags.entries()) assert.match(lines[i]!, new RegExp(`^${i === tags.length - 1 ? '>' : ' '} ${tag} .*applied`));
    assert.match(lines.at(-1)!, /applied, current, head/);

    const down = await migrate('down');
    assert.equal(down.code, 0, show(down));
    assert.match(down.stdout, new RegExp(`Reverted 1 migration in .*: ${head} -> ${beforeHead}\\.`));

    const status = await migrate('status');
    assert.equal(status.code, 0, show(status));
    assert.match(status.stdout, new RegExp(`Current:  ${beforeHead}`));
    assert.match(status.stdout, new RegExp(`Pending:  1 \\(${head}\\)`));
    assert.match(status.stdout, /Problems: none/);

    // The checks that need no models run from the build too.
    const verify = await migrate('verify');
    assert.equal(verify.code, 0, show(verify));
    assert.match(verify.stdout, new RegExp(`Verified ${tags.length} migrations?: up, down and up again`));
    const backups = await migrate('backups');
    assert.equal(backups.code, 0, show(backups));
    assert.match(backups.stdout, new RegExp(`at ${head} `), 'down backed up the database at head first');

    const db = new Database(database, { readonly: true });
    try {
      assert.equal(appliedRows(db).length, tags.length - 1);
    } finally {
      db.close();
    }

    // The commands that need the TypeScript models or drizzle-kit refuse in one line, naming the way that works.
    for (const args of [['generate', '--name', 'x'], ['check'], ['new', 'x'], ['write-down']]) {
      const refused = await migrate(...args);
      assert.equal(refused.code, 1, show(refused));
      assert.equal(refused.stdout, '');
      assert.equal(
        refused.stderr,
        `error: '${args[0]}' needs the TypeScript models and drizzle-kit, which the built runner does not include: run it from the source checkout with npm run db -- ${args[0]}\n`,
      );
    }
    assert.deepEqual(readdirSync(join(server, 'drizzle')).sort(), readdirSync(join(ROOT, 'drizzle')).sort(), 'nothing was generated');
  } finally {
    rmSync(server, { recursive: true, force: true });
  }
});
