import { MigrateError } from './errors.js';
import type { SqlFile } from './journal.js';
import { splitSql, stripComments } from './lint/statements.js';

/**
 * Transaction control written into a migration file, understood before anything runs. The runner runs every
 * migration in one transaction together with its bookkeeping row, with foreign keys off outside it; a statement
 * that ends, nests or abandons that transaction would break the migration's atomicity (rows deleted and committed
 * while the migration is reported rolled back, or a migration recorded as applied with its tables missing).
 *
 * Real projects work around drizzle-kit's ignored `PRAGMA foreign_keys=OFF` with a wrapper that drizzle's own
 * migrator obeys: `COMMIT; PRAGMA foreign_keys=OFF; BEGIN; … COMMIT; PRAGMA foreign_keys=ON; BEGIN;`. The runner
 * already gives what it asks for, so a COMMIT/END followed (with only foreign_keys pragmas between) by a BEGIN is
 * absorbed: both are left out, the pragmas stay (SQLite ignores them inside the transaction). So is a file's own
 * envelope (`BEGIN; … COMMIT;` around everything). Anything else is refused. Pure.
 */

export type ControlKind = 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'query-only' | 'attach';

export interface ControlStatement {
  /** 1-based number of the `--> statement-breakpoint` chunk that holds it. */
  chunk: number;
  sql: string;
  kind: ControlKind;
}

/** A chunk as it will run: its number in the file, and its SQL without the absorbed statements. */
export interface RunnableChunk {
  number: number;
  sql: string;
}

export interface PreparedFile {
  path: string;
  /** The file's own text (what is hashed, and what says whether it may declare a foreign key). */
  text: string;
  /** Every chunk that still holds SQL once absorbed statements are left out. */
  chunks: RunnableChunk[];
  /** How many chunks the file has (what messages count). */
  chunkCount: number;
  /** Transaction control that the runner's own transaction already gives. */
  absorbed: ControlStatement[];
  /** Transaction control that cannot run inside the runner's transaction, each with the reason, in file order. */
  refused: Refusal[];
}

export interface Refusal extends ControlStatement {
  /** One line: what it would do, and what to write instead. */
  reason: string;
}

const COMMIT = /^(?:commit|end)(?:\s+transaction)?$/i;
const BEGIN = /^begin(?:\s+(?:deferred|immediate|exclusive))?(?:\s+transaction)?$/i;
const FOREIGN_KEYS = /^pragma\s+(?:main\s*\.\s*)?foreign_keys\s*=\s*\S+$/i;

function classify(sql: string): ControlKind | 'foreign-keys' | null {
  const text = stripComments(sql).trim().replace(/\s+/g, ' ');
  if (BEGIN.test(text)) return 'begin';
  if (COMMIT.test(text)) return 'commit';
  if (/^rollback\b/i.test(text)) return 'rollback';
  if (/^savepoint\b/i.test(text)) return 'savepoint';
  if (/^release\b/i.test(text)) return 'release';
  if (FOREIGN_KEYS.test(text)) return 'foreign-keys';
  if (/^pragma\s+(?:\w+\s*\.\s*)?query_only\s*(?:=|\()/i.test(text)) return 'query-only';
  // ATTACH of an in-memory or temporary database touches no file; any other is a database nobody backs up.
  if (/^attach\b/i.test(text) && !/^attach\s+(?:database\s+)?'(?::memory:)?'\s+as\b/i.test(text)) return 'attach';
  return null;
}

const REASONS: Record<ControlKind, string> = {
  begin: 'opens a transaction inside the one the runner runs each migration in (SQLite refuses to nest them)',
  commit: 'ends the transaction the runner runs each migration in, so what ran before it would stay committed if a later statement failed, and the migration would no longer be atomic with its bookkeeping row',
  rollback: 'abandons the transaction the runner runs each migration in, so the migration would be recorded as applied without its changes',
  savepoint: 'starts a savepoint the runner cannot see the end of; a migration is already atomic',
  release: 'releases a savepoint the runner cannot see the start of; a migration is already atomic',
  'query-only': 'makes the connection read-only, so the migration could not be recorded (and later ones would fail)',
  attach: 'attaches another database file, which no backup of this database holds',
};

const ADVICE =
  "remove it: each migration already runs in one transaction with foreign keys off outside it (the wrapper 'COMMIT; PRAGMA foreign_keys=OFF; BEGIN;' is absorbed only as such a pair)";

/** The file as the runner will run it: chunks without absorbed statements, and what is refused. Pure. */
export function prepareFile(file: SqlFile): PreparedFile {
  const perChunk = file.statements.map((chunk, i) => splitSql(chunk).map((sql) => ({ chunk: i + 1, sql })));
  const { absorbed, refused } = findTransactionControl(perChunk.flat());
  const chunks: RunnableChunk[] = [];
  file.statements.forEach((sql, i) => {
    const inChunk = perChunk[i]!;
    if (!inChunk.some((statement) => absorbed.has(statement))) return void chunks.push({ number: i + 1, sql });
    const kept = inChunk.filter((statement) => !absorbed.has(statement));
    if (kept.length > 0) chunks.push({ number: i + 1, sql: kept.map((statement) => terminate(statement.sql)).join('\n') });
  });
  return { path: file.path, text: file.text, chunks, chunkCount: file.statements.length, absorbed: [...absorbed.values()], refused };
}

/**
 * The transaction control among a file's statements (in order, each with its chunk number): what is absorbed (keyed
 * by the statement objects given) and what is refused. Pure; lint reads its findings from the same function.
 */
export function findTransactionControl<S extends { chunk: number; sql: string }>(statements: readonly S[]): { absorbed: Map<S, ControlStatement>; refused: Refusal[] } {
  const items = statements.map((statement) => ({ statement, kind: classify(statement.sql) }));
  const absorbed = new Set<(typeof items)[number]>();
  // A COMMIT whose next statement other than a foreign_keys pragma is a BEGIN: a boundary around the pragma.
  for (let i = 0; i < items.length; i++) {
    if (items[i]!.kind !== 'commit') continue;
    let j = i + 1;
    while (j < items.length && items[j]!.kind === 'foreign-keys') j++;
    if (items[j]?.kind === 'begin') {
      absorbed.add(items[i]!).add(items[j]!);
      i = j;
    }
  }
  // The file's own envelope: a BEGIN first and a COMMIT last, with only foreign_keys pragmas outside them.
  const significant = items.filter((item) => item.kind !== 'foreign-keys' && !absorbed.has(item));
  const [first, last] = [significant[0], significant.at(-1)];
  if (first && last && first !== last && first.kind === 'begin' && last.kind === 'commit') absorbed.add(first).add(last);

  const refused: Refusal[] = [];
  const absorbedByStatement = new Map<S, ControlStatement>();
  for (const item of items) {
    const { chunk, sql } = item.statement;
    if (item.kind === null || item.kind === 'foreign-keys') continue;
    if (absorbed.has(item)) absorbedByStatement.set(item.statement, { chunk, sql, kind: item.kind });
    else refused.push({ chunk, sql, kind: item.kind, reason: `${REASONS[item.kind]}; ${ADVICE}` });
  }
  return { absorbed: absorbedByStatement, refused };
}

/** A statement ending in `;`, on a line of its own when its last line is a comment. */
export function terminate(statement: string): string {
  const text = statement.trim();
  if (stripComments(text).trimEnd().endsWith(';')) return text;
  const lastLine = (text.split('\n').at(-1) ?? '').replace(/'(?:[^']|'')*'/g, "''");
  return /--|\*\/\s*$/.test(lastLine) ? `${text}\n;` : `${text};`;
}

/** One line for a refused statement: the file, the chunk, the statement and what to do. */
export function describeRefusal(path: string, refusal: Refusal): string {
  const shown = stripComments(refusal.sql).replace(/\s+/g, ' ').trim();
  return `${path}: statement ${refusal.chunk} (${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown}) ${refusal.reason}`;
}

/** The file as it will run; refuses (before anything runs) transaction control that would break its atomicity. */
export function assertRunnable(file: SqlFile): PreparedFile {
  const prepared = prepareFile(file);
  const refusal = prepared.refused[0];
  if (refusal) throw new MigrateError('TRANSACTION_CONTROL', describeRefusal(file.path, refusal));
  return prepared;
}
