// `check`: the history's consistency (pure, table of cases), the models against the migrations with
// drizzle-kit's own diff, model-match on real scratch databases, and the command as a real process.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { check, type CheckResult } from '../src/checks.js';
import { renderCheck } from '../src/cli/schema-commands.js';
import { checkHistory, type HistoryInput } from '../src/engine/checks/history.js';
import { compareModelsWithMigrations, compareModelsWithSnapshot } from '../src/engine/checks/models.js';
import { ORIGIN_ID, type SqliteSnapshot } from '../src/engine/diff/snapshot.js';
import { loadMigrations } from '../src/engine/journal.js';
import { writeMigrations } from './helpers/migrations.js';
import { makeProject, type TempProject } from './helpers/project.js';

describe('check: history consistency', () => {
  const entry = (idx: number, name: string, when = 1000 + idx) => ({ idx, tag: `${String(idx).padStart(4, '0')}_${name}`, when });
  const snap = (idx: number) => `${String(idx).padStart(4, '0')}_snapshot.json`;
  /** Three migrations in a straight line, each with its files and a snapshot chained to the one before. */
  const clean = (): HistoryInput => ({
    folder: 'drizzle',
    entries: [entry(0, 'init'), entry(1, 'phone'), entry(2, 'posts')],
    files: ['0000_init.sql', '0000_init.down.sql', '0001_phone.sql', '0001_phone.down.sql', '0002_posts.sql', '0002_posts.down.sql'],
    snapshots: { [snap(0)]: { id: 'a', prevId: ORIGIN_ID }, [snap(1)]: { id: 'b', prevId: 'a' }, [snap(2)]: { id: 'c', prevId: 'b' } },
  });
  const cases: { what: string; change: (h: HistoryInput) => void; expected: [string, RegExp, RegExp][] }[] = [
    { what: 'a straight line', change: () => {}, expected: [] },
    {
      what: 'a fork: two snapshots with the same prevId (made on separate branches)',
      change: (h) => (h.snapshots[snap(2)] = { id: 'c', prevId: 'a' }),
      expected: [['fork', /^0001_phone and 0002_posts all follow 0000_init \(prevId a\): they were made on separate branches \(Alembic's "multiple heads"\)$/, /^regenerate the later migration: delete it .*and run npm run db:generate again after merging$/]],
    },
    {
      what: 'a broken chain',
      change: (h) => (h.snapshots[snap(2)] = { id: 'c', prevId: 'zzz' }),
      expected: [['broken-chain', /^the snapshot of 0002_posts follows an unknown snapshot zzz, not 0001_phone before it in the journal$/, /regenerate the later migration/]],
    },
    {
      what: 'a first snapshot that does not start from the empty schema',
      change: (h) => (h.snapshots[snap(0)] = { id: 'a', prevId: 'x' }),
      expected: [['broken-chain', /^the snapshot of 0000_init follows an unknown snapshot x, not the empty schema before it/, /./]],
    },
    {
      what: 'duplicate idx in the journal',
      change: (h) => h.entries.push({ idx: 2, tag: '0002_other', when: 2000 }),
      expected: [
        ['duplicate-idx', /^journal entries 0002_posts and 0002_other have the same idx 2/, /regenerate the later migration/],
        ['missing-sql', /0002_other has no SQL file: drizzle\/0002_other\.sql is missing/, /restore the file/],
      ],
    },
    {
      what: 'duplicate tag in the journal',
      change: (h) => h.entries.push({ ...entry(2, 'posts'), idx: 3, when: 3000 }),
      expected: [
        ['duplicate-tag', /^the journal lists 0002_posts 2 times$/, /remove the repeated entry from drizzle\/meta\/_journal\.json/],
        ['missing-snapshot', /0002_posts has no snapshot: drizzle\/meta\/0003_snapshot\.json is missing/, /restore it/],
      ],
    },
    {
      what: 'a journal entry without its SQL file',
      change: (h) => (h.files = h.files.filter((f) => f !== '0001_phone.sql')),
      expected: [['missing-sql', /^journal entry 0001_phone has no SQL file: drizzle\/0001_phone\.sql is missing$/, /restore the file from version control/]],
    },
    {
      what: 'a journal entry without its snapshot',
      change: (h) => {
        delete h.snapshots[snap(2)];
      },
      expected: [['missing-snapshot', /^journal entry 0002_posts has no snapshot: drizzle\/meta\/0002_snapshot\.json is missing$/, /restore it from version control/]],
    },
    {
      what: 'an unreadable snapshot',
      change: (h) => (h.snapshots[snap(1)] = null),
      expected: [
        ['bad-snapshot', /^the snapshot of 0001_phone .* is not valid JSON with an id and a prevId$/, /merge conflict/],
        ['broken-chain', /the snapshot of 0002_posts follows an unknown snapshot b, not 0000_init/, /./],
      ],
    },
    {
      what: 'a copied snapshot (same id twice)',
      change: (h) => (h.snapshots[snap(2)] = { id: 'b', prevId: 'b' }),
      expected: [['duplicate-snapshot-id', /^the snapshots of 0001_phone and 0002_posts have the same id b \(a copied snapshot\)$/, /regenerate/]],
    },
    {
      what: 'a migration created before the one it follows (drizzle-kit migrate would skip it)',
      change: (h) => (h.entries[2]!.when = 500),
      expected: [['when-order', /^0002_posts was created \(journal when 500\) no later than 0001_phone before it \(1001\): drizzle-kit migrate skips it on every database where 0001_phone is applied$/, /regenerate/]],
    },
    {
      what: 'files the journal does not list',
      change: (h) => {
        h.files.push('0003_lost.sql', '0003_lost.down.sql');
        h.snapshots[snap(3)] = { id: 'd', prevId: 'c' };
      },
      expected: [
        ['not-in-journal', /^drizzle\/0003_lost\.sql is not in the journal: no runner applies it$/, /lost in a merge/],
        ['not-in-journal', /^drizzle\/0003_lost\.down\.sql is not in the journal/, /./],
        ['not-in-journal', /^drizzle\/meta\/0003_snapshot\.json belongs to no journal entry/, /./],
      ],
    },
  ];
  for (const { what, change, expected } of cases) {
    it(what, () => {
      const input = clean();
      change(input);
      const found = checkHistory(input);
      assert.deepEqual(found.map((f) => f.kind).sort(), expected.map(([kind]) => kind).sort(), JSON.stringify(found, null, 2));
      for (const [kind, message, fix] of expected) {
        assert.ok(found.some((f) => f.kind === kind && message.test(f.message) && fix.test(f.fix)), `${kind} ${message} ${fix}\n${JSON.stringify(found, null, 2)}`);
      }
    });
  }
});

describe('check: the models against the last snapshot (drizzle-kit diff)', () => {
  let api: typeof import('drizzle-kit/api');
  before(async () => {
    api = await import('drizzle-kit/api');
  });
  const snapshotOf = async (tables: Record<string, unknown>) => (await api.generateSQLiteDrizzleJson(tables)) as unknown as SqliteSnapshot;
  const users = sqliteTable('users', { id: integer('id').primaryKey(), email: text('email').notNull() }, (t) => [uniqueIndex('users_email_unique').on(t.email)]);
  const refuseDiff = async (): Promise<string[]> => assert.fail('the diff must not run when a rename is possible: it would ask in a terminal');

  it('finds nothing when the models are what the last snapshot holds', async () => {
    assert.deepEqual(await compareModelsWithSnapshot(await snapshotOf({ users }), await snapshotOf({ users })), []);
  });

  it('lists the SQL drizzle-kit would generate for a new column', async () => {
    const withPhone = sqliteTable('users', { id: integer('id').primaryKey(), email: text('email').notNull(), phone: text('phone') }, (t) => [uniqueIndex('users_email_unique').on(t.email)]);
    const [difference, ...rest] = await compareModelsWithSnapshot(await snapshotOf({ users }), await snapshotOf({ users: withPhone }));
    assert.deepEqual(rest, []);
    assert.deepEqual(difference!.statements, ['ALTER TABLE `users` ADD `phone` text;']);
    assert.match(difference!.message, /^the models have changes that no migration holds; drizzle-kit would generate:\nALTER TABLE `users` ADD `phone` text;$/);
  });

  it('names a column removed and another added without running the diff (it would ask about a rename)', async () => {
    const renamed = sqliteTable('users', { id: integer('id').primaryKey(), mail: text('mail').notNull() });
    const found = await compareModelsWithSnapshot(await snapshotOf({ users }), await snapshotOf({ users: renamed }), refuseDiff);
    assert.deepEqual(found.map((d) => d.message), ['column users.mail is in the models but in no migration', 'column users.email is in the migrations but not in the models']);
  });

  it('names a table removed and another added without running the diff', async () => {
    const accounts = sqliteTable('accounts', { id: integer('id').primaryKey() });
    const found = await compareModelsWithSnapshot(await snapshotOf({ users }), await snapshotOf({ accounts }), refuseDiff);
    assert.deepEqual(found.map((d) => d.message), ['table accounts is in the models but in no migration', 'table users is in the migrations but not in the models']);
  });

  it('model-match: migrations whose SQL differs from the models (a hand-edited migration)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'check-'));
    const folder = join(dir, 'drizzle');
    writeMigrations(folder, [{ name: 'init', up: ['CREATE TABLE `users` (`id` integer PRIMARY KEY NOT NULL, `email` text);'] }]);
    const differences = await compareModelsWithMigrations(loadMigrations(folder), await snapshotOf({ users })).finally(() => rmSync(dir, { recursive: true, force: true }));
    assert.deepEqual(differences, [
      'column users.email notNull differs: the models has true, the migrations has false',
      'index users_email_unique on users is missing from the migrations',
    ]);
  });
});

describe('check on a copy of the project', () => {
  let project: TempProject;
  const run = (schema = 'src/schema/index.ts') => check({ migrationsFolder: project.path('drizzle'), schemaPath: project.path(schema) });
  before(() => {
    project = makeProject();
  });
  after(() => project.cleanup());

  it('passes the project as it is', async () => {
    const result = await run();
    assert.deepEqual(result.findings, []);
    assert.equal(result.ok, true);
    assert.equal(result.comparedWith, 'models');
  });

  it('reports a model change without a migration, and compares the migrations with the last snapshot then', async () => {
    const users = readFileSync(project.path('src/schema/users.ts'), 'utf8');
    writeFileSync(project.path('src/schema/with-nickname.ts'), users.replace("  passwordHash:", "  nickname: text('nickname'),\n  passwordHash:"));
    const result = await run('src/schema/with-nickname.ts');
    assert.equal(result.ok, false);
    assert.equal(result.comparedWith, 'last snapshot');
    assert.deepEqual(result.findings.map((f) => [f.check, f.kind, f.statements]), [['models', 'ungenerated', ['ALTER TABLE `users` ADD `nickname` text;']]]);
    assert.match(result.findings[0]!.fix, /npm run db:generate -- --name <name>/);
  });

  it('catches a hand-edited migration by model-match', async () => {
    const path = project.path('drizzle/0000_initial_migration.sql');
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, original.replace('`password_reset_token` text,', '`password_reset_token` text NOT NULL,'));
    try {
      const result = await run();
      assert.equal(result.ok, false);
      assert.deepEqual(result.findings.map((f) => [f.check, f.kind, f.message]), [
        ['model-match', 'mismatch', 'column users.password_reset_token notNull differs: the models has false, the migrations has true'],
      ]);
      assert.match(result.findings[0]!.fix, /edited by hand/);
    } finally {
      writeFileSync(path, original);
    }
  });

  it('does not run model-match over a history that lacks a migration file, and says so', async () => {
    const broken = project.path('broken-drizzle');
    cpSync(project.path('drizzle'), broken, { recursive: true });
    const journal = JSON.parse(readFileSync(join(broken, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    rmSync(join(broken, `${journal.entries.at(-1)!.tag}.sql`));
    const result = await check({ migrationsFolder: broken, schemaPath: project.path('src/schema/index.ts') });
    assert.equal(result.comparedWith, null);
    assert.deepEqual(result.findings.map((f) => [f.check, f.kind]), [['history', 'missing-sql']]);
    assert.match(renderCheck(result), /^Model-match  not run: fix the history first$/m);
  });

  it('reports models without any migration yet (a new project)', async () => {
    const result = await check({ migrationsFolder: project.path('no-migrations-yet'), schemaPath: project.path('src/schema/index.ts') });
    assert.equal(result.migrations, 0);
    assert.deepEqual(result.findings.map((f) => [f.check, f.kind]), [['models', 'ungenerated']]);
    assert.match(result.findings[0]!.message, /CREATE TABLE `users`/);
  });
});

describe('check command', () => {
  let project: TempProject;
  before(() => {
    project = makeProject();
  });
  after(() => project.cleanup());

  it('exits 1 on a model change without a migration, printing the SQL to generate', async () => {
    const migrationCount = (JSON.parse(readFileSync(project.path('drizzle/meta/_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;
    const path = project.path('src/schema/users.ts');
    const users = readFileSync(path, 'utf8');
    writeFileSync(path, users.replace("  passwordHash:", "  nickname: text('nickname'),\n  passwordHash:"));
    try {
      const result = await project.migrate(['check']);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(
        result.stdout,
        [
          `History      ok: ${migrationCount} migration${migrationCount === 1 ? '' : 's'} in one line`,
          'Models       1 problem',
          '  - the models have changes that no migration holds; drizzle-kit would generate:',
          '      ALTER TABLE `users` ADD `nickname` text;',
          '    fix: generate a migration for it: npm run db:generate -- --name <name>',
          'Model-match  ok: the migrations give the schema of the last snapshot',
          '',
        ].join('\n'),
      );
    } finally {
      writeFileSync(path, users);
    }
  });

  it('exits 1 on a forked history (two migrations whose snapshots follow the same one), saying to regenerate the later one', async () => {
    const meta = project.path('drizzle/meta');
    const journal = JSON.parse(readFileSync(join(meta, '_journal.json'), 'utf8')) as { entries: { idx: number; when: number; tag: string }[] };
    const last = journal.entries.at(-1)!;
    const base = JSON.parse(readFileSync(join(meta, `${String(last.idx).padStart(4, '0')}_snapshot.json`), 'utf8')) as { id: string; prevId: string };
    // Two branches each made a data migration after the last one: both snapshots follow its snapshot.
    for (const [step, name, id] of [[1, 'seed_admin', '11111111-1111-4111-8111-111111111111'], [2, 'seed_bot', '22222222-2222-4222-8222-222222222222']] as const) {
      const idx = last.idx + step;
      const tag = `${String(idx).padStart(4, '0')}_${name}`;
      journal.entries.push({ ...last, idx, when: last.when + step * 1000, tag });
      writeFileSync(join(meta, `${String(idx).padStart(4, '0')}_snapshot.json`), JSON.stringify({ ...base, id, prevId: base.id }, null, 2));
      writeFileSync(project.path(`drizzle/${tag}.sql`), `DELETE FROM \`users\` WHERE \`email\` = '${name}@example.com';`);
      writeFileSync(project.path(`drizzle/${tag}.down.sql`), 'SELECT 1;');
    }
    const [admin, bot] = journal.entries.slice(-2).map((e) => e.tag);
    writeFileSync(join(meta, '_journal.json'), JSON.stringify(journal, null, 2));

    const result = await project.migrate(['check', '--json']);
    assert.equal(result.code, 1, result.stderr);
    const parsed = JSON.parse(result.stdout) as CheckResult;
    assert.equal(parsed.ok, false);
    assert.deepEqual(parsed.findings.map((f) => [f.check, f.kind]), [['history', 'fork']]);
    assert.match(parsed.findings[0]!.message, new RegExp(`^${admin} and ${bot} all follow ${last.tag} .*separate branches \\(Alembic's "multiple heads"\\)$`));
    assert.match(parsed.findings[0]!.fix, /^regenerate the later migration: delete it .*and run npm run db:generate again after merging$/);
  });
});
