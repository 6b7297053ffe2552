import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { makeProject, type TempProject } from './helpers/project.js';

/** `new <name>`: Alembic's `revision -m`, an empty migration pair to write by hand. */
describe('new: a hand-written migration', () => {
  let project: TempProject;
  let tag: string;
  const count = (db: ReturnType<TempProject['open']>) => (db.prepare("SELECT count(*) AS n FROM users WHERE email = 'admin@example.com'").get() as { n: number }).n;

  before(() => {
    project = makeProject();
  });
  after(() => project.cleanup());

  it('writes an empty up file registered in the journal, and an empty down file to fill in', async () => {
    const result = await project.run('npm', ['run', '--silent', 'db', '--', 'new', 'seed_admin']);
    assert.equal(result.code, 0, result.stderr);
    const journal = JSON.parse(readFileSync(project.path('drizzle/meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    tag = journal.entries.at(-1)!.tag;
    assert.match(tag, /^\d{4}_seed_admin$/);
    assert.match(result.stdout, new RegExp(`Wrote drizzle/${tag}\\.down\\.sql: empty template`));
    assert.match(readFileSync(project.path(`drizzle/${tag}.down.sql`), 'utf8'), /write the SQL that reverses/);
    const history = await project.migrate(['history']);
    assert.match(history.stdout, new RegExp(`${tag} .* pending, head`));
  });

  it('up runs the SQL written into it; down refuses while the down file is empty, then runs it', async () => {
    appendFileSync(project.path(`drizzle/${tag}.sql`), "\nINSERT INTO users (email, password_hash) VALUES ('admin@example.com', 'x');\n");
    const up = await project.migrate(['up', '--no-backup']);
    assert.equal(up.code, 0, up.stderr);
    let db = project.open();
    assert.equal(count(db), 1);
    db.close();

    const refused = await project.migrate(['down', '--no-backup']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^error: cannot revert ${tag}: its down file drizzle/${tag}\\.down\\.sql is empty`, 'm'));
    db = project.open();
    assert.equal(count(db), 1, 'nothing reverted');
    db.close();

    writeFileSync(project.path(`drizzle/${tag}.down.sql`), "DELETE FROM users WHERE email = 'admin@example.com';\n");
    const down = await project.migrate(['down', '--no-backup']);
    assert.equal(down.code, 0, down.stderr);
    db = project.open();
    assert.equal(count(db), 0);
    db.close();
  });
});
