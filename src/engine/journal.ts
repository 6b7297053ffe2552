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

export function readJournal(folder: string): Journal {
  const path = journalPath(folder);
  if (!existsSync(path)) {
    throw new MigrateError('JOURNAL', `no migrations: ${path} does not exist (generate one with npm run db:generate -- --name <name>)`);
  }
  let journal: Journal;
  try {
    journal = JSON.parse(readFileSync(path, 'utf8')) as Journal;
  } catch (error) {
    throw new MigrateError('JOURNAL', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(journal.entries)) throw new MigrateError('JOURNAL', `${path} has no entries list`);
  if (journal.dialect !== undefined && journal.dialect !== 'sqlite') {
    throw new MigrateError('JOURNAL', `${path} is for dialect '${journal.dialect}', this runner applies SQLite migrations`);
  }
  return journal;
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
