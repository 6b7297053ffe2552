import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeProject } from './helpers/project.js';

/** A loopback port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Ends the child's whole process group (npx starts drizzle-kit as a child of its own), bounded. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const closed = once(child, 'close');
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), 5_000);
  await closed;
  clearTimeout(timer);
}

test('drizzle-kit studio serves the configured database on a loopback port', { timeout: 120_000 }, async () => {
  const project = makeProject();
  let child: ChildProcess | undefined;
  try {
    const env = { DATABASE_URL: 'file:./data/studio.db' };
    const migrated = await project.migrate(['up'], env);
    assert.equal(migrated.code, 0, migrated.stderr);

    const port = await freePort();
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.DEBUG;
    child = spawn('npx', ['drizzle-kit', 'studio', '--port', String(port), '--host', '127.0.0.1'], {
      cwd: project.dir,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = once(child, 'exit').then(() => true);

    // Any HTTP response means the local server is up (the UI itself is a hosted page that talks to it).
    const url = `http://127.0.0.1:${port}/`;
    const deadline = Date.now() + 60_000;
    let status: number | undefined;
    while (status === undefined) {
      if (await Promise.race([exited, new Promise<false>((r) => setTimeout(() => r(false), 250))])) {
        assert.fail(`drizzle-kit studio exited before it answered:\n${output}`);
      }
      if (Date.now() > deadline) assert.fail(`drizzle-kit studio did not answer on ${url} within 60 s:\n${output}`);
      try {
        status = (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status;
      } catch {
        // not listening yet
      }
    }
    assert.ok(status >= 100 && status < 600);
    assert.match(output, new RegExp(`running on .*port=${port}`));

    // The hosted UI reads the database through this endpoint (drizzle-kit 0.31's internal protocol): it must be
    // the database of DATABASE_URL, with the migrated tables.
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'proxy', data: { method: 'values', mode: 'array', sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", params: [] } }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(response.status, 200);
    const tables = ((await response.json()) as string[][]).map((row) => row[0]);
    assert.ok(tables.includes('users') && tables.includes('__drizzle_migrations'), `tables: ${tables.join(', ')}`);
  } finally {
    if (child) await stop(child);
    project.cleanup();
  }
});
