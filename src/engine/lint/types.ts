import type { ColumnShape, IndexShape, NormalizedSchema } from '../diff/introspect.js';
import type { ParsedStatement, StatementRef } from './statements.js';

/**
 * Stable codes, numbered as Atlas numbers its checks where Atlas has one (https://atlasgo.io/lint/analyzers):
 * DS destructive, BC backward-incompatible, MF data-dependent; RB (SQLite table rebuilds) and TX (transaction control
 * written into a file) are this runner's own.
 */
export type LintCode = 'DS102' | 'DS103' | 'BC101' | 'BC102' | 'MF101' | 'MF102' | 'MF103' | 'MF104' | 'RB101' | 'TX101' | 'TX102';

/** `error`: the migration will fail on the database it was checked against; `warning`: it may do harm. */
export type Severity = 'error' | 'warning';

export interface LintFinding {
  code: LintCode;
  severity: Severity;
  /** The migration's tag and up file, and the 1-based chunk number of the statement in that file. */
  tag: string;
  file: string;
  statement: number;
  message: string;
}

/**
 * A table rebuild as drizzle-kit writes it (and as SQLite's docs describe it): a new table created in the
 * migration, the old one dropped, the new one renamed to the old name.
 */
export interface Rebuild {
  table: string;
  temp: string;
  create: StatementRef;
  drop: StatementRef;
  rename: StatementRef;
  /** Columns and indexes of the new table, read from SQLite after running its CREATE TABLE on a scratch database. */
  columns: Record<string, ColumnShape>;
  indexes: Record<string, IndexShape>;
}

/** Counts on the live database, for the data-dependent checks; null when it cannot tell (no such table or column). */
export interface LiveCounter {
  rows(table: string): Promise<number | null>;
  nulls(table: string, column: string): Promise<number | null>;
  /** Groups of rows with equal, non-NULL values of the parts (columns or expressions), and the rows in them. */
  duplicates(table: string, parts: readonly string[], where: string | null): Promise<{ groups: number; rows: number } | null>;
}

export interface LintContext {
  tag: string;
  file: string;
  statements: ParsedStatement[];
  /** The schema before the migration (its predecessors applied to an empty scratch database). */
  before: NormalizedSchema;
  rebuilds: Rebuild[];
  /** The live database's rows, when the migration is pending there; null otherwise. */
  live: LiveCounter | null;
}

export interface Analyzer {
  codes: readonly LintCode[];
  /** What it looks for, for documentation and `--help`. */
  summary: string;
  analyze(ctx: LintContext): Promise<LintFinding[]>;
}
