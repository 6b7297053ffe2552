import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { compareModelsWithSnapshot, modelSnapshot } from './checks/models.js';
import { drizzleKitDiff, type SnapshotDiff } from './diff/down.js';
import { describeAmbiguities, findAmbiguities, planRenames, SPLIT_ADVICE, type Ambiguity, type RenameRequest } from './diff/renames.js';
import { emptySnapshot, readSnapshot, type SqliteSnapshot } from './diff/snapshot.js';
import { MigrateError } from './errors.js';
import { journalPath, readJournal, snapshotFilePath, type Journal } from './journal.js';

/** How drizzle-kit joins the statements of a migration written with `breakpoints: true`. */
const DRIZZLE_KIT_BREAKPOINT = '--> statement-breakpoint\n';

function readLast(folder: string): { journal: Journal; last: SqliteSnapshot } {
  if (!existsSync(journalPath(folder))) return { journal: { version: '7', dialect: 'sqlite', entries: [] }, last: emptySnapshot() };
  const journal = readJournal(folder);
  const entry = journal.entries.at(-1);
  return { journal, last: entry ? readSnapshot(snapshotFilePath(folder, entry.idx)) : emptySnapshot() };
}

/**
 * What drizzle-kit would ask about if it generated now: the changes from the last snapshot to the models that could
 * be renames. Used to tell a developer without a terminal which flags answer drizzle-kit's questions.
 */
export async function findRenameCandidates(folder: string, schemaPath: string): Promise<Ambiguity[]> {
  const { last } = readLast(folder);
  return findAmbiguities(last, await modelSnapshot(schemaPath, last.id));
}

/**
 * When the models differ from the last snapshot though drizzle-kit's diff writes no SQL for it (a new STORED
 * generated column, which drizzle-kit 0.31 skips), what differs; null when they agree.
 */
export async function modelsDifferFromLastSnapshot(folder: string, schemaPath: string, diff: SnapshotDiff = drizzleKitDiff): Promise<string | null> {
  const { last } = readLast(folder);
  const differences = await compareModelsWithSnapshot(last, await modelSnapshot(schemaPath, last.id), diff);
  const missed = differences.filter((d) => d.kind === 'no-sql');
  return missed.length > 0 ? missed.map((d) => d.message).join('; ') : null;
}

/**
 * Generates the next migration the way `drizzle-kit generate` would had it asked its rename questions in a terminal
 * and been given these answers: the renames first, then drizzle-kit's own diff for the rest, written in drizzle-kit's
 * layout (SQL file, snapshot with `_meta` recording the renames, journal entry), journal last. Everything is checked
 * before anything is written. Returns the new tag.
 */
export async function writeMigrationFromModels(
  options: { folder: string; schemaPath: string; name: string; renames: RenameRequest },
  diff: SnapshotDiff = drizzleKitDiff,
): Promise<string> {
  const { folder } = options;
  const { journal, last } = readLast(folder);
  const models = await modelSnapshot(options.schemaPath, last.id);
  const plan = planRenames(last, models, options.renames);
  // drizzle-kit's diff would stop and ask about these (or fail without a terminal): never call it on them.
  const ambiguities = findAmbiguities(plan.renamed, models);
  if (ambiguities.length > 0) {
    throw new MigrateError('AMBIGUOUS_RENAME', `after the given renames, the change could still be a rename: ${describeAmbiguities(ambiguities)}; if it is not a rename, ${SPLIT_ADVICE}; nothing was written`);
  }
  const statements = [...plan.statements, ...(await diff(plan.renamed, models))];

  const idx = (journal.entries.at(-1)?.idx ?? -1) + 1;
  const tag = `${String(idx).padStart(4, '0')}_${options.name}`;
  const snapshot = {
    version: models.version,
    dialect: models.dialect,
    id: randomUUID(),
    prevId: last.id,
    tables: models.tables,
    views: models.views,
    enums: models.enums,
    _meta: plan.meta,
    internal: models.internal,
  };
  mkdirSync(join(folder, 'meta'), { recursive: true });
  writeFileSync(snapshotFilePath(folder, idx), JSON.stringify(snapshot, null, 2));
  writeFileSync(join(folder, `${tag}.sql`), statements.join(DRIZZLE_KIT_BREAKPOINT));
  journal.entries.push({ idx, version: models.version, when: Date.now(), tag, breakpoints: true });
  writeFileSync(journalPath(folder), JSON.stringify(journal, null, 2));
  return tag;
}
