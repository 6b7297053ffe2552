import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertDownRunnable,
  computeState,
  parseDownTarget,
  parseUpTarget,
  planDown,
  planUp,
} from '../src/engine/plan.js';
import type { AppliedRow, DownTarget, HistoryState, Plan, SafetyOptions, UpTarget } from '../src/engine/plan.js';
import type { DownFile, Migration } from '../src/engine/journal.js';
import { MigrateError } from '../src/engine/errors.js';
import type { ErrorCode } from '../src/engine/errors.js';

const TAGS = ['0000_initial_migration', '0001_add_phone', '0002_add_phone_index', '0003_posts'] as const;

interface MigrationOptions {
  /** `null` for a missing down file; statements for the down file otherwise. */
  downStatements?: string[] | null;
  upStatements?: string[];
}

function migration(position: number, tag: string, options: MigrationOptions = {}): Migration {
  const upStatements = options.upStatements ?? ['CREATE TABLE x(a);'];
  const downStatements = options.downStatements === undefined ? ['DROP TABLE x;'] : options.downStatements;
  const downPath = `drizzle/${tag}.down.sql`;
  const down: DownFile | null =
    downStatements === null ? null : { path: downPath, text: downStatements.join('\n'), statements: downStatements, dataLoss: [] };
  return {
    position,
    idx: position,
    tag,
    when: 1000 + position,
    hash: 'h' + position,
    up: { path: `drizzle/${tag}.sql`, text: upStatements.join('\n'), statements: upStatements },
    downPath,
    down,
    snapshotPath: `drizzle/meta/${String(position).padStart(4, '0')}_snapshot.json`,
  };
}

function migrations(overrides: Record<number, MigrationOptions> = {}): Migration[] {
  return TAGS.map((tag, position) => migration(position, tag, overrides[position]));
}

/** The bookkeeping row drizzle writes for the migration at `position`. */
function row(position: number): AppliedRow {
  return { hash: 'h' + position, createdAt: 1000 + position };
}

function stateWith(positions: number[], extraRows: AppliedRow[] = [], overrides: Record<number, MigrationOptions> = {}): HistoryState {
  return computeState(migrations(overrides), [...positions.map(row), ...extraRows]);
}

function summary(plan: Plan): { direction: string; steps: number[]; from: number; to: number } {
  return { direction: plan.direction, steps: plan.steps.map((m) => m.position), from: plan.from, to: plan.to };
}

function throwsMigrateError(fn: () => unknown, code: ErrorCode, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof MigrateError && e.code === code && pattern.test(e.message));
}

const revision = (name: string): UpTarget => ({ kind: 'revision', name });
const relative = (count: number): UpTarget => ({ kind: 'relative', count });

describe('computeState', () => {
  it('with no rows: nothing applied, current is base', () => {
    const list = migrations();
    const state = computeState(list, []);
    assert.equal(state.migrations, list);
    assert.equal(state.current, -1);
    assert.deepStrictEqual(state.unknownApplied, []);
    assert.deepStrictEqual(state.outOfOrder, []);
    assert.deepStrictEqual(
      state.entries.map((e) => ({ position: e.migration.position, applied: e.applied, modified: e.modified })),
      [0, 1, 2, 3].map((position) => ({ position, applied: null, modified: false })),
    );
    state.entries.forEach((e, i) => assert.equal(e.migration, list[i]));
  });

  it('with some rows: current is the last applied', () => {
    const state = stateWith([0, 1]);
    assert.equal(state.current, 1);
    assert.deepStrictEqual(
      state.entries.map((e) => e.applied),
      [row(0), row(1), null, null],
    );
    assert.deepStrictEqual(state.entries.map((e) => e.modified), [false, false, false, false]);
    assert.deepStrictEqual(state.unknownApplied, []);
    assert.deepStrictEqual(state.outOfOrder, []);
  });

  it('with every row: current is head', () => {
    const state = stateWith([0, 1, 2, 3]);
    assert.equal(state.current, 3);
    assert.deepStrictEqual(state.outOfOrder, []);
  });

  it('marks an applied migration whose hash differs as modified', () => {
    const edited: AppliedRow = { hash: 'old', createdAt: 1001 };
    const state = stateWith([0], [edited]);
    assert.equal(state.current, 1);
    assert.equal(state.entries[1]?.applied, edited);
    assert.deepStrictEqual(state.entries.map((e) => e.modified), [false, true, false, false]);
    assert.deepStrictEqual(state.unknownApplied, []);
  });

  it('lists rows with an unknown created_at as unknownApplied', () => {
    const stray: AppliedRow = { hash: 'hx', createdAt: 999 };
    const state = stateWith([0], [stray]);
    assert.deepStrictEqual(state.unknownApplied, [stray]);
    assert.equal(state.current, 0);
    assert.deepStrictEqual(state.entries.map((e) => e.applied), [row(0), null, null, null]);
  });

  it('lists pending migrations before the current one as outOfOrder', () => {
    const state = stateWith([0, 2]);
    assert.equal(state.current, 2);
    assert.deepStrictEqual(state.outOfOrder.map((m) => m.position), [1]);
    assert.deepStrictEqual(state.entries.map((e) => e.applied !== null), [true, false, true, false]);
  });

  it('lists every gap in journal order', () => {
    const state = stateWith([3]);
    assert.equal(state.current, 3);
    assert.deepStrictEqual(state.outOfOrder.map((m) => m.position), [0, 1, 2]);
  });

  it('prefers the row with the same hash when two rows share a created_at', () => {
    const other: AppliedRow = { hash: 'zzz', createdAt: 1001 };
    const state = computeState(migrations(), [other, row(1)]);
    assert.deepStrictEqual(state.entries[1]?.applied, row(1));
    assert.equal(state.entries[1]?.modified, false);
    assert.deepStrictEqual(state.unknownApplied, [other]);
  });
});

describe('parseUpTarget', () => {
  const cases: { text: string | undefined; expected: UpTarget }[] = [
    { text: undefined, expected: { kind: 'revision', name: 'head' } },
    { text: 'head', expected: { kind: 'revision', name: 'head' } },
    { text: ' 0002 ', expected: { kind: 'revision', name: '0002' } },
    { text: 'posts', expected: { kind: 'revision', name: 'posts' } },
    { text: '+1', expected: { kind: 'relative', count: 1 } },
    { text: '+2', expected: { kind: 'relative', count: 2 } },
    { text: '+10', expected: { kind: 'relative', count: 10 } },
  ];
  for (const { text, expected } of cases) {
    it(`parses ${JSON.stringify(text)}`, () => {
      assert.deepStrictEqual(parseUpTarget(text), expected);
    });
  }

  const errors: { text: string; message: RegExp }[] = [
    { text: '+0', message: /^bad target '\+0' for up: expected \+N with N a whole number of at least 1$/ },
    { text: '+x', message: /^bad target '\+x' for up: expected \+N/ },
    { text: '+', message: /^bad target '\+' for up: expected \+N/ },
    { text: '+1.5', message: /^bad target '\+1\.5' for up/ },
    { text: '+-1', message: /^bad target '\+-1' for up/ },
    { text: '-1', message: /^'up -1' goes backwards: use 'down -1'$/ },
  ];
  for (const { text, message } of errors) {
    it(`rejects ${JSON.stringify(text)} as a usage error`, () => {
      assert.throws(
        () => parseUpTarget(text),
        (e: unknown) => e instanceof MigrateError && e.code === 'BAD_TARGET' && e.isUsage === true && message.test(e.message),
      );
    });
  }
});

describe('parseDownTarget', () => {
  const cases: { text: string | undefined; expected: DownTarget }[] = [
    { text: undefined, expected: { kind: 'relative', count: 1 } },
    { text: '-1', expected: { kind: 'relative', count: 1 } },
    { text: '-3', expected: { kind: 'relative', count: 3 } },
    { text: 'base', expected: { kind: 'revision', name: 'base' } },
    { text: ' 0001 ', expected: { kind: 'revision', name: '0001' } },
  ];
  for (const { text, expected } of cases) {
    it(`parses ${JSON.stringify(text)}`, () => {
      assert.deepStrictEqual(parseDownTarget(text), expected);
    });
  }

  const errors: { text: string; message: RegExp }[] = [
    { text: '-0', message: /^bad target '-0' for down: expected -N with N a whole number of at least 1$/ },
    { text: '-', message: /^bad target '-' for down/ },
    { text: '-x', message: /^bad target '-x' for down/ },
    { text: '+1', message: /^'down \+1' goes forwards: use 'up \+1'$/ },
  ];
  for (const { text, message } of errors) {
    it(`rejects ${JSON.stringify(text)} as a usage error`, () => {
      assert.throws(
        () => parseDownTarget(text),
        (e: unknown) => e instanceof MigrateError && e.code === 'BAD_TARGET' && e.isUsage === true && message.test(e.message),
      );
    });
  }
});

describe('planUp', () => {
  const cases: { title: string; applied: number[]; target: UpTarget; steps: number[]; from: number; to: number }[] = [
    { title: 'head from base runs everything', applied: [], target: revision('head'), steps: [0, 1, 2, 3], from: -1, to: 3 },
    { title: 'head from the middle runs the rest', applied: [0, 1], target: revision('head'), steps: [2, 3], from: 1, to: 3 },
    { title: '+1 from base runs the first', applied: [], target: relative(1), steps: [0], from: -1, to: 0 },
    { title: '+2 from the middle', applied: [0, 1], target: relative(2), steps: [2, 3], from: 1, to: 3 },
    { title: 'a revision from base runs up to it', applied: [], target: revision('0001'), steps: [0, 1], from: -1, to: 1 },
    { title: 'a tag part from the middle', applied: [0], target: revision('add_phone_index'), steps: [1, 2], from: 0, to: 2 },
    { title: 'the current revision is a no-op', applied: [0, 1], target: revision('0001_add_phone'), steps: [], from: 1, to: 1 },
    { title: 'head at head is a no-op', applied: [0, 1, 2, 3], target: revision('head'), steps: [], from: 3, to: 3 },
    { title: 'base from base is a no-op', applied: [], target: revision('base'), steps: [], from: -1, to: -1 },
  ];
  for (const { title, applied, target, steps, from, to } of cases) {
    it(title, () => {
      assert.deepStrictEqual(summary(planUp(stateWith(applied), target)), { direction: 'up', steps, from, to });
    });
  }

  it('returns the migrations of the state itself', () => {
    const state = stateWith([]);
    const plan = planUp(state, revision('head'));
    plan.steps.forEach((step, i) => assert.equal(step, state.migrations[i]));
  });

  const errors: { title: string; applied: number[]; target: UpTarget; code: ErrorCode; message: RegExp }[] = [
    {
      title: '+N beyond the pending migrations',
      applied: [],
      target: relative(5),
      code: 'INVALID_TARGET',
      message: /^up \+5 needs 5 pending migrations, but only 4 are pending$/,
    },
    {
      title: '+2 with one pending',
      applied: [0, 1, 2],
      target: relative(2),
      code: 'INVALID_TARGET',
      message: /^up \+2 needs 2 pending migrations, but only 1 is pending$/,
    },
    {
      title: '+1 at head',
      applied: [0, 1, 2, 3],
      target: relative(1),
      code: 'INVALID_TARGET',
      message: /^up \+1 needs 1 pending migration, but none is pending$/,
    },
    {
      title: 'a revision behind the current one',
      applied: [0, 1, 2],
      target: revision('0'),
      code: 'INVALID_TARGET',
      message: /^0000_initial_migration is behind the current revision 0002_add_phone_index: use 'down 0000_initial_migration' to go back$/,
    },
    {
      title: "'up base' with migrations applied",
      applied: [0],
      target: revision('base'),
      code: 'INVALID_TARGET',
      message: /^'up base' would go backwards: use 'down base'$/,
    },
    { title: 'an unknown revision', applied: [], target: revision('nope'), code: 'UNKNOWN_REVISION', message: /^unknown revision 'nope'/ },
    { title: 'an ambiguous revision', applied: [], target: revision('add_phone'), code: 'AMBIGUOUS_REVISION', message: /ambiguous/ },
  ];
  for (const { title, applied, target, code, message } of errors) {
    it(`rejects ${title} with ${code}`, () => {
      throwsMigrateError(() => planUp(stateWith(applied), target), code, message);
    });
  }

  it('refuses unknown applied rows, whatever the options', () => {
    const state = stateWith([0], [{ hash: 'abcdef0123456789', createdAt: 999 }]);
    const pattern =
      /^the database has applied migrations that are not in the migrations folder: created_at 999 \(hash abcdef012345\); restore their files .* before running up$/;
    for (const options of [{}, { allowModified: true, allowOutOfOrder: true }] satisfies SafetyOptions[]) {
      throwsMigrateError(() => planUp(state, revision('head'), options), 'HISTORY_PROBLEM', pattern);
    }
  });

  it('refuses modified applied migrations unless allowModified', () => {
    const state = stateWith([0], [{ hash: 'old', createdAt: 1001 }]);
    throwsMigrateError(
      () => planUp(state, revision('head')),
      'HISTORY_PROBLEM',
      /^applied migrations were edited since they were applied: drizzle\/0001_add_phone\.sql; .*--allow-modified/,
    );
    throwsMigrateError(() => planUp(state, revision('head'), { allowOutOfOrder: true }), 'HISTORY_PROBLEM', /edited/);
    assert.deepStrictEqual(summary(planUp(state, revision('head'), { allowModified: true })), {
      direction: 'up',
      steps: [2, 3],
      from: 1,
      to: 3,
    });
  });

  it('refuses out-of-order pending migrations unless allowOutOfOrder', () => {
    const state = stateWith([0, 2]);
    throwsMigrateError(
      () => planUp(state, revision('head')),
      'HISTORY_PROBLEM',
      /^pending migrations sort before the current revision 0002_add_phone_index: drizzle\/0001_add_phone\.sql; .*--allow-out-of-order/,
    );
    throwsMigrateError(() => planUp(state, relative(1), { allowModified: true }), 'HISTORY_PROBLEM', /sort before/);
  });

  const outOfOrder: { title: string; target: UpTarget; steps: number[]; to: number }[] = [
    { title: 'head runs the gap first, in journal order', target: revision('head'), steps: [1, 3], to: 3 },
    { title: '+1 runs the gap only', target: relative(1), steps: [1], to: 2 },
    { title: 'the gap revision runs it only', target: revision('0001'), steps: [1], to: 2 },
    { title: 'the current revision runs the gap', target: revision('0002'), steps: [1], to: 2 },
  ];
  for (const { title, target, steps, to } of outOfOrder) {
    it(`with allowOutOfOrder, ${title}`, () => {
      assert.deepStrictEqual(summary(planUp(stateWith([0, 2]), target, { allowOutOfOrder: true })), {
        direction: 'up',
        steps,
        from: 2,
        to,
      });
    });
  }
});

describe('planDown', () => {
  const cases: { title: string; applied: number[]; target: DownTarget; steps: number[]; from: number; to: number }[] = [
    { title: 'the default reverts the newest', applied: [0, 1, 2, 3], target: parseDownTarget(undefined), steps: [3], from: 3, to: 2 },
    { title: '-2 reverts newest first', applied: [0, 1, 2, 3], target: relative(2), steps: [3, 2], from: 3, to: 1 },
    { title: '-N for every applied one ends at base', applied: [0, 1], target: relative(2), steps: [1, 0], from: 1, to: -1 },
    { title: 'base reverts everything in reverse', applied: [0, 1, 2, 3], target: revision('base'), steps: [3, 2, 1, 0], from: 3, to: -1 },
    { title: 'base from the middle', applied: [0, 1], target: revision('base'), steps: [1, 0], from: 1, to: -1 },
    { title: 'a revision stays applied', applied: [0, 1, 2, 3], target: revision('0001'), steps: [3, 2], from: 3, to: 1 },
    { title: 'a tag part stays applied', applied: [0, 1, 2, 3], target: revision('initial'), steps: [3, 2, 1], from: 3, to: 0 },
    { title: 'the current revision is a no-op', applied: [0, 1, 2, 3], target: revision('head'), steps: [], from: 3, to: 3 },
    { title: 'base from base is a no-op', applied: [], target: revision('base'), steps: [], from: -1, to: -1 },
    // down ignores out-of-order gaps: it reverts what is applied
    { title: '-1 over a gap', applied: [0, 2], target: relative(1), steps: [2], from: 2, to: 0 },
    { title: 'base over a gap', applied: [0, 2], target: revision('base'), steps: [2, 0], from: 2, to: -1 },
  ];
  for (const { title, applied, target, steps, from, to } of cases) {
    it(title, () => {
      assert.deepStrictEqual(summary(planDown(stateWith(applied), target)), { direction: 'down', steps, from, to });
    });
  }

  it('returns the migrations of the state itself', () => {
    const state = stateWith([0, 1, 2, 3]);
    const plan = planDown(state, relative(1));
    assert.equal(plan.steps[0], state.migrations[3]);
  });

  const errors: { title: string; applied: number[]; target: DownTarget; code: ErrorCode; message: RegExp }[] = [
    {
      title: 'a revision that is not applied',
      applied: [0, 1],
      target: revision('posts'),
      code: 'INVALID_TARGET',
      message: /^0003_posts is not applied \(current is 0001_add_phone\): 'down' can only go back to an applied revision$/,
    },
    {
      title: 'a gap revision that is not applied',
      applied: [0, 2],
      target: revision('0001'),
      code: 'INVALID_TARGET',
      message: /^0001_add_phone is not applied \(current is 0002_add_phone_index\)/,
    },
    {
      title: '-N beyond the applied migrations',
      applied: [0, 1],
      target: relative(3),
      code: 'INVALID_TARGET',
      message: /^down -3 needs 3 applied migrations, but only 2 are applied$/,
    },
    {
      title: '-2 with one applied',
      applied: [0],
      target: relative(2),
      code: 'INVALID_TARGET',
      message: /^down -2 needs 2 applied migrations, but only 1 is applied$/,
    },
    {
      title: '-1 with nothing applied',
      applied: [],
      target: relative(1),
      code: 'INVALID_TARGET',
      message: /^down -1 needs 1 applied migration, but none is applied$/,
    },
    { title: 'an unknown revision', applied: [0], target: revision('nope'), code: 'UNKNOWN_REVISION', message: /^unknown revision 'nope'/ },
  ];
  for (const { title, applied, target, code, message } of errors) {
    it(`rejects ${title} with ${code}`, () => {
      throwsMigrateError(() => planDown(stateWith(applied), target), code, message);
    });
  }

  it('refuses unknown applied rows', () => {
    const state = stateWith([0, 1], [{ hash: 'hx', createdAt: 999 }]);
    throwsMigrateError(() => planDown(state, relative(1), { allowModified: true }), 'HISTORY_PROBLEM', /created_at 999 .*before running down$/);
  });

  it('refuses modified applied migrations unless allowModified', () => {
    const state = stateWith([0], [{ hash: 'old', createdAt: 1001 }]);
    throwsMigrateError(() => planDown(state, relative(1)), 'HISTORY_PROBLEM', /edited since they were applied: drizzle\/0001_add_phone\.sql/);
    assert.deepStrictEqual(summary(planDown(state, relative(1), { allowModified: true })), {
      direction: 'down',
      steps: [1],
      from: 1,
      to: 0,
    });
  });

  it('refuses a step whose down file is missing, naming it', () => {
    const state = stateWith([0, 1, 2, 3], [], { 2: { downStatements: null } });
    throwsMigrateError(
      () => planDown(state, relative(2)),
      'MISSING_DOWN',
      /^cannot revert 0002_add_phone_index: its down file drizzle\/0002_add_phone_index\.down\.sql is missing/,
    );
    // a missing down file further back does not matter when it is not a step
    assert.deepStrictEqual(summary(planDown(state, relative(1))).steps, [3]);
  });

  it('refuses a step whose down file is empty while its up file has SQL', () => {
    const state = stateWith([0, 1, 2, 3], [], { 3: { downStatements: [] } });
    throwsMigrateError(
      () => planDown(state, revision('base')),
      'EMPTY_DOWN',
      /^cannot revert 0003_posts: its down file drizzle\/0003_posts\.down\.sql is empty; write the SQL that reverses drizzle\/0003_posts\.sql$/,
    );
  });

  it('allows an empty down file when the up file has no SQL either', () => {
    const state = stateWith([0, 1, 2, 3], [], { 3: { downStatements: [], upStatements: [] } });
    assert.deepStrictEqual(summary(planDown(state, relative(1))), { direction: 'down', steps: [3], from: 3, to: 2 });
  });
});

describe('assertDownRunnable', () => {
  const ok: { title: string; options: MigrationOptions }[] = [
    { title: 'a down file with SQL', options: {} },
    { title: 'an empty down file for an empty up file', options: { downStatements: [], upStatements: [] } },
    { title: 'a down file with SQL for an empty up file', options: { upStatements: [] } },
  ];
  for (const { title, options } of ok) {
    it(`accepts ${title}`, () => {
      assert.doesNotThrow(() => assertDownRunnable(migration(1, '0001_add_phone', options)));
    });
  }

  const bad: { title: string; options: MigrationOptions; code: ErrorCode; message: RegExp }[] = [
    {
      title: 'a missing down file',
      options: { downStatements: null },
      code: 'MISSING_DOWN',
      message: /^cannot revert 0001_add_phone: its down file drizzle\/0001_add_phone\.down\.sql is missing \(write it with 'write-down 0001_add_phone', or by hand\)$/,
    },
    {
      title: 'a missing down file for an empty up file',
      options: { downStatements: null, upStatements: [] },
      code: 'MISSING_DOWN',
      message: /drizzle\/0001_add_phone\.down\.sql is missing/,
    },
    {
      title: 'an empty down file for an up file with SQL',
      options: { downStatements: [] },
      code: 'EMPTY_DOWN',
      message: /^cannot revert 0001_add_phone: its down file drizzle\/0001_add_phone\.down\.sql is empty/,
    },
  ];
  for (const { title, options, code, message } of bad) {
    it(`rejects ${title} with ${code}`, () => {
      throwsMigrateError(() => assertDownRunnable(migration(1, '0001_add_phone', options)), code, message);
    });
  }
});
