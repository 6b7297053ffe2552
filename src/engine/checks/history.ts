import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ORIGIN_ID } from '../diff/snapshot.js';
import { journalPath, readJournal, snapshotFilePath } from '../journal.js';

/** What the history check reads from a migrations folder; gathered by `readHistory`, checked by `checkHistory` (pure). */
export interface HistoryInput {
  folder: string;
  entries: { idx: number; tag: string; when: number }[];
  /** File names in the folder (`0001_x.sql`, `0001_x.down.sql`, …). */
  files: string[];
  /** File names in `meta/` with the ids of the snapshots among them (null: unreadable). */
  snapshots: Record<string, { id: string; prevId: string } | null>;
}

export type HistoryProblem =
  | 'duplicate-idx'
  | 'duplicate-tag'
  | 'missing-sql'
  | 'missing-snapshot'
  | 'bad-snapshot'
  | 'fork'
  | 'broken-chain'
  | 'duplicate-snapshot-id'
  | 'not-in-journal'
  | 'when-order';

export interface HistoryFinding {
  kind: HistoryProblem;
  message: string;
  fix: string;
}

const REGENERATE = 'regenerate the later migration: delete it (its .sql, .down.sql, snapshot and journal entry) and run npm run db:generate again after merging';

/** Reads the journal, the file names and the snapshot ids of a migrations folder (no journal: no entries). */
export function readHistory(folder: string): HistoryInput {
  const entries = existsSync(journalPath(folder)) ? readJournal(folder).entries.map(({ idx, tag, when }) => ({ idx, tag, when })) : [];
  const files = existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.sql')) : [];
  const metaFolder = join(folder, 'meta');
  const snapshots: HistoryInput['snapshots'] = {};
  if (existsSync(metaFolder)) {
    for (const name of readdirSync(metaFolder).filter((f) => f.endsWith('_snapshot.json'))) {
      try {
        const json = JSON.parse(readFileSync(join(metaFolder, name), 'utf8')) as { id?: unknown; prevId?: unknown };
        snapshots[name] = typeof json.id === 'string' && typeof json.prevId === 'string' ? { id: json.id, prevId: json.prevId } : null;
      } catch {
        snapshots[name] = null;
      }
    }
  }
  return { folder, entries, files, snapshots };
}

/**
 * Checks that the history is one straight line, as drizzle-kit and the runner assume: journal entries with
 * unique indexes and tags, each with its SQL file and snapshot, snapshots chained by `prevId` without forks
 * (two migrations made on separate branches: Alembic's "multiple heads"), increasing `when` (drizzle's
 * migrators skip an older one), and no migration files the journal does not list. Pure.
 */
export function checkHistory(input: HistoryInput): HistoryFinding[] {
  const findings: HistoryFinding[] = [];
  const add = (kind: HistoryProblem, message: string, fix: string) => findings.push({ kind, message, fix });
  const { entries, folder } = input;
  const snapshotName = (idx: number) => basename(snapshotFilePath(folder, idx));

  for (const [idx, group] of groupBy(entries, (e) => String(e.idx))) {
    if (group.length > 1) add('duplicate-idx', `journal entries ${list(group.map((e) => e.tag))} have the same idx ${idx} (made on separate branches)`, REGENERATE);
  }
  for (const [tag, group] of groupBy(entries, (e) => e.tag)) {
    if (group.length > 1) add('duplicate-tag', `the journal lists ${tag} ${group.length} times`, `remove the repeated entry from ${join(folder, 'meta', '_journal.json')}`);
  }

  const chain: { tag: string; id: string; prevId: string }[] = [];
  const seenIdx = new Set<number>();
  for (const entry of entries) {
    if (!input.files.includes(`${entry.tag}.sql`)) {
      add('missing-sql', `journal entry ${entry.tag} has no SQL file: ${join(folder, `${entry.tag}.sql`)} is missing`, 'restore the file from version control, or remove the entry from the journal if the migration was never applied anywhere');
    }
    // Entries with the same idx share one snapshot file: it is looked at once (duplicate-idx says the rest).
    if (seenIdx.has(entry.idx)) continue;
    seenIdx.add(entry.idx);
    const name = snapshotName(entry.idx);
    if (!(name in input.snapshots)) {
      add('missing-snapshot', `journal entry ${entry.tag} has no snapshot: ${join(folder, 'meta', name)} is missing`, `restore it from version control; without it drizzle-kit generate diffs the models against an older schema (or ${REGENERATE})`);
      continue;
    }
    const ids = input.snapshots[name];
    if (!ids) {
      add('bad-snapshot', `the snapshot of ${entry.tag} (${join(folder, 'meta', name)}) is not valid JSON with an id and a prevId`, 'restore it from version control (a merge conflict left in it?)');
      continue;
    }
    chain.push({ tag: entry.tag, ...ids });
  }

  const forked = new Set<string>();
  for (const [prevId, group] of groupBy(chain, (s) => s.prevId)) {
    if (group.length < 2) continue;
    const parent = prevId === ORIGIN_ID ? 'the empty schema' : chain.find((s) => s.id === prevId)?.tag ?? `snapshot ${prevId}`;
    add('fork', `${list(group.map((s) => s.tag))} all follow ${parent} (prevId ${prevId}): they were made on separate branches (Alembic's "multiple heads")`, REGENERATE);
    for (const s of group.slice(1)) forked.add(s.tag);
  }
  for (const [id, group] of groupBy(chain, (s) => s.id)) {
    if (group.length > 1) add('duplicate-snapshot-id', `the snapshots of ${list(group.map((s) => s.tag))} have the same id ${id} (a copied snapshot)`, REGENERATE);
  }
  for (const [i, snapshot] of chain.entries()) {
    if (forked.has(snapshot.tag)) continue;
    const previous = chain[i - 1];
    const expected = previous?.id ?? ORIGIN_ID;
    if (snapshot.prevId === expected) continue;
    const follows = snapshot.prevId === ORIGIN_ID ? 'the empty schema' : chain.find((s) => s.id === snapshot.prevId)?.tag ?? `an unknown snapshot ${snapshot.prevId}`;
    add(
      'broken-chain',
      `the snapshot of ${snapshot.tag} follows ${follows}, not ${previous ? previous.tag : 'the empty schema'} before it in the journal`,
      `${REGENERATE} (or restore the snapshots from version control if one was edited)`,
    );
  }

  for (const [i, entry] of entries.entries()) {
    const previous = entries[i - 1];
    if (previous && entry.when <= previous.when) {
      add(
        'when-order',
        `${entry.tag} was created (journal when ${entry.when}) no later than ${previous.tag} before it (${previous.when}): drizzle-kit migrate skips it on every database where ${previous.tag} is applied`,
        REGENERATE,
      );
    }
  }

  const tags = new Set(entries.map((e) => e.tag));
  for (const file of input.files) {
    const tag = file.replace(/\.down\.sql$|\.sql$/, '');
    if (!tags.has(tag)) {
      add('not-in-journal', `${join(folder, file)} is not in the journal: no runner applies it`, 'delete it, or regenerate the migration it belonged to (lost in a merge of meta/_journal.json?)');
    }
  }
  const known = new Set(entries.map((e) => snapshotName(e.idx)));
  for (const name of Object.keys(input.snapshots).sort()) {
    if (!known.has(name)) {
      add('not-in-journal', `${join(folder, 'meta', name)} belongs to no journal entry: drizzle-kit generate may diff against it`, 'delete it, or restore the journal entry it belonged to');
    }
  }
  return findings;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

function list(names: string[]): string {
  return names.length <= 2 ? names.join(' and ') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}
