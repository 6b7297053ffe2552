import { MigrateError, assertNever } from '../errors.js';
import type { SqliteSnapshot } from './snapshot.js';

/** `--rename-table old=new`. */
export interface TableRename {
  from: string;
  to: string;
}

/** `--rename-column table.old=new`; `table` is the table's name in the models (its new name if it is renamed too). */
export interface ColumnRename {
  table: string;
  from: string;
  to: string;
}

export interface RenameRequest {
  tables: TableRename[];
  columns: ColumnRename[];
}

/** The renames applied to the last snapshot: what drizzle-kit would have asked, answered. */
export interface RenamePlan {
  /** A copy of the last snapshot with the renames made: what remains to diff against the models. */
  renamed: SqliteSnapshot;
  /** The renames as SQL, tables first (column renames name the table's new name, as drizzle-kit's do). */
  statements: string[];
  /** The snapshot's `_meta`, exactly as drizzle-kit records answered renames. */
  meta: SqliteSnapshot['_meta'];
}

/** A change drizzle-kit would ask about in a terminal: names removed and added in the same place. */
export type Ambiguity =
  | { kind: 'table'; removed: string[]; added: string[] }
  | { kind: 'column'; table: string; removed: string[]; added: string[] }
  | { kind: 'view'; removed: string[]; added: string[] };

const TABLE_FLAG = /^([^=]+)=([^=]+)$/;
const COLUMN_FLAG = /^([^.=]+)\.([^=]+)=([^=]+)$/;

/** Parses the flags' values (`old=new`, `table.old=new`); the table of a column flag ends at its first dot. */
export function parseRenameFlags(flags: { tables?: readonly string[]; columns?: readonly string[] }): RenameRequest {
  const tables = (flags.tables ?? []).map((flag) => {
    const match = TABLE_FLAG.exec(flag.trim());
    if (!match) throw new MigrateError('BAD_RENAME', `--rename-table ${flag}: expected <old>=<new>, e.g. --rename-table users=accounts`);
    return { from: match[1]!.trim(), to: match[2]!.trim() };
  });
  const columns = (flags.columns ?? []).map((flag) => {
    const match = COLUMN_FLAG.exec(flag.trim());
    if (!match) throw new MigrateError('BAD_RENAME', `--rename-column ${flag}: expected <table>.<old>=<new>, e.g. --rename-column users.name=full_name`);
    return { table: match[1]!.trim(), from: match[2]!.trim(), to: match[3]!.trim() };
  });
  return { tables, columns };
}

/**
 * Applies the requested renames to a copy of `last` after checking each against `last` (the old name exists, the
 * new one does not) and `models` (the new name exists, the old one is gone). A column flag may name its table by
 * its old or its new name. Throws `BAD_RENAME` before anything is written.
 */
export function planRenames(last: SqliteSnapshot, models: SqliteSnapshot, request: RenameRequest): RenamePlan {
  const renamed = structuredClone(last);
  const statements: string[] = [];
  const meta: SqliteSnapshot['_meta'] = { schemas: {}, tables: {}, columns: {} };
  const bad = (message: string) => new MigrateError('BAD_RENAME', `${message}; nothing was written`);
  const seen = new Set<string>();

  for (const { from, to } of request.tables) {
    const flag = `--rename-table ${from}=${to}`;
    if (seen.has(`table ${from}`)) throw bad(`${flag}: table ${from} is renamed twice`);
    seen.add(`table ${from}`);
    if (!renamed.tables[from]) throw bad(`${flag}: the last snapshot has no table ${from} (tables: ${list(Object.keys(renamed.tables))})`);
    if (renamed.tables[to]) throw bad(`${flag}: the last snapshot already has a table ${to}`);
    if (!models.tables[to]) throw bad(`${flag}: the models have no table ${to} (tables: ${list(Object.keys(models.tables))})`);
    if (models.tables[from]) throw bad(`${flag}: table ${from} is still in the models, so it was not renamed`);
    renameTable(renamed, from, to);
    statements.push(`ALTER TABLE \`${from}\` RENAME TO \`${to}\`;`);
    meta.tables[`"${from}"`] = `"${to}"`;
  }

  for (const { table: named, from, to } of request.columns) {
    // The models' name of the table: the flag may give the old one of a table renamed by a flag.
    const table = request.tables.find((t) => t.from === named)?.to ?? named;
    const flag = `--rename-column ${named}.${from}=${to}`;
    if (seen.has(`column ${table}.${from}`)) throw bad(`${flag}: column ${table}.${from} is renamed twice`);
    seen.add(`column ${table}.${from}`);
    const before = renamed.tables[table];
    const after = models.tables[table];
    if (!before) throw bad(`${flag}: the last snapshot has no table ${named} (tables: ${list(Object.keys(last.tables))})`);
    if (!after) throw bad(`${flag}: the models have no table ${table}`);
    if (!before.columns[from]) throw bad(`${flag}: the last snapshot has no column ${table}.${from} (columns: ${list(Object.keys(before.columns))})`);
    if (before.columns[to]) throw bad(`${flag}: the last snapshot already has a column ${table}.${to}`);
    if (!after.columns[to]) throw bad(`${flag}: the models have no column ${table}.${to} (columns: ${list(Object.keys(after.columns))})`);
    if (after.columns[from]) throw bad(`${flag}: column ${table}.${from} is still in the models, so it was not renamed`);
    renameColumn(renamed, table, from, to);
    statements.push(`ALTER TABLE \`${table}\` RENAME COLUMN \`${from}\` TO \`${to}\`;`);
    // drizzle-kit records a column rename under the table's new name on both sides.
    meta.columns[`"${table}"."${from}"`] = `"${table}"."${to}"`;
  }
  return { renamed, statements, meta };
}

/**
 * The changes drizzle-kit's diff of `last` against `models` would ask about: tables (or views) both removed and
 * added, and, in a table on both sides, columns both removed and added.
 */
export function findAmbiguities(last: SqliteSnapshot, models: SqliteSnapshot): Ambiguity[] {
  const onlyIn = (a: object, b: object) => Object.keys(a).filter((k) => !(k in b)).sort();
  const ambiguities: Ambiguity[] = [];
  const tables = { removed: onlyIn(last.tables, models.tables), added: onlyIn(models.tables, last.tables) };
  if (tables.removed.length > 0 && tables.added.length > 0) ambiguities.push({ kind: 'table', ...tables });
  for (const [name, table] of Object.entries(models.tables)) {
    const before = last.tables[name];
    if (!before) continue;
    const columns = { removed: onlyIn(before.columns, table.columns), added: onlyIn(table.columns, before.columns) };
    if (columns.removed.length > 0 && columns.added.length > 0) ambiguities.push({ kind: 'column', table: name, ...columns });
  }
  const views = { removed: onlyIn(last.views ?? {}, models.views ?? {}), added: onlyIn(models.views ?? {}, last.views ?? {}) };
  if (views.removed.length > 0 && views.added.length > 0) ambiguities.push({ kind: 'view', ...views });
  return ambiguities;
}

/** One line per ambiguity: the candidates, and the flag that answers it (or, for views, how to avoid it). */
export function describeAmbiguities(ambiguities: readonly Ambiguity[]): string {
  return ambiguities
    .map((a) => {
      switch (a.kind) {
        case 'table':
          return `${noun('table', a.removed)} ${list(a.removed)} removed and ${list(a.added)} added: if it is a rename, pass --rename-table ${a.removed[0]}=${a.added[0]}`;
        case 'column':
          return `in table ${a.table}, ${noun('column', a.removed)} ${list(a.removed)} removed and ${list(a.added)} added: if it is a rename, pass --rename-column ${a.table}.${a.removed[0]}=${a.added[0]}`;
        case 'view':
          return `${noun('view', a.removed)} ${list(a.removed)} removed and ${list(a.added)} added: views cannot be renamed by a flag`;
        default:
          return assertNever(a);
      }
    })
    .join('; ');
}

/** The way around a change that could be a rename but is not. */
export const SPLIT_ADVICE = 'make the drop and the add in two migrations (generate one, then the other)';

const noun = (word: string, names: readonly string[]) => (names.length === 1 ? word : `${word}s`);

function list(names: readonly string[]): string {
  return names.length === 0 ? '(none)' : names.join(', ');
}

const swap = (names: string[], from: string, to: string) => names.map((n) => (n === from ? to : n));

/** Renames a table in place: its key and name, and every foreign key that names it. */
export function renameTable(snapshot: SqliteSnapshot, from: string, to: string): void {
  const table = snapshot.tables[from];
  if (!table) return;
  delete snapshot.tables[from];
  snapshot.tables[to] = { ...table, name: to };
  for (const t of Object.values(snapshot.tables)) {
    for (const fk of Object.values(t.foreignKeys)) {
      if (fk.tableFrom === from) fk.tableFrom = to;
      if (fk.tableTo === from) fk.tableTo = to;
    }
  }
}

/** Renames a column in place: its key and name, and every index, key and constraint column list that names it. */
export function renameColumn(snapshot: SqliteSnapshot, tableName: string, from: string, to: string): void {
  const table = snapshot.tables[tableName];
  const column = table?.columns[from];
  if (!table || !column) return;
  table.columns = Object.fromEntries(Object.entries(table.columns).map(([name, c]) => (name === from ? [to, { ...c, name: to }] : [name, c])));
  for (const index of Object.values(table.indexes)) index.columns = swap(index.columns, from, to);
  for (const pk of Object.values(table.compositePrimaryKeys)) pk.columns = swap(pk.columns, from, to);
  for (const unique of Object.values(table.uniqueConstraints)) unique.columns = swap(unique.columns, from, to);
  for (const t of Object.values(snapshot.tables)) {
    for (const fk of Object.values(t.foreignKeys)) {
      if (fk.tableFrom === tableName) fk.columnsFrom = swap(fk.columnsFrom, from, to);
      if (fk.tableTo === tableName) fk.columnsTo = swap(fk.columnsTo, from, to);
    }
  }
}
