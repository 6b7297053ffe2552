import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MigrateError } from './errors.js';

/** One entry of drizzle-kit's `meta/_journal.json`. */
export interface JournalEntry {
  idx: number;
  version: string;
  when: number;
  tag: string;
  breakpoints: boolean;
}

export interface Journal {
  version: string;
  dialect: string;
  entries: JournalEntry[];
}

/** A SQL file split the way drizzle's migrators split it. */
export interface SqlFile {
  path: string;
  text: string;
  /** Chunks between `--> statement-breakpoint` markers that hold SQL (comment-only chunks dropped). */
  statements: string[];
}

/** A down file also carries the data-loss notes its generator (or its author) wrote in it. */
export interface DownFile extends SqlFile {
  dataLoss: string[];
}

/** A migration as found on disk: the journal entry, its up file, its down file (if any). */
export interface Migration {
  /** Position in the journal, 0-based; what plans compare. */
  position: number;
  idx: number;
  tag: string;
  /** The journal's `when`: drizzle stores it as `created_at`. */
  when: number;
  /** sha256 hex of the up file's text, as drizzle's migrators compute it. */
  hash: string;
  up: SqlFile;
  downPath: string;
  down: DownFile | null;
  snapshotPath: string;
}

export const STATEMENT_BREAKPOINT = '--> statement-breakpoint';
/** The comment that marks a step of a down file that loses data; `down` prints each one. */
export const DATA_LOSS_MARKER = '-- data-loss:';

export function journalPath(folder: string): string {
  return join(folder, 'meta', '_journal.json');
}

export function downFilePath(folder: string, tag: string): string {
  return join(folder, `${tag}.down.sql`);
}

export function snapshotFilePath(folder: string, idx: number): string {
  return join(folder, 'meta', `${String(idx).padStart(4, '0')}_snapshot.json`);
}

export function hashSql(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Splits SQL on drizzle's breakpoints, keeping only chunks with something besides comments. */
export function splitStatements(text: string): string[] {
  return text
    .split(STATEMENT_BREAKPOINT)
    .map((chunk) => chunk.trim())
    .filter((chunk) => stripComments(chunk).trim() !== '');
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

/**
 * Reads drizzle-kit's journal and checks every entry's shape (see `journalEntryProblems`), so that no command
 * opens a database over entries it would misread. Uniqueness is checked by `loadMigrations`: `check` reads
 * journals with repeated entries to report them as findings.
 */
export function readJournal(folder: string): Journal {
  const path = journalPath(folder);
  if (!existsSync(path)) {
    throw new MigrateError('JOURNAL', `no migrations: ${path} does not exist (generate one with npm run db:generate -- --name <name>)`);
  }
  let journal: unknown;
  try {
    journal = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new MigrateError('JOURNAL', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof journal !== 'object' || journal === null || !Array.isArray((journal as Journal).entries)) {
    throw new MigrateError('JOURNAL', `${path} has no entries list`);
  }
  const { dialect, entries } = journal as { dialect?: unknown; entries: unknown[] };
  if (dialect !== undefined && dialect !== 'sqlite') {
    throw new MigrateError('JOURNAL', `${path} is for dialect '${String(dialect)}', this runner applies SQLite migrations`);
  }
  throwJournalProblems(path, journalEntryProblems(entries));
  return journal as Journal;
}

/** How many problems one error names before it only counts the rest (it stays one readable line). */
const MAX_PROBLEMS_LISTED = 5;

function throwJournalProblems(path: string, problems: string[]): void {
  if (problems.length === 0) return;
  const listed = problems.slice(0, MAX_PROBLEMS_LISTED);
  const more = problems.length > listed.length ? `; and ${problems.length - listed.length} more` : '';
  throw new MigrateError('JOURNAL', `${path}: ${listed.join('; ')}${more}`);
}

/** A JSON value as a message shows it: `the string "17"`, `null`, `an object`. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** `entries[3] (0003_posts)`: where an entry is in the journal file, with its tag when it has a usable one. */
function entryLabel(position: number, entry: unknown): string {
  const tag = typeof entry === 'object' && entry !== null ? (entry as { tag?: unknown }).tag : undefined;
  return typeof tag === 'string' && tag.trim() !== '' ? `entries[${position}] (${tag})` : `entries[${position}]`;
}

/**
 * What is wrong with the shape of each entry, one message each with what to fix. Pure.
 *
 * `when` must be a JSON number: drizzle-kit writes `Date.now()`, drizzle's migrators compare it as a number with
 * the newest `created_at`, and the runner finds a migration's bookkeeping row by it. A numeric string is refused,
 * not converted: it is a hand edit, and a copy of the journal that other tools read the same way is the fix.
 */
export function journalEntryProblems(entries: readonly unknown[]): string[] {
  const problems: string[] = [];
  entries.forEach((entry, position) => {
    const at = entryLabel(position, entry);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${at} is ${describeValue(entry)}, not an entry: remove it, or write the {idx, version, when, tag, breakpoints} object drizzle-kit wrote there`);
      return;
    }
    const { idx, when, tag, breakpoints } = entry as Record<string, unknown>;
    if (idx === undefined) problems.push(`${at} has no "idx": set it to its migration's number (${position} if none was skipped)`);
    else if (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0) {
      const fix = typeof idx === 'string' && /^\d+$/.test(idx.trim()) ? `write it without quotes, "idx": ${Number(idx)}` : `set it to its migration's number (${position} if none was skipped)`;
      problems.push(`${at} has "idx" ${describeValue(idx)}, not a whole number: ${fix}`);
    }
    if (tag === undefined) problems.push(`${at} has no "tag": set it to the name of its SQL file without .sql (e.g. "${String(position).padStart(4, '0')}_name")`);
    else if (typeof tag !== 'string' || tag.trim() === '') problems.push(`${at} has "tag" ${describeValue(tag)}: set it to the name of its SQL file without .sql (e.g. "${String(position).padStart(4, '0')}_name")`);
    else if (/[/\\]/.test(tag)) problems.push(`${at} has "tag" ${JSON.stringify(tag)} with a path separator: a tag names a file in the migrations folder itself, without folders`);
    if (when === undefined) problems.push(`${at} has no "when": set it to the time the migration was generated in milliseconds (a number later than the entry before it)`);
    else if (typeof when !== 'number' || !Number.isFinite(when)) {
      const numeric = typeof when === 'string' && when.trim() !== '' && Number.isFinite(Number(when));
      const fix = numeric
        ? `write it as a number without quotes, "when": ${Number(when)} (drizzle's migrators and this runner compare it as one)`
        : 'set it to the time the migration was generated in milliseconds (a number later than the entry before it)';
      problems.push(`${at} has "when" ${describeValue(when)}, not a number: ${fix}`);
    }
    if (breakpoints !== undefined && typeof breakpoints !== 'boolean') {
      problems.push(`${at} has "breakpoints" ${describeValue(breakpoints)}, not true or false: write "breakpoints": true (drizzle-kit's SQLite migrations use statement breakpoints)`);
    }
  });
  return problems;
}

/**
 * Entries that repeat a tag or a `when` of an earlier entry. A repeated tag runs one file twice; a repeated
 * `when` makes two migrations share the `created_at` that identifies their bookkeeping rows, and drizzle's
 * migrators skip the later one wherever the earlier one is applied. Pure.
 */
export function journalDuplicateProblems(entries: readonly JournalEntry[]): string[] {
  const problems: string[] = [];
  const byTag = new Map<string, number>();
  const byWhen = new Map<number, number>();
  entries.forEach((entry, position) => {
    const at = entryLabel(position, entry);
    const sameTag = byTag.get(entry.tag);
    if (sameTag !== undefined) problems.push(`${at} repeats the tag of entries[${sameTag}]: remove the repeated entry`);
    else byTag.set(entry.tag, position);
    const sameWhen = byWhen.get(entry.when);
    if (sameWhen !== undefined) {
      const previous = entries[sameWhen]!;
      problems.push(
        `${at} has the same "when" ${entry.when} as ${entryLabel(sameWhen, previous)}: drizzle's migrators skip one of them and their bookkeeping rows share a created_at; give ${entry.tag} a later "when" (e.g. ${Math.max(...entries.map((e) => e.when)) + 1}) unless it is applied somewhere already`,
      );
    } else byWhen.set(entry.when, position);
  });
  return problems;
}

function readSqlFile(path: string): SqlFile {
  const text = readFileSync(path).toString();
  return { path, text, statements: splitStatements(text) };
}

function readDownFile(path: string): DownFile {
  const file = readSqlFile(path);
  const dataLoss = file.text
    .split('\n')
    .filter((line) => line.trimStart().startsWith(DATA_LOSS_MARKER))
    .map((line) => line.trimStart().slice(DATA_LOSS_MARKER.length).trim());
  return { ...file, dataLoss };
}

/** Loads every migration of the folder in journal order, with up and down files. */
export function loadMigrations(folder: string): Migration[] {
  const journal = readJournal(folder);
  throwJournalProblems(journalPath(folder), journalDuplicateProblems(journal.entries));
  // One listing of the folder instead of a stat per file: every command starts here (W2 of npm run bench).
  const files = new Set(readdirSync(folder));
  return journal.entries.map((entry, position) => {
    const upPath = join(folder, `${entry.tag}.sql`);
    if (!files.has(`${entry.tag}.sql`)) {
      throw new MigrateError('MISSING_FILE', `journal entry ${entry.tag} has no SQL file: ${upPath} is missing`);
    }
    const up = readSqlFile(upPath);
    const downPath = downFilePath(folder, entry.tag);
    return {
      position,
      idx: entry.idx,
      tag: entry.tag,
      when: entry.when,
      hash: hashSql(up.text),
      up,
      downPath,
      down: files.has(`${entry.tag}.down.sql`) ? readDownFile(downPath) : null,
      snapshotPath: snapshotFilePath(folder, entry.idx),
    };
  });
}
