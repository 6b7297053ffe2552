import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, resolveRevision, revisionLabel } from '../src/engine/revisions.js';
import type { RevisionInfo } from '../src/engine/revisions.js';
import { MigrateError } from '../src/engine/errors.js';
import type { ErrorCode } from '../src/engine/errors.js';

const MIGRATIONS: readonly RevisionInfo[] = [
  { position: 0, idx: 0, tag: '0000_initial_migration' },
  { position: 1, idx: 1, tag: '0001_add_phone' },
  { position: 2, idx: 2, tag: '0002_add_phone_index' },
  { position: 3, idx: 3, tag: '0003_posts' },
];

function throwsMigrateError(fn: () => unknown, code: ErrorCode, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof MigrateError && e.code === code && pattern.test(e.message));
}

describe('resolveRevision', () => {
  it('BASE is -1', () => {
    assert.equal(BASE, -1);
  });

  const cases: { name: string; expected: number }[] = [
    { name: 'head', expected: 3 },
    { name: 'base', expected: -1 },
    { name: '2', expected: 2 },
    { name: '0002', expected: 2 },
    { name: '03', expected: 3 },
    { name: '0002_add_phone_index', expected: 2 },
    { name: '0001_add_phone', expected: 1 }, // exact tag wins although it is also part of 0002_add_phone_index
    { name: 'posts', expected: 3 },
    { name: 'initial', expected: 0 },
    { name: 'phone_index', expected: 2 },
    { name: '1_add', expected: 1 },
    { name: ' posts ', expected: 3 },
    // '0' and '000' are part of every tag, but a digit string that is an idx resolves by idx
    { name: '0', expected: 0 },
    { name: '000', expected: 0 },
  ];
  for (const { name, expected } of cases) {
    it(`resolves ${JSON.stringify(name)} to ${expected}`, () => {
      assert.equal(resolveRevision(name, MIGRATIONS), expected);
    });
  }

  it('reports an ambiguous part of a tag with every candidate', () => {
    assert.throws(
      () => resolveRevision('add_phone', MIGRATIONS),
      (e: unknown) =>
        e instanceof MigrateError &&
        e.code === 'AMBIGUOUS_REVISION' &&
        e.message === "revision 'add_phone' is ambiguous: it matches 0001_add_phone, 0002_add_phone_index",
    );
  });

  it('reports an unknown revision with the known tags', () => {
    assert.throws(
      () => resolveRevision('nope', MIGRATIONS),
      (e: unknown) =>
        e instanceof MigrateError &&
        e.code === 'UNKNOWN_REVISION' &&
        e.message ===
          "unknown revision 'nope' (known: 0000_initial_migration, 0001_add_phone, 0002_add_phone_index, 0003_posts; or head, base)",
    );
  });

  it("reports '7' (no such idx, in no tag) as unknown", () => {
    throwsMigrateError(() => resolveRevision('7', MIGRATIONS), 'UNKNOWN_REVISION', /^unknown revision '7' \(known: 0000_initial_migration, /);
  });

  it('matches tags case-sensitively', () => {
    throwsMigrateError(() => resolveRevision('POSTS', MIGRATIONS), 'UNKNOWN_REVISION', /^unknown revision 'POSTS'/);
    throwsMigrateError(() => resolveRevision('HEAD', MIGRATIONS), 'UNKNOWN_REVISION', /^unknown revision 'HEAD'/);
  });

  it('returns -1 for head on an empty list', () => {
    assert.equal(resolveRevision('head', []), -1);
    assert.equal(resolveRevision('base', []), -1);
  });

  it('says there are no migrations when the list is empty', () => {
    for (const name of ['nope', '0']) {
      assert.throws(
        () => resolveRevision(name, []),
        (e: unknown) =>
          e instanceof MigrateError &&
          e.code === 'UNKNOWN_REVISION' &&
          e.message === `unknown revision '${name}' (there are no migrations; or head, base)`,
      );
    }
  });

  it('returns the position, not the idx, when they differ', () => {
    const shifted: RevisionInfo[] = [
      { position: 0, idx: 3, tag: '0003_a' },
      { position: 1, idx: 4, tag: '0004_b' },
    ];
    assert.equal(resolveRevision('4', shifted), 1);
    assert.equal(resolveRevision('0003', shifted), 0);
    assert.equal(resolveRevision('head', shifted), 1);
    throwsMigrateError(() => resolveRevision('0', shifted), 'AMBIGUOUS_REVISION', /matches 0003_a, 0004_b$/);
    throwsMigrateError(() => resolveRevision('1', shifted), 'UNKNOWN_REVISION', /^unknown revision '1'/);
  });

  it('lists at most 12 tags, then the total', () => {
    const many: RevisionInfo[] = Array.from({ length: 14 }, (_, i) => ({
      position: i,
      idx: i,
      tag: `${String(i).padStart(4, '0')}_m`,
    }));
    const first12 = many.slice(0, 12).map((m) => m.tag).join(', ');
    assert.throws(
      () => resolveRevision('nope', many),
      (e: unknown) =>
        e instanceof MigrateError &&
        e.code === 'UNKNOWN_REVISION' &&
        e.message === `unknown revision 'nope' (known: ${first12}, … (14 in all); or head, base)`,
    );
    assert.throws(
      () => resolveRevision('_m', many),
      (e: unknown) =>
        e instanceof MigrateError && e.code === 'AMBIGUOUS_REVISION' && e.message === `revision '_m' is ambiguous: it matches ${first12}, … (14 in all)`,
    );
  });

  it('revision errors are not usage errors', () => {
    assert.throws(
      () => resolveRevision('nope', MIGRATIONS),
      (e: unknown) => e instanceof MigrateError && e.isUsage === false,
    );
  });
  it(
    'does not resolve an empty name',
    () => {
      const one: RevisionInfo[] = [{ position: 0, idx: 0, tag: '0000_initial_migration' }];
      throwsMigrateError(() => resolveRevision('', one), 'UNKNOWN_REVISION', /empty revision name/);
      throwsMigrateError(() => resolveRevision('   ', MIGRATIONS), 'UNKNOWN_REVISION', /empty revision name/);
    },
  );
});

describe('revisionLabel', () => {
  const cases: { position: number; expected: string }[] = [
    { position: BASE, expected: 'base' },
    { position: 0, expected: '0000_initial_migration' },
    { position: 3, expected: '0003_posts' },
    { position: 9, expected: '#9' },
  ];
  for (const { position, expected } of cases) {
    it(`labels position ${position} as ${expected}`, () => {
      assert.equal(revisionLabel(position, MIGRATIONS), expected);
    });
  }
  it('labels base on an empty list', () => {
    assert.equal(revisionLabel(BASE, []), 'base');
    assert.equal(revisionLabel(0, []), '#0');
  });
});
