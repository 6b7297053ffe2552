import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeProject, type TempProject } from './helpers/project.js';
import { CRASH_ROWS, buildSeed, copyFileSync, inspectAfterCrash, runAndKill, timeRun, writeCrashProject } from './helpers/crash.js';
import * as runner from '../src/runner.js';

/**
 * SIGKILL at many points of a long table rebuild (and of its down), then: the file is sound, the
 * recorded revision matches the schema exactly, no child row was cascaded away, and `up` completes.
 * bench/crash-stress.ts runs the same with many more kill points.
 */
describe('crash safety', () => {
  let project: TempProject;
  before(async () => {
    project = makeProject({ withMigrations: false });
    writeCrashProject(project);
    await buildSeed(project, 'seed.db');
  });
  after(() => project.cleanup());

  for (const [direction, points] of [['up', 20], ['down', 6]] as const) {
    it(`survives SIGKILL at ${points} points of ${direction}`, async () => {
      const args = direction === 'up' ? ['up'] : ['down'];
      const seed = direction === 'up' ? 'seed.db' : 'seed-head.db';
      if (direction === 'down') {
        copyFileSync(project.path('seed.db'), project.path(seed));
        await runner.upgrade({ url: `file:${project.path(seed)}`, migrationsFolder: project.path('drizzle'), backup: false });
      }
      // Backups on every other run, so kills land in the backup as well as in the migration.
      // The faster of two timing runs: one slowed by a busy machine would put the kill points after the end.
      const total = Math.min(await timeRun(project, seed, 'timing.db', [...args, '--no-backup']), await timeRun(project, seed, 'timing.db', [...args, '--no-backup']));
      let killedCount = 0;
      for (let i = 0; i < points; i++) {
        const file = `kill-${direction}-${i}.db`;
        copyFileSync(project.path(seed), project.path(file));
        const delayMs = Math.round(total * (0.15 + (0.75 * i) / points));
        const outcome = await runAndKill(project, file, i % 2 === 0 ? [...args, '--no-backup'] : args, delayMs);
        if (outcome.killed) killedCount++;

        const state = await inspectAfterCrash(project, file);
        const label = `kill ${i} at ${delayMs} ms (${outcome.killed ? 'killed' : 'had finished'})`;
        assert.equal(state.integrity, 'ok', label);
        assert.ok(['0000_tables', '0001_rebuild_parent'].includes(state.revision), `${label}: revision ${state.revision}`);
        assert.deepEqual(state.drift, [], `${label}: the schema is exactly that of ${state.revision}`);
        assert.equal(state.children, CRASH_ROWS, `${label}: child rows`);

        // The killed runner's lock is stale (its pid is gone): the next run takes it over and completes.
        const again = await runner.upgrade({ url: `file:${project.path(file)}`, migrationsFolder: project.path('drizzle'), backup: false, lockTimeoutMs: 2000 });
        assert.equal(again.to, '0001_rebuild_parent', label);
        const final = await inspectAfterCrash(project, file);
        assert.deepEqual([final.integrity, final.drift, final.children], ['ok', [], CRASH_ROWS], label);
      }
      // Most kill points must land inside the run, or the test proves little.
      assert.ok(killedCount >= points / 2, `only ${killedCount} of ${points} runs were killed before they finished`);
    });
  }
});
