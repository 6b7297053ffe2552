// Journal entries as people edit them: validated with one line each before any database is opened, and an
// edited `when` or a reordered journal explained by status in those terms instead of as a missing migration or a
// statement failure.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { journalDuplicateProblems, journalEntryProblems } from '../src/engine/journal.js';
import { appliedRows, makeProject, type RunResult, type TempProject } from './helpers/project.js';

interface JournalFile {
  entries: unknown[];
}

function assertExit(result: RunResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

/** The one line a refused command prints on stderr. */
function errorLine(result: RunResult): string {
  const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  return lines[0]!;
}

/** status --json's problems, without the fixture's missing down files (it has down files only where written by hand). */
function statusProblems(result: RunResult): { kind: string; message: string }[] {
  return (JSON.parse(result.stdout) as { problems: { kind: string; message: string }[] }).problems.filter((p) => p.kind !== 'missing-down');
}

const entry = (idx: number, when: unknown, tag: unknown = `000${idx}_m`) => ({ idx, version: '6', when, tag, breakpoints: true });

describe('journal entry shapes (pure)', () => {
  it('accepts what drizzle-kit writes', () => {
    assert.deepEqual(journalEntryProblems([entry(0, 1700000000000), entry(1, 1700000000001)]), []);
  });

  it('a `when` as a string: names the entry and the number to write', () => {
    const [problem, ...rest] = journalEntryProblems([entry(0, '1700000000000', '0000_init')]);
    assert.deepEqual(rest, []);
    assert.match(problem!, /^entries\[0\] \(0000_init\) has "when" the string "1700000000000", not a number: write it as a number without quotes, "when": 1700000000000/);
  });

  it('a missing `when`, a null entry, a missing or empty tag, a tag with a folder, idx as text, breakpoints as text', () => {
    const { when: _when, ...noWhen } = entry(0, 1);
    const { tag: _tag, ...noTag } = entry(2, 3);
    const problems = journalEntryProblems([noWhen, null, noTag, entry(3, 4, ''), entry(4, 5, 'sub/0004_x'), { ...entry(5, 6), idx: '5' }, { ...entry(6, 7), breakpoints: 'yes' }]);
    assert.equal(problems.length, 7, problems.join('\n'));
    assert.match(problems[0]!, /^entries\[0\] \(0000_m\) has no "when"/);
    assert.match(problems[1]!, /^entries\[1\] is null, not an entry: remove it/);
    assert.match(problems[2]!, /^entries\[2\] has no "tag": set it to the name of its SQL file without \.sql/);
    assert.match(problems[3]!, /^entries\[3\] has "tag" the string "":/);
    assert.match(problems[4]!, /^entries\[4\] \(sub\/0004_x\) has "tag" "sub\/0004_x" with a path separator/);
    assert.match(problems[5]!, /^entries\[5\] \(0005_m\) has "idx" the string "5", not a whole number: write it without quotes, "idx": 5/);
    assert.match(problems[6]!, /^entries\[6\] \(0006_m\) has "breakpoints" the string "yes", not true or false/);
  });

  it('a repeated tag and a repeated `when`', () => {
    const problems = journalDuplicateProblems([
      { idx: 0, version: '6', when: 10, tag: 'a', breakpoints: true },
      { idx: 1, version: '6', when: 10, tag: 'b', breakpoints: true },
      { idx: 2, version: '6', when: 12, tag: 'a', breakpoints: true },
    ]);
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0]!, /^entries\[1\] \(b\) has the same "when" 10 as entries\[0\] \(a\)/);
    assert.match(problems[1]!, /^entries\[2\] \(a\) repeats the tag of entries\[0\]/);
  });
});

describe('journal problems through the CLI', { concurrency: false }, () => {
  let project: TempProject;
  let original: string;
  const journalPath = () => project.path('drizzle', 'meta', '_journal.json');
  const readJournalFile = () => JSON.parse(readFileSync(journalPath(), 'utf8')) as JournalFile;
  const writeJournalFile = (journal: JournalFile) => writeFileSync(journalPath(), JSON.stringify(journal, null, 2));

  before(() => {
    project = makeProject({ fixture: 'corpus/data-fixes' });
    original = readFileSync(journalPath(), 'utf8');
  });
  after(() => project.cleanup());

  it('a `when` written as a string: up refuses in one line before opening the database, which is not created', async () => {
    const journal = readJournalFile();
    const first = journal.entries[0] as { when: number };
    first.when = String(first.when) as unknown as number;
    writeJournalFile(journal);
    const result = await project.migrate(['up']);
    assertExit(result, 1, 'up');
    assert.match(errorLine(result), /_journal\.json: entries\[0\] \(0000_init\) has "when" the string "\d+", not a number: write it as a number without quotes/);
    assert.ok(!existsSync(project.path('data', 'bot.db')), 'no database was made');
    writeFileSync(journalPath(), original);
  });

  it('a null entry and an entry without a tag: one line naming both, never a TypeError or drizzle/undefined.sql', async () => {
    const journal = readJournalFile();
    delete (journal.entries[1] as { tag?: string }).tag;
    journal.entries.splice(2, 0, null);
    writeJournalFile(journal);
    for (const command of [['up'], ['status'], ['history']]) {
      const result = await project.migrate(command);
      assertExit(result, 1, command.join(' '));
      const line = errorLine(result);
      assert.match(line, /entries\[1\] has no "tag"/);
      assert.match(line, /entries\[2\] is null, not an entry/);
      assert.doesNotMatch(line, /Cannot read properties|undefined\.sql/);
    }
    writeFileSync(journalPath(), original);
  });

  it("an applied migration's `when` edited: status says so (not 'missing'), up refuses naming the value to put back, and works once it is back", async () => {
    assertExit(await project.migrate(['up']), 0, 'up');
    const journal = readJournalFile();
    const third = journal.entries[3] as { when: number; tag: string };
    const applied = third.when;
    third.when = applied + 5;
    writeJournalFile(journal);

    const status = await project.migrate(['status', '--json']);
    const problems = statusProblems(status);
    assert.deepEqual(problems.map((p) => p.kind), ['edited-when'], status.stdout);
    assert.match(problems[0]!.message, new RegExp(`${third.tag} has "when" ${applied + 5}, but it was applied with "when" ${applied}.*put "when": ${applied} back`));

    const db = project.open();
    const rowsBefore = appliedRows(db);
    db.close();
    const up = await project.migrate(['up']);
    assertExit(up, 1, 'up with an edited when');
    assert.match(errorLine(up), new RegExp(`put "when": ${applied} back in the journal`));
    const down = await project.migrate(['down']);
    assertExit(down, 1, 'down with an edited when');
    assert.match(errorLine(down), new RegExp(`put "when": ${applied} back in the journal`));
    const after = project.open();
    assert.deepEqual(appliedRows(after), rowsBefore, 'no bookkeeping row changed');
    after.close();

    writeFileSync(journalPath(), original);
    const fixed = await project.migrate(['status', '--json']);
    assert.deepEqual(statusProblems(fixed), [], fixed.stdout);
  });

  it('a reordered journal: status names the entries out of order and replays in the order they were applied (no statement failure); up has nothing to do', async () => {
    const journal = readJournalFile();
    // 0005 creates item_stats, 0006 fills it: swapped, a replay in journal order fails at 0006.
    const [create, seed] = [journal.entries[5], journal.entries[6]];
    journal.entries[5] = seed;
    journal.entries[6] = create;
    writeJournalFile(journal);

    const status = await project.migrate(['status', '--json']);
    const problems = statusProblems(status);
    assert.deepEqual(problems.map((p) => p.kind), ['journal-order'], status.stdout);
    assert.match(problems[0]!.message, /journal entry 0005_item_stats \(entries\[6\]\) has "when" \d+, not later than 0006_seed_item_stats's \d+ before it/);
    const up = await project.migrate(['up']);
    assertExit(up, 0, 'up');
    assert.match(up.stdout, /Nothing to do/i);
    writeFileSync(journalPath(), original);
  });
});
