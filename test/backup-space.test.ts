import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { appliedRows, makeProject, schemaDump, type TempProject } from './helpers/project.js';
import { writeMigrations } from './helpers/migrations.js';

const env = { DATABASE_URL: 'file:./app.db' };

/** A project at 0000 with `rows` items (about 60 bytes each), two more migrations pending. */
async function projectWithRows(rows: number): Promise<TempProject> {
  const project = makeProject({ withMigrations: false });
  writeMigrations(project.path('drizzle'), [
    { name: 'items', up: ['CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT, note TEXT)'], down: ['DROP TABLE items'] },
    { name: 'add_qty', up: ['ALTER TABLE items ADD qty INTEGER'], down: ['ALTER TABLE items DROP COLUMN qty'] },
    { name: 'add_tag', up: ['ALTER TABLE items ADD tag TEXT'], down: ['ALTER TABLE items DROP COLUMN tag'] },
  ]);
  assert.equal((await project.migrate(['up', '0000'], env)).code, 0);
  const db = project.open('app.db');
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows})
           INSERT INTO items (sku, note) SELECT 'sku-' || i, hex(randomblob(20)) FROM n`);
  db.close();
  return project;
}

function stateOf(project: TempProject): { schema: string; applied: number } {
  const db = project.open('app.db');
  try {
    return { schema: schemaDump(db), applied: appliedRows(db).length };
  } finally {
    db.close();
  }
}

const backupFiles = (project: TempProject) => (existsSync(project.path('backups')) ? readdirSync(project.path('backups')).filter((f) => f.endsWith('.db')).sort() : []);

describe('backups: free space, a size budget, and what each backup is of', () => {
  let project: TempProject;
  before(async () => {
    project = await projectWithRows(30_000); // about 2.5 MB
  });
  after(() => project.cleanup());

  it('refuses a change whose backup the disk has no room for, naming bytes needed and free, changing nothing', async (t) => {
    const small = await projectWithRows(30_000);
    mkdirSync(small.path('backups'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small.path('backups')], { stdio: 'pipe' });
    } catch (error) {
      small.cleanup();
      t.skip(`SKIPPED: a 1 MB tmpfs cannot be mounted here (needs root): ${(error as Error).message.split('\n')[0]}`);
      return;
    }
    try {
      const before = stateOf(small);
      const refused = await small.migrate(['up'], env);
      assert.equal(refused.code, 1, refused.stdout);
      const lines = refused.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, refused.stderr);
      assert.match(lines[0]!, /^error: cannot back up \S*app\.db: the backup needs \d\.\d MB and \S*backups has 1\.0 MB free; nothing was changed \(free some space there, or go on without one: --no-backup\)$/);
      assert.deepEqual(stateOf(small), before);
      assert.deepEqual(readdirSync(small.path('backups')), [], 'nothing was written, not even a partial file');
    } finally {
      execFileSync('umount', [small.path('backups')]);
      small.cleanup();
    }
  });

  it('--max-backup-size: rotation removes the oldest it may to fit; refuses before changing anything when it cannot', async () => {
    const broken = makeProject({ withMigrations: false });
    const fill = (tag: string) => {
      const db = broken.open('app.db');
      db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO items (sku, note) SELECT '${tag}-' || i, hex(randomblob(20)) FROM n`);
      db.close();
    };
    try {
      writeMigrations(broken.path('drizzle'), [
        { name: 'items', up: ['CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT, note TEXT)'], down: ['DROP TABLE items'] },
        { name: 'add_qty', up: ['ALTER TABLE items ADD qty INTEGER'], down: ['ALTER TABLE items DROP COLUMN qty'] },
        { name: 'broken', up: ['ALTER TABLE items ADD x TEXT', 'SELECT * FROM no_such_table'], down: ['ALTER TABLE items DROP COLUMN x'] },
      ]);
      assert.equal((await broken.migrate(['up', '0000'], env)).code, 0);
      fill('first');
      // The last change that works: its backup (of 0000) is the one an operator needs.
      assert.equal((await broken.migrate(['up', '+1'], env)).code, 0);
      // Three states of 0001, backed up by failing runs of the broken migration.
      for (let i = 0; i < 3; i++) {
        fill(`retry${i}`);
        assert.equal((await broken.migrate(['up'], env)).code, 1);
      }
      const four = backupFiles(broken);
      assert.equal(four.length, 4, four.join(', '));
      assert.match(four[0]!, /\.0000_items\.db$/);
      const size = (f: string) => readFileSync(broken.path('backups', f)).length;
      // Room for the backup of 0000, the newest two of 0001 and the next one: the oldest of 0001 goes.
      fill('more');
      const db = broken.open('app.db');
      const next = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
      db.close();
      // The new backup also holds the page of the runner's lock table (freed in it, still counted).
      const budget = size(four[0]!) + size(four[2]!) + size(four[3]!) + next + 3 * 4096;
      const fits = await broken.migrate(['up', '--max-backup-size', String(budget)], env);
      assert.equal(fits.code, 1, 'the broken migration still fails, after its backup');
      const kept = backupFiles(broken);
      assert.deepEqual(kept.slice(0, 3), [four[0], four[2], four[3]], `the oldest of 0001 was removed: ${kept.join(', ')}`);
      assert.equal(kept.length, 4);
      assert.ok(!existsSync(broken.path('backups', `${four[1]}.json`)), 'its record went with it');

      // Less than the backup of 0000 and a new one together: nothing may go, so nothing changes.
      fill('last');
      const before = stateOf(broken);
      const filesBefore = readdirSync(broken.path('backups')).sort();
      const refused = await broken.migrate(['up', '--max-backup-size', String(size(four[0]!) + 1000), '--keep-backups', '1'], env);
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr.trimEnd().split('\n').length, 1, refused.stderr);
      assert.match(
        refused.stderr,
        /^error: cannot back up \S*app\.db within --max-backup-size \(\d+\.\d [KM]B\): the 1 backup\(s\) that rotation must keep \(the newest of each revision\) and the new one \(\d+\.\d [KM]B\) take \d+\.\d [KM]B; nothing was changed/,
      );
      assert.doesNotMatch(refused.stdout, /Running upgrade/, 'no migration ran');
      assert.deepEqual(readdirSync(broken.path('backups')).sort(), filesBefore);
      assert.deepEqual(stateOf(broken), before);
    } finally {
      broken.cleanup();
    }
  });

  it('a bad --max-backup-size is one line, exit 2 (usage), before anything is opened', async () => {
    for (const bad of ['lots', '0', '0.5x', '12 parsecs']) {
      const result = await project.migrate(['up', '--max-backup-size', bad], env);
      assert.equal(result.code, 2, bad);
      assert.equal(result.stderr.trimEnd(), `error: --max-backup-size must be a size (2GB, 500MB, 1000000) or a multiple of the database's size of at least 1 (5x), not '${bad}'`);
    }
    assert.equal(stateOf(project).applied, 1);
  });

  it("each backup has a record (database, revision, time, digest) that 'backups' shows; restore refuses one changed since", async () => {
    const up = await project.migrate(['up', '+1'], env);
    assert.equal(up.code, 0, up.stderr);
    const [file] = backupFiles(project);
    const record = JSON.parse(readFileSync(project.path('backups', `${file}.json`), 'utf8')) as Record<string, unknown>;
    assert.equal(record.database, project.path('app.db'));
    assert.equal(record.revision, '0000_items');
    assert.match(String(record.sha256), /^[0-9a-f]{64}$/);
    assert.equal(record.bytes, readFileSync(project.path('backups', file!)).length);

    const listed = await project.migrate(['backups'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^  ${file!.replace(/\./g, '\\.')}  \\S+  at 0000_items  \\d+\\.\\d MB  of \\S*app\\.db, sha256 ${String(record.sha256).slice(0, 12)}$`, 'm'));

    // One byte of a row changed in the backup (the last page, in a note's hex): restore must not put it in place.
    const bytes = readFileSync(project.path('backups', file!));
    const at = bytes.lastIndexOf(Buffer.from('sku-'));
    bytes[at + 3] = '_'.charCodeAt(0);
    writeFileSync(project.path('backups', file!), bytes);
    const before = stateOf(project);
    const refused = await project.migrate(['restore', 'latest'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr.trimEnd(), new RegExp(`^error: ${file!.replace(/\./g, '\\.')} is not the backup that was taken: its content digest is [0-9a-f]{12}, its record says ${String(record.sha256).slice(0, 12)} \\(changed or damaged since\\); nothing was restored$`));
    assert.deepEqual(stateOf(project), before);
  });

  it('a record left without its backup (a run killed between the two renames) is removed by the next backup and reported', async () => {
    const orphan = 'app.db.20260101T000000000Z.0000_items.db.json';
    writeFileSync(project.path('backups', orphan), '{}');
    const down = await project.migrate(['down', '-1'], env);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`^Removed ${orphan.replace(/\./g, '\\.')} \\(2 B\\): the record of a backup that is gone$`, 'm'));
    assert.ok(!existsSync(project.path('backups', orphan)));
    for (const file of backupFiles(project)) assert.ok(existsSync(project.path('backups', `${file}.json`)), `${file} keeps its record`);
  });
});
