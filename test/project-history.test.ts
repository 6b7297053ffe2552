// The project's own migrations pass `check` (history, models, model-match) and `verify` (the stairway), as the
// commands a developer runs before committing a migration. Runs on a copy, so no database of the project is used.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { makeProject, type TempProject } from './helpers/project.js';

describe("the project's own migrations", () => {
  let project: TempProject;
  before(() => {
    project = makeProject();
  });
  after(() => project.cleanup());

  it('check: one straight history, no model change without a migration, the migrations give the models\' schema', async () => {
    const result = await project.migrate(['check']);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^History +ok: /m);
    assert.match(result.stdout, /^Models +ok: /m);
    assert.match(result.stdout, /^Model-match +ok: the migrations give the schema of the models$/m);
  });

  it('verify: every migration goes up, down and up again, giving back the schema and the rows', async () => {
    const result = await project.migrate(['verify', '--json']);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const parsed = JSON.parse(result.stdout) as { ok: boolean; migrations: number; passed: string[]; warnings: string[] };
    assert.equal(parsed.ok, true);
    assert.equal(parsed.passed.length, parsed.migrations);
    assert.deepEqual(parsed.warnings, [], 'rows were generated into every table');
    assert.equal(existsSync(project.path('data')), false, 'no database file was made');
  });
});
