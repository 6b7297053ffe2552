// Crash stress: SIGKILL the runner at many points of a long table rebuild (up and down) and check what
// it leaves, as test/crash.test.ts does at fewer points. Usage: npm run bench:crash -- [points per direction]
import assert from 'node:assert/strict';
import { makeProject } from '../test/helpers/project.js';
import { CRASH_ROWS, buildSeed, copyFileSync, inspectAfterCrash, runAndKill, timeRun, writeCrashProject } from '../test/helpers/crash.js';
import * as runner from '../src/runner.js';

const points = Number(process.argv[2] ?? 100);
const project = makeProject({ withMigrations: false });
try {
  writeCrashProject(project);
  await buildSeed(project, 'seed.db');
  copyFileSync(project.path('seed.db'), project.path('seed-head.db'));
  await runner.upgrade({ url: `file:${project.path('seed-head.db')}`, migrationsFolder: project.path('drizzle'), backup: false });

  for (const direction of ['up', 'down'] as const) {
    const seed = direction === 'up' ? 'seed.db' : 'seed-head.db';
    const total = await timeRun(project, seed, 'timing.db', [direction, '--no-backup']);
    const outcomes = { killed: 0, finished: 0 };
    const leftAt = new Map<string, number>();
    for (let i = 0; i < points; i++) {
      const file = `kill.db`;
      copyFileSync(project.path(seed), project.path(file));
      // Random points over the whole run (start-up, backup, migration, exit), half of them with a backup.
      const delayMs = Math.round(Math.random() * total * 1.1);
      const outcome = await runAndKill(project, file, i % 2 === 0 ? [direction, '--no-backup'] : [direction], delayMs);
      outcome.killed ? outcomes.killed++ : outcomes.finished++;
      const state = await inspectAfterCrash(project, file);
      const label = `${direction} kill ${i} at ${delayMs} ms`;
      assert.equal(state.integrity, 'ok', label);
      assert.deepEqual(state.drift, [], label);
      assert.equal(state.children, CRASH_ROWS, label);
      leftAt.set(state.revision, (leftAt.get(state.revision) ?? 0) + 1);
      const again = await runner.upgrade({ url: `file:${project.path(file)}`, migrationsFolder: project.path('drizzle'), backup: false, lockTimeoutMs: 2000 });
      assert.equal(again.to, '0001_rebuild_parent', label);
    }
    console.log(
      `${direction}: ${points} kill points over a ${total.toFixed(0)} ms run: ${outcomes.killed} killed, ${outcomes.finished} finished first; ` +
        `left at ${[...leftAt].map(([rev, n]) => `${rev}: ${n}`).join(', ')}; every one sound, drift-free, children intact, and completed by a second up`,
    );
  }
} finally {
  project.cleanup();
}
