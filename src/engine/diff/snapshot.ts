import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
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

/**
 * Reads a snapshot as drizzle-kit 0.31 reads it: versions 5 and 6 (what its `validateWithReport` accepts for
 * SQLite). A version-5 snapshot is upgraded in memory the way `drizzle-kit up` rewrites the file (a JSON default
 * still stored as an object or array becomes its quoted text; `views` appears, empty), so every caller gets a
 * version 6 to diff; the user's file is never changed. Anything drizzle-kit's own schema would reject (another
 * version, another dialect, a field of the wrong shape) is refused here in one line instead of reaching its diff,
 * which throws zod's whole report.
 */
export function readSnapshot(path: string): SqliteSnapshot {
  return readVersioned(path).snapshot;
}

/**
 * Before `drizzle-kit generate` adds to a history: it refuses to while a snapshot is of version 5 (it prints "Run
 * drizzle-kit up" and exits 0, having written nothing), and reports other snapshots it cannot read only as
 * "malformed". Each is refused here in one line instead, naming the file and what to run.
 */
export function assertSnapshotsCurrent(folder: string): void {
  const meta = join(folder, 'meta');
  if (!existsSync(meta)) return;
  const files = readdirSync(meta).filter((f) => !f.startsWith('_') && f.endsWith('.json')).sort();
  const older = files.map((f) => join(meta, f)).filter((path) => readVersioned(path).fileVersion !== LATEST_VERSION);
  if (older.length > 0) {
    const which = older.length === 1 ? `${older[0]} is a version-5 snapshot` : `${older[0]} and ${older.length - 1} more are version-5 snapshots`;
    throw new MigrateError('JOURNAL', `${which}, and drizzle-kit generate adds only to version 6: run 'npx drizzle-kit up' (it rewrites them as version 6), then generate again`);
  }
}

function readVersioned(path: string): { snapshot: SqliteSnapshot; fileVersion: string } {
  if (!existsSync(path)) throw new MigrateError('MISSING_FILE', `snapshot ${path} is missing`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new MigrateError('JOURNAL', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!isObject(json)) throw new MigrateError('JOURNAL', `${path} is not a drizzle-kit snapshot (it holds ${describe(json)}, not an object)`);
  if (json.dialect !== 'sqlite') throw new MigrateError('JOURNAL', `${path} is not a SQLite snapshot (its dialect is ${describe(json.dialect)})`);
  const version = json.version;
  if (version === LATEST_VERSION || version === '5') {
    const problem = shapeProblem(json, version === '5' ? SNAPSHOT_V5 : SNAPSHOT_V6, '');
    if (problem) throw new MigrateError('JOURNAL', `${path} is not a snapshot drizzle-kit can read (${problem}): restore it from version control, or generate the migration again`);
    const snapshot = json as unknown as SqliteSnapshot;
    return { snapshot: version === '5' ? upgradeFromV5(snapshot) : withDefaults(snapshot), fileVersion: version };
  }
  const named = typeof version === 'string' || typeof version === 'number' ? `version ${JSON.stringify(version)}` : 'no version';
  if (Number(version) > Number(LATEST_VERSION)) {
    throw new MigrateError('JOURNAL', `${path} is a snapshot of ${named}, newer than this project's drizzle-kit reads (5 and 6): update drizzle-kit`);
  }
  if (Number(version) < 5) {
    throw new MigrateError(
      'JOURNAL',
      `${path} is a snapshot of ${named}, older than drizzle-kit 0.31 reads (5 and 6, and 'npx drizzle-kit up' upgrades only 5): upgrade it with the older drizzle-kit that wrote it, then run 'npx drizzle-kit up'`,
    );
  }
  throw new MigrateError('JOURNAL', `${path} is not a drizzle-kit SQLite snapshot (${named}; drizzle-kit 0.31 reads 5 and 6)`);
}

const LATEST_VERSION = '6';

/** What `drizzle-kit up` (its `updateUpToV6` for SQLite) changes, done on a copy. */
function upgradeFromV5(v5: SqliteSnapshot): SqliteSnapshot {
  const snapshot = withDefaults(structuredClone(v5));
  for (const table of Object.values(snapshot.tables)) {
    for (const column of Object.values(table.columns)) {
      // Version 5 kept a JSON column's default as the value itself; version 6 keeps the SQL literal.
      if (column.default && typeof column.default === 'object') column.default = `'${JSON.stringify(column.default)}'`;
    }
  }
  return { ...snapshot, version: LATEST_VERSION, views: {} };
}

/** The fields drizzle-kit's schema fills with `{}` when a file leaves them out. */
function withDefaults(snapshot: SqliteSnapshot): SqliteSnapshot {
  snapshot.views ??= {};
  for (const table of Object.values(snapshot.tables)) {
    table.uniqueConstraints ??= {};
    table.checkConstraints ??= {};
  }
  return snapshot;
}

// The shape drizzle-kit 0.31's zod schemas for SQLite snapshots accept (serializer/sqliteSchema.ts: `schemaV5` and
// `schema`), so that what passes here also passes its parse. `strict` objects refuse keys they do not name.
type Shape =
  | 'string'
  | 'boolean'
  | 'any'
  | { literal: string }
  | { oneOf: string[] }
  | { array: Shape }
  | { record: Shape }
  | { optional: Shape }
  | { object: Record<string, Shape>; strict: boolean };

const str: Shape = 'string';
const bool: Shape = 'boolean';
const optional = (shape: Shape): Shape => ({ optional: shape });
const strict = (fields: Record<string, Shape>): Shape => ({ object: fields, strict: true });
const loose = (fields: Record<string, Shape>): Shape => ({ object: fields, strict: false });

const COLUMN = strict({
  name: str,
  type: str,
  primaryKey: bool,
  notNull: bool,
  autoincrement: optional(bool),
  default: optional('any'),
  generated: optional(loose({ type: { oneOf: ['stored', 'virtual'] }, as: str })),
});
const TABLE = strict({
  name: str,
  columns: { record: COLUMN },
  indexes: { record: strict({ name: str, columns: { array: str }, where: optional(str), isUnique: bool }) },
  foreignKeys: {
    record: strict({ name: str, tableFrom: str, columnsFrom: { array: str }, tableTo: str, columnsTo: { array: str }, onUpdate: optional(str), onDelete: optional(str) }),
  },
  compositePrimaryKeys: { record: strict({ columns: { array: str }, name: optional(str) }) },
  uniqueConstraints: optional({ record: strict({ name: str, columns: { array: str } }) }),
  checkConstraints: optional({ record: strict({ name: str, value: str }) }),
});
const COMMON: Record<string, Shape> = {
  dialect: { literal: 'sqlite' },
  id: str,
  prevId: str,
  tables: { record: TABLE },
  enums: loose({}),
  _meta: loose({ tables: { record: str }, columns: { record: str } }),
};
const SNAPSHOT_V5 = strict({ ...COMMON, version: { literal: '5' } });
const SNAPSHOT_V6 = strict({
  ...COMMON,
  version: { literal: LATEST_VERSION },
  views: optional({ record: strict({ name: str, columns: { record: COLUMN }, definition: optional(str), isExisting: bool }) }),
  internal: optional(loose({ indexes: optional({ record: optional(loose({ columns: { record: optional(loose({ isExpression: optional(bool) })) } })) }) })),
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first place where `value` does not fit `shape`, as `at: what is wrong`, or null. */
function shapeProblem(value: unknown, shape: Shape, at: string): string | null {
  const where = at || 'the file';
  if (typeof shape === 'string') {
    if (shape === 'any' || typeof value === shape) return null;
    return `${where} should be a ${shape}, not ${describe(value)}`;
  }
  if ('optional' in shape) return value === undefined ? null : shapeProblem(value, shape.optional, at);
  if ('literal' in shape) return value === shape.literal ? null : `${where} should be ${JSON.stringify(shape.literal)}, not ${describe(value)}`;
  if ('oneOf' in shape) return shape.oneOf.includes(value as string) ? null : `${where} should be one of ${shape.oneOf.map((v) => JSON.stringify(v)).join(', ')}, not ${describe(value)}`;
  if ('array' in shape) {
    if (!Array.isArray(value)) return `${where} should be a list, not ${describe(value)}`;
    for (const [i, item] of value.entries()) {
      const problem = shapeProblem(item, shape.array, `${at}[${i}]`);
      if (problem) return problem;
    }
    return null;
  }
  if (!isObject(value)) return `${where} should be an object, not ${describe(value)}`;
  const fields = 'record' in shape ? Object.fromEntries(Object.keys(value).map((key) => [key, shape.record])) : shape.object;
  for (const [key, field] of Object.entries(fields)) {
    const problem = shapeProblem(Object.hasOwn(value, key) ? value[key] : undefined, field, at ? `${at}.${key}` : key);
    if (problem) return problem;
  }
  if ('object' in shape && shape.strict) {
    const unknown = Object.keys(value).find((key) => !Object.hasOwn(shape.object, key));
    if (unknown !== undefined) return `${at ? `${at}.` : ''}${unknown} is not a field drizzle-kit knows${at ? '' : ` in a version-${String(value.version)} snapshot`}`;
  }
  return null;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === 'object' ? 'an object' : String(value);
}
