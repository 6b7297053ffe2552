import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { appliedRows, makeProject, tableNames, type TempProject } from './helpers/project.js';

/** The README's commands, run as a new user runs them: through npm, in the project folder. */
describe('README commands', () => {
  let project: TempProject;
  before(() => {
    project = makeProject();
  });
  after(() => project.cleanup());

  it('npm run db:migrate creates ./data/bot.db at head; npm run db -- <command> runs the runner', async () => {
    const migrate = await project.run('npm', ['run', '--silent', 'db:migrate']);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /^Running upgrade base -> 0000_initial_migration/m);
    const db = project.open();
    assert.ok(tableNames(db).includes('users'));
    assert.equal(appliedRows(db).length, (await import('../drizzle/meta/_journal.json', { with: { type: 'json' } })).default.entries.length);
    db.close();

    const status = await project.run('npm', ['run', '--silent', 'db', '--', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^Pending: {2}0$/m);
    assert.match(status.stdout, /^Problems: none$/m);
  });
});
