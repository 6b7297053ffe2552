import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { appliedRows, makeProject, schemaDump, tableNames, type RunResult, type TempProject } from './helpers/project.js';
import { writeMigrations } from './helpers/migrations.js';

/** The state of a database file that "nothing changed" compares: schema, bookkeeping and every row. */
function snapshotOf(db: Database.Database): string {
  const rows = tableNames(db).map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all()));
  return [schemaDump(db), JSON.stringify(appliedRows(db)), ...rows].join('\n');
}

/** One clear line on stderr: `error: …`, no stack trace. */
function assertOneLineError(result: RunResult, pattern: RegExp): void {
  assert.equal(result.code, 1, result.stderr);
  const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
  assert.equal(errors.length, 1, result.stderr);
  assert.match(errors[0]!, pattern);
  assert.doesNotMatch(result.stderr, /^\s+at /m);
}

describe('bad input: a clear error, a non-zero exit, nothing changed', () => {
  let project: TempProject;
  const url = (file: string, query = '') => ({ DATABASE_URL: `file:./${file}${query}` });
  const state = (file: string) => {
    const db = project.open(file);
    try {
      return snapshotOf(db);
    } finally {
      db.close();
    }
  };

  before(async () => {
    project = makeProject({ withMigrations: false });
    writeMigrations(project.path('drizzle'), [
      { name: 'people', up: ['CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, email TEXT)'], down: ['DROP TABLE people'] },
      {
        name: 'name_required',
        up: [
          'CREATE TABLE __new_people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT)',
          'INSERT INTO __new_people (id, name, email) SELECT id, name, email FROM people',
          'DROP TABLE people',
          'ALTER TABLE __new_people RENAME TO people',
        ],
        down: [
          'CREATE TABLE __new_people (id INTEGER PRIMARY KEY, name TEXT, email TEXT)',
          'INSERT INTO __new_people (id, name, email) SELECT id, name, email FROM people',
          'DROP TABLE people',
          'ALTER TABLE __new_people RENAME TO people',
        ],
      },
    ]);
    // base.db: at 0000 with a NULL name; head.db: at 0001 with clean data.
    assert.equal((await project.migrate(['up', '0000', '--no-backup'], url('base.db'))).code, 0);
    const db = project.open('base.db');
    db.exec("INSERT INTO people (name, email) VALUES ('Ann', 'a@x'), (NULL, 'b@x'), ('Cy', 'a@x'), (NULL, 'd@x')");
    db.close();
    assert.equal((await project.migrate(['up', '--no-backup'], url('head.db'))).code, 0);
    const head = project.open('head.db');
    head.exec("INSERT INTO people (name, email) VALUES ('Ann', 'a@x'), ('Bo', 'a@x')");
    head.close();
  });
  after(() => project.cleanup());

  it('a file that is not SQLite', async () => {
    const junk = 'this is not a database '.repeat(50);
    writeFileSync(project.path('junk.db'), junk);
    for (const args of [['up'], ['down'], ['current'], ['status']]) {
      assertOneLineError(await project.migrate(args, url('junk.db')), /junk\.db is not a SQLite database/);
    }
    assert.equal(readFileSync(project.path('junk.db'), 'utf8'), junk);
  });

  it('a read-only database', async () => {
    const before = state('base.db');
    for (const args of [['up'], ['down']]) {
      assertOneLineError(await project.migrate(args, url('base.db', '?mode=ro')), /read-only|readonly/);
    }
    assert.equal(state('base.db'), before);
    assertOneLineError(await project.migrate(['up'], url('missing.db', '?mode=ro')), /missing\.db/);
    assert.equal(existsSync(project.path('missing.db')), false);
  });

  it('a database locked by another writer past the busy timeout', async () => {
    const before = state('base.db');
    const writer = project.open('base.db');
    writer.exec('BEGIN IMMEDIATE');
    try {
      for (const args of [['up'], ['down']]) {
        assertOneLineError(
          await project.migrate([...args, '--lock-timeout', '0.3'], url('base.db', '?timeout=100')),
          /locked by another connection writing to it; gave up after/,
        );
      }
    } finally {
      writer.exec('ROLLBACK');
      writer.close();
    }
    assert.equal(state('base.db'), before);
  });

  it('a missing folder, a corrupt journal, a journal entry without its SQL file', async () => {
    const before = state('base.db');
    assertOneLineError(await project.migrate(['up', '--dir', 'nowhere'], url('base.db')), /nowhere\/meta\/_journal\.json does not exist/);
    assertOneLineError(await project.migrate(['up', '--dir', 'nowhere'], url('fresh.db')), /does not exist/);
    assert.equal(existsSync(project.path('fresh.db')), false, 'no database file created');

    const journal = project.path('drizzle/meta/_journal.json');
    const original = readFileSync(journal, 'utf8');
    try {
      writeFileSync(journal, original.slice(0, 40));
      for (const args of [['up'], ['down']]) assertOneLineError(await project.migrate(args, url('base.db')), /_journal\.json is not valid JSON/);
      writeFileSync(journal, original);
      rmSync(project.path('drizzle/0001_name_required.sql'));
      for (const args of [['up'], ['down']]) {
        assertOneLineError(await project.migrate(args, url('base.db')), /journal entry 0001_name_required has no SQL file: drizzle\/0001_name_required\.sql is missing/);
      }
    } finally {
      writeFileSync(journal, original);
      writeFileSync(
        project.path('drizzle/0001_name_required.sql'),
        readFileSync(project.path('drizzle/0001_name_required.down.sql'), 'utf8').replace('name TEXT,', 'name TEXT NOT NULL,'),
      );
    }
    assert.equal(state('base.db'), before);
  });

  it('a column made NOT NULL while rows hold NULL names the rows', async () => {
    const before = state('base.db');
    assertOneLineError(
      await project.migrate(['up', '--no-backup'], url('base.db')),
      /0001_name_required\.sql: statement 2 of 4 failed: NOT NULL constraint failed: __new_people\.name .*2 row\(s\) of people hold NULL in name \(rowid 2, 4\)/,
    );
    assert.equal(state('base.db'), before);
  });

  it('a unique index over duplicate values names them, in down as well', async () => {
    const folder = project.path('drizzle');
    const downPath = `${folder}/0001_name_required.down.sql`;
    const originalDown = readFileSync(downPath, 'utf8');
    writeFileSync(downPath, `${originalDown}\n--> statement-breakpoint\nCREATE UNIQUE INDEX people_email_unique ON people (email)`);
    try {
      const before = state('head.db');
      assertOneLineError(
        await project.migrate(['down', '--no-backup'], url('head.db')),
        /0001_name_required\.down\.sql: statement 5 of 5 failed: UNIQUE constraint failed: people\.email .*1 value\(s\) of people\(email\) are duplicated, e\.g\. "a@x" \(2 rows\)/,
      );
      assert.equal(state('head.db'), before);
    } finally {
      writeFileSync(downPath, originalDown);
    }
  });
});
