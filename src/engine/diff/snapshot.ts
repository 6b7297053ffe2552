import { existsSync, readFileSync } from 'node:fs';
import { MigrateError } from '../errors.js';

/** The parts of drizzle-kit's SQLite snapshot (`meta/NNNN_snapshot.json`) that down-file generation edits. */
export interface SqliteSnapshot {
  version: string;
  dialect: string;
  id: string;
  prevId: string;
  tables: Record<string, SnapshotTable>;
  views: Record<string, { name: string } & Record<string, unknown>>;
  enums: Record<string, unknown>;
  _meta: { schemas: Record<string, string>; tables: Record<string, string>; columns: Record<string, string> };
  internal?: unknown;
}

export interface SnapshotTable {
  name: string;
  columns: Record<string, SnapshotColumn>;
  indexes: Record<string, { name: string; columns: string[]; isUnique: boolean; where?: string }>;
  foreignKeys: Record<string, { name: string; tableFrom: string; columnsFrom: string[]; tableTo: string; columnsTo: string[] } & Record<string, unknown>>;
  compositePrimaryKeys: Record<string, { name?: string; columns: string[] }>;
  uniqueConstraints: Record<string, { name: string; columns: string[] }>;
  checkConstraints: Record<string, { name: string; value: string }>;
}

export interface SnapshotColumn {
  name: string;
  type: string;
  primaryKey: boolean;
  notNull: boolean;
  autoincrement?: boolean;
  default?: unknown;
  generated?: unknown;
}

/** drizzle-kit's id for "no previous snapshot". */
export const ORIGIN_ID = '00000000-0000-0000-0000-000000000000';

/** The schema before the first migration. */
export function emptySnapshot(): SqliteSnapshot {
  return {
    version: '6',
    dialect: 'sqlite',
    id: ORIGIN_ID,
    prevId: ORIGIN_ID,
    tables: {},
    views: {},
    enums: {},
    _meta: { schemas: {}, tables: {}, columns: {} },
    internal: { indexes: {} },
  };
}

export function readSnapshot(path: string): SqliteSnapshot {
  if (!existsSync(path)) throw new MigrateError('MISSING_FILE', `snapshot ${path} is missing`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SqliteSnapshot;
  } catch (error) {
    throw new MigrateError('JOURNAL', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
