import { parseStatement } from '../lint/statements.js';
import { renameColumn, renameTable, type ColumnRename, type TableRename } from './renames.js';
import type { SnapshotColumn, SnapshotTable, SqliteSnapshot } from './snapshot.js';

/** drizzle-kit's diff engine: the SQL that turns the schema of `from` into that of `to`. */
export type SnapshotDiff = (from: SqliteSnapshot, to: SqliteSnapshot) => Promise<string[]>;

/** Loaded on demand: drizzle-kit is a development tool, and only generating needs it. */
export const drizzleKitDiff: SnapshotDiff = async (from, to) => {
  const { generateSQLiteMigration } = await import('drizzle-kit/api');
  type Snapshot = Parameters<typeof generateSQLiteMigration>[0];
  return generateSQLiteMigration(from as unknown as Snapshot, to as unknown as Snapshot);
};

export interface DownMigration {
  statements: string[];
  /** What running the down file loses or cannot bring back, one line each. */
  dataLoss: string[];
}

/**
 * The SQL that takes a database from the schema of `after` back to that of `before`, built from
 * drizzle-kit's own diff run backwards, in stages that each hold one kind of change:
 *   1. reverse the renames the up migration recorded (`_meta`), as renames, so their data stays;
 *   2. drop what the up migration added (tables, columns, and every view, recreated in step 4);
 *   3. add back what it dropped (tables, columns);
 *   4. alter what remains into `before`'s shape (types, defaults, nullability, indexes, keys, views).
 * Staging keeps drizzle-kit from asking whether a drop plus an add is a rename (it would prompt in a
 * terminal), and from rebuilding a table in the same step that adds a column to it (it would select
 * the new column from the old table).
 */
export async function computeDownMigration(before: SqliteSnapshot, after: SqliteSnapshot, diff: SnapshotDiff = drizzleKitDiff): Promise<DownMigration> {
  const { tables: tableRenames, columns: columnRenames } = recordedRenames(after);
  const renamedBack = clone(after);
  const statements: string[] = [];
  for (const rename of tableRenames) {
    renameTable(renamedBack, rename.to, rename.from);
    statements.push(`ALTER TABLE \`${rename.to}\` RENAME TO \`${rename.from}\`;`);
  }
  for (const rename of columnRenames) {
    // drizzle-kit records column renames under the table's new name.
    const table = tableRenames.find((t) => t.to === rename.table)?.from ?? rename.table;
    renameColumn(renamedBack, table, rename.to, rename.from);
    statements.push(`ALTER TABLE \`${table}\` RENAME COLUMN \`${rename.to}\` TO \`${rename.from}\`;`);
  }

  const dataLoss: string[] = [];
  const dropped = withoutAdditions(renamedBack, before, dataLoss);
  const restored = withRemovalsBack(dropped, before, dataLoss);
  const addedBack = (await diff(dropped, restored)).map((sql) => explainPlaceholder(sql, restored, before));
  statements.push(...(await diff(renamedBack, dropped)), ...addedBack, ...(await diff(restored, before)));
  return { statements, dataLoss };
}

export function recordedRenames(snapshot: SqliteSnapshot): { tables: TableRename[]; columns: ColumnRename[] } {
  const unquote = (name: string) => name.replace(/^"|"$/g, '');
  const tables = Object.entries(snapshot._meta?.tables ?? {}).map(([from, to]) => ({ from: unquote(from), to: unquote(to) }));
  const columns: ColumnRename[] = [];
  for (const [from, to] of Object.entries(snapshot._meta?.columns ?? {})) {
    const source = /^"(.+)"\."(.+)"$/.exec(from);
    const target = /^"(.+)"\."(.+)"$/.exec(to);
    if (source && target) columns.push({ table: target[1]!, from: source[2]!, to: target[2]! });
  }
  return { tables, columns };
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Stage 2: `after` without the tables and columns `before` lacks, without anything that names them, and without views. */
function withoutAdditions(after: SqliteSnapshot, before: SqliteSnapshot, dataLoss: string[]): SqliteSnapshot {
  const result = clone(after);
  result.views = {};
  for (const [name, table] of Object.entries(result.tables)) {
    const old = before.tables[name];
    if (!old) {
      delete result.tables[name];
      dataLoss.push(`drops table ${name} and every row in it`);
      continue;
    }
    for (const column of Object.keys(table.columns)) {
      if (!old.columns[column]) {
        delete table.columns[column];
        dataLoss.push(`drops column ${name}.${column} and the data in it`);
      }
    }
  }
  pruneDanglingReferences(result);
  return result;
}

/** Stage 3: add back, as `before` defines them, the tables and columns the up migration dropped. */
function withRemovalsBack(dropped: SqliteSnapshot, before: SqliteSnapshot, dataLoss: string[]): SqliteSnapshot {
  const result = clone(dropped);
  for (const [name, table] of Object.entries(before.tables)) {
    const current = result.tables[name];
    if (!current) {
      result.tables[name] = clone(table);
      dataLoss.push(`recreates table ${name} empty: the rows the up migration dropped cannot be brought back`);
      continue;
    }
    for (const [columnName, column] of Object.entries(table.columns)) {
      if (current.columns[columnName]) continue;
      current.columns[columnName] = addableColumn(column);
      dataLoss.push(
        needsPlaceholder(column)
          ? `recreates column ${name}.${columnName} (NOT NULL) with ${placeholderDefault(column.type)} in existing rows: the values the up migration dropped cannot be brought back`
          : `recreates column ${name}.${columnName} without the values the up migration dropped`,
      );
    }
  }
  pruneDanglingReferences(result);
  return result;
}

/**
 * SQLite cannot ADD a NOT NULL column without a default to a table with rows, so such a column comes back with a
 * placeholder default that the rebuild of stage 4 removes again: says so above the ADD, for the reviewer.
 */
function explainPlaceholder(sql: string, restored: SqliteSnapshot, before: SqliteSnapshot): string {
  const added = parseStatement({ statement: 0, sql });
  if (added.kind !== 'add-column') return sql;
  const column = before.tables[added.table]?.columns[added.column];
  if (!column || !needsPlaceholder(column)) return sql;
  const placeholder = restored.tables[added.table]?.columns[added.column]?.default;
  return `-- repaired: ${added.table}.${added.column} comes back NOT NULL with ${String(placeholder)} in every row (the values the up migration dropped are gone); SQLite cannot add it without a default to a table with rows, so the rebuild below removes this placeholder default again\n${sql}`;
}

function needsPlaceholder(column: SnapshotColumn): boolean {
  return column.notNull && column.default === undefined && !column.primaryKey && !column.generated;
}

/**
 * SQLite cannot ADD a NOT NULL column without a default to a table with rows; the column comes back
 * with a placeholder default that stage 4 removes again (by a rebuild that keeps the placeholder values).
 */
function addableColumn(column: SnapshotColumn): SnapshotColumn {
  return needsPlaceholder(column) ? { ...column, default: placeholderDefault(column.type) } : clone(column);
}

function placeholderDefault(type: string): string | number {
  const t = type.toLowerCase();
  if (t.includes('int') || t.includes('real') || t.includes('floa') || t.includes('doub') || t.includes('num') || t.includes('dec') || t.includes('bool')) return 0;
  if (t.includes('blob')) return "x''";
  return "''";
}

/** Drops indexes, keys and constraints that name a table or column no longer in the snapshot. */
function pruneDanglingReferences(snapshot: SqliteSnapshot): void {
  const hasColumns = (table: string, columns: string[]) => {
    const t = snapshot.tables[table];
    return t !== undefined && columns.every((c) => t.columns[c] !== undefined);
  };
  for (const [name, table] of Object.entries(snapshot.tables) as [string, SnapshotTable][]) {
    const keep = <T extends { columns: string[] }>(items: Record<string, T>) =>
      Object.fromEntries(Object.entries(items).filter(([, item]) => hasColumns(name, item.columns)));
    table.indexes = keep(table.indexes);
    table.compositePrimaryKeys = keep(table.compositePrimaryKeys);
    table.uniqueConstraints = keep(table.uniqueConstraints);
    table.foreignKeys = Object.fromEntries(
      Object.entries(table.foreignKeys).filter(([, fk]) => hasColumns(name, fk.columnsFrom) && hasColumns(fk.tableTo, fk.columnsTo)),
    );
  }
}

/** The text of a down file: a header saying what it reverses, data-loss notes, then the SQL. */
export function renderDownFile(tag: string, down: DownMigration, source: string): string {
  const header = [
    `-- Down migration for ${tag}: reverses ${tag}.sql.`,
    `-- ${source}`,
    ...down.dataLoss.map((note) => `-- data-loss: ${note}`),
  ];
  if (down.statements.length === 0) {
    return `${header.join('\n')}\n-- Nothing to generate: write the SQL that reverses ${tag}.sql here, as SQL statements ending in semicolons.\n`;
  }
  return `${header.join('\n')}\n${down.statements.join('\n--> statement-breakpoint\n')}\n`;
}
