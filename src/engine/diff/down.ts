import type { Migration } from '../journal.js';
import { parseMigrationStatements, parseStatement } from '../lint/statements.js';
import { renameColumn, renameTable, type ColumnRename, type TableRename } from './renames.js';
import { parseCreateTable, renameCreatedTable, withExpressionIndexes } from './repair.js';
import type { SnapshotColumn, SnapshotTable, SqliteSnapshot } from './snapshot.js';

/** drizzle-kit's diff engine: the SQL that turns the schema of `from` into that of `to`. */
export type SnapshotDiff = (from: SqliteSnapshot, to: SqliteSnapshot) => Promise<string[]>;

/** Loaded on demand: drizzle-kit is a development tool, and only generating needs it. */
export const drizzleKitDiff: SnapshotDiff = async (from, to) => {
  const { generateSQLiteMigration } = await import('drizzle-kit/api');
  type Snapshot = Parameters<typeof generateSQLiteMigration>[0];
  return withExpressionIndexes(await generateSQLiteMigration(from as unknown as Snapshot, to as unknown as Snapshot), to);
};

export interface DownMigration {
  statements: string[];
  /** What running the down file loses or cannot bring back, one line each. */
  dataLoss: string[];
}

/** Each table's columns in the order the database holds them (`pragma_table_xinfo`'s), which a snapshot may not. */
export type ColumnOrders = Record<string, string[]>;

/** The column order of every table before a migration's up file and after it. */
export interface TableLayouts {
  before: ColumnOrders;
  after: ColumnOrders;
}

/**
 * The SQL that takes a database from the schema of `after` back to that of `before`, built from
 * drizzle-kit's own diff run backwards, in stages that each hold one kind of change:
 *   1. reverse the renames the up migration recorded (`_meta`), as renames, so their data stays;
 *   2. drop what the up migration added (tables, children before their parents; columns; and every view,
 *      recreated in step 5);
 *   3. add back what it dropped (tables, columns);
 *   4. rebuild, as `before` defines them, the tables whose primary key the up migration changed or whose
 *      columns would otherwise end in another order than before the up (see below);
 *   5. alter what remains into `before`'s shape (types, defaults, nullability, indexes, keys, views).
 * Staging keeps drizzle-kit from asking whether a drop plus an add is a rename (it would prompt in a
 * terminal), and from rebuilding a table in the same step that adds a column to it (it would select
 * the new column from the old table).
 *
 * A snapshot lists a table's columns in the models' order, but `ALTER TABLE … ADD` puts a column last: after an
 * added column the database's order is not the snapshot's. `layouts` gives the database's order before and after
 * the up file (`columnOrdersAround`, derived from the up files); each stage's snapshot is put in the order the
 * table has at that point, so that drizzle-kit's rebuilds recreate a table with its columns where they were.
 * Where adding back a dropped column would put it elsewhere than it was, step 4 rebuilds the table instead.
 * Step 4 also takes the tables whose primary key changed out of drizzle-kit's stages: dropping a key column
 * (SQLite refuses) or adding one back (a second PRIMARY KEY) cannot be staged; one rebuild from the table as the
 * up found it straight to `before`'s definition (drizzle-kit's CREATE TABLE and CREATE INDEX text) can.
 */
export async function computeDownMigration(
  before: SqliteSnapshot,
  after: SqliteSnapshot,
  diff: SnapshotDiff = drizzleKitDiff,
  layouts?: TableLayouts,
): Promise<DownMigration> {
  const { tables: tableRenames, columns: columnRenames } = recordedRenames(after);
  const renamedBack = clone(after);
  const physicalAfter = clone(layouts?.after ?? {});
  const statements: string[] = [];
  for (const rename of tableRenames) {
    renameTable(renamedBack, rename.to, rename.from);
    renameInOrders(physicalAfter, rename.to, rename.from);
    statements.push(`ALTER TABLE \`${rename.to}\` RENAME TO \`${rename.from}\`;`);
  }
  for (const rename of columnRenames) {
    // drizzle-kit records column renames under the table's new name.
    const table = tableRenames.find((t) => t.to === rename.table)?.from ?? rename.table;
    renameColumn(renamedBack, table, rename.to, rename.from);
    const order = physicalAfter[table];
    if (order) physicalAfter[table] = order.map((c) => (c === rename.to ? rename.from : c));
    statements.push(`ALTER TABLE \`${table}\` RENAME COLUMN \`${rename.to}\` TO \`${rename.from}\`;`);
  }
  inOrder(renamedBack, physicalAfter);
  const target = inOrder(clone(before), layouts?.before ?? {});

  const dataLoss: string[] = [];
  const dropped = withoutAdditions(renamedBack, target, dataLoss);
  const restored = withRemovalsBack(dropped, target, dataLoss);
  // Stage 4's tables, taken out of the other stages: there they are `before`'s table throughout.
  const rebuilt = Object.keys(renamedBack.tables).filter((name) => {
    const wanted = target.tables[name];
    const staged = restored.tables[name];
    if (!wanted || !staged) return false;
    return !sameKey(renamedBack.tables[name]!, wanted) || Object.keys(staged.columns).join('\0') !== Object.keys(wanted.columns).join('\0');
  });
  // What such a table holds when it is rebuilt: its columns after the renames (no other stage touches it).
  const columnsFound = new Map(rebuilt.map((name) => [name, Object.keys(renamedBack.tables[name]!.columns)]));
  for (const name of rebuilt) for (const stage of [renamedBack, dropped, restored]) stage.tables[name] = clone(target.tables[name]!);

  const removed = childrenFirst(await diff(renamedBack, dropped), renamedBack);
  const addedBack = (await diff(dropped, restored)).map((sql) => explainPlaceholder(sql, restored, target));
  const rebuilds: string[] = [];
  for (const name of rebuilt) rebuilds.push(...(await rebuildAs(target, name, columnsFound.get(name)!, diff)));
  statements.push(...removed, ...addedBack, ...rebuilds, ...(await diff(restored, target)));
  return { statements, dataLoss };
}

/**
 * Each table's column order before and after the up file of `migrations[position]`, as the up files make it
 * (SQLite keeps the order of CREATE TABLE and appends what `ALTER TABLE … ADD` adds; a drizzle-kit rebuild takes
 * its CREATE TABLE's order). Read from the files rather than from the snapshots, which keep the models' order.
 */
export function columnOrdersAround(migrations: readonly Pick<Migration, 'up'>[], position: number): TableLayouts {
  const orders: ColumnOrders = {};
  for (const migration of migrations.slice(0, position)) applyToOrders(orders, migration.up.statements);
  const before = clone(orders);
  const migration = migrations[position];
  if (migration) applyToOrders(orders, migration.up.statements);
  return { before, after: orders };
}

/** Follows one file's statements: CREATE, DROP and RENAME TABLE; ADD, DROP and RENAME COLUMN. */
function applyToOrders(orders: ColumnOrders, chunks: readonly string[]): void {
  for (const statement of parseMigrationStatements(chunks)) {
    switch (statement.kind) {
      case 'create-table':
        orders[statement.table] = parseCreateTable(statement.sql).columns;
        break;
      case 'drop-table':
        delete orders[statement.table];
        break;
      case 'rename-table':
        renameInOrders(orders, statement.table, statement.to);
        break;
      case 'add-column':
        orders[statement.table]?.push(statement.column);
        break;
      case 'drop-column':
        if (orders[statement.table]) orders[statement.table] = orders[statement.table]!.filter((c) => c !== statement.column);
        break;
      case 'rename-column':
        if (orders[statement.table]) orders[statement.table] = orders[statement.table]!.map((c) => (c === statement.column ? statement.to : c));
        break;
      default:
        break;
    }
  }
}

function renameInOrders(orders: ColumnOrders, from: string, to: string): void {
  const order = orders[from];
  delete orders[from];
  if (order) orders[to] = order;
}

/** Puts each table's columns in the order `orders` gives, where it names exactly the snapshot's columns. */
function inOrder(snapshot: SqliteSnapshot, orders: ColumnOrders): SqliteSnapshot {
  for (const table of Object.values(snapshot.tables)) {
    const order = Object.hasOwn(orders, table.name) ? orders[table.name]! : undefined;
    const names = Object.keys(table.columns);
    if (!order || order.length !== names.length || !order.every((c) => Object.hasOwn(table.columns, c))) continue;
    table.columns = Object.fromEntries(order.map((c) => [c, table.columns[c]!]));
  }
  return snapshot;
}

/** A table's primary key: its composite key's columns, or its column with `primaryKey` (kept apart: they differ in DDL). */
function sameKey(a: SnapshotTable, b: SnapshotTable): boolean {
  const key = (t: SnapshotTable) =>
    JSON.stringify({
      composite: Object.values(t.compositePrimaryKeys).map((pk) => pk.columns),
      columns: Object.values(t.columns).filter((c) => c.primaryKey).map((c) => [c.name, c.autoincrement === true]),
    });
  return key(a) === key(b);
}

/**
 * drizzle-kit's table rebuild (its own CREATE TABLE and CREATE INDEX text for `before`'s table), from the table as
 * it is when the rebuild runs (`found`, its columns): the columns on both sides are copied; a NOT NULL column that
 * is not there gets the placeholder stage 3 would have given it, a key column that is not there gets the rowid (an
 * INTEGER PRIMARY KEY is the rowid and is left to SQLite), and the others their defaults.
 */
async function rebuildAs(before: SqliteSnapshot, name: string, found: readonly string[], diff: SnapshotDiff): Promise<string[]> {
  const table = before.tables[name]!;
  const alone = { ...clone(before), tables: { [name]: clone(table) }, views: {} };
  const created = await diff({ ...alone, tables: {} }, alone);
  const createTable = created.find((sql) => parseStatement({ statement: 0, sql }).kind === 'create-table');
  if (!createTable) throw new Error(`drizzle-kit wrote no CREATE TABLE for ${name}`);
  const newTable = `__new_${name}`;
  const targets: string[] = [];
  const sources: string[] = [];
  const notes: string[] = [];
  const integerKey = Object.values(table.columns).filter((c) => c.primaryKey).length === 1 && Object.keys(table.compositePrimaryKeys).length === 0;
  const keyColumns = new Set([...Object.values(table.compositePrimaryKeys).flatMap((pk) => pk.columns), ...Object.values(table.columns).filter((c) => c.primaryKey).map((c) => c.name)]);
  for (const column of Object.values(table.columns)) {
    if (column.generated) continue;
    if (found.includes(column.name)) {
      targets.push(column.name);
      sources.push(dq(column.name));
    } else if (keyColumns.has(column.name)) {
      if (integerKey && column.primaryKey && column.type.toLowerCase() === 'integer') continue;
      targets.push(column.name);
      sources.push('rowid');
      notes.push(`${name}.${column.name} comes back as part of the primary key with each row's rowid (the values the up migration dropped are gone)`);
    } else if (needsPlaceholder(column)) {
      targets.push(column.name);
      sources.push(String(placeholderDefault(column.type)));
      notes.push(`${name}.${column.name} comes back NOT NULL with ${String(placeholderDefault(column.type))} in every row (the values the up migration dropped are gone)`);
    }
  }
  const comment = notes.map((note) => `-- ${note}\n`).join('');
  return [
    'PRAGMA foreign_keys=OFF;',
    renameCreatedTable(createTable, name, newTable),
    `${comment}INSERT INTO ${bq(newTable)}(${targets.map(dq).join(', ')}) SELECT ${sources.join(', ')} FROM ${bq(name)};`,
    `DROP TABLE ${bq(name)};`,
    `ALTER TABLE ${bq(newTable)} RENAME TO ${bq(name)};`,
    'PRAGMA foreign_keys=ON;',
    ...created.filter((sql) => sql !== createTable),
  ];
}

const bq = (name: string) => `\`${name.replace(/`/g, '``')}\``;
const dq = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The DROP TABLE statements of `statements` reordered so that a table goes before the tables it references (a
 * parent dropped first fails, or cascades, wherever foreign keys are enforced); other statements keep their place.
 * A self-reference does not count; in a cycle, the first table drizzle-kit dropped goes first.
 */
function childrenFirst(statements: string[], snapshot: SqliteSnapshot): string[] {
  const positions: number[] = [];
  const names: string[] = [];
  statements.forEach((sql, i) => {
    const parsed = parseStatement({ statement: 0, sql });
    if (parsed.kind === 'drop-table') {
      positions.push(i);
      names.push(parsed.table);
    }
  });
  const parentsOf = (name: string) =>
    new Set(Object.values(snapshot.tables[name]?.foreignKeys ?? {}).map((fk) => fk.tableTo).filter((parent) => parent !== name));
  const left = names.map((name, i) => ({ name, sql: statements[positions[i]!]! }));
  const ordered: string[] = [];
  while (left.length > 0) {
    // A table no remaining table references goes next.
    const next = left.findIndex(({ name }) => !left.some((other) => other.name !== name && parentsOf(other.name).has(name)));
    ordered.push(left.splice(next === -1 ? 0 : next, 1)[0]!.sql);
  }
  const result = [...statements];
  positions.forEach((position, i) => (result[position] = ordered[i]!));
  return result;
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
