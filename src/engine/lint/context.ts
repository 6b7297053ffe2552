import type { Queryable } from '../../db/driver.js';
import { openBetterSqlite } from '../../db/better-sqlite3.js';
import { introspect, type TableShape } from '../diff/introspect.js';
import type { LintCode, LintContext, LintFinding, LiveCounter, Rebuild, Severity } from './types.js';
import { plainColumn, quoteIdentifier, type ParsedStatement, type StatementRef } from './statements.js';

export function finding(ctx: LintContext, code: LintCode, severity: Severity, at: StatementRef, message: string): LintFinding {
  return { code, severity, tag: ctx.tag, file: ctx.file, statement: at.statement, message };
}

/** A table as it was before the migration, seen from statement `at` of it (after the renames before `at`). */
export interface TableOrigin {
  /** Its name before the migration (what the live database calls it). */
  table: string;
  /** Its shape before the migration, with columns under their names at `at`. */
  shape: TableShape;
  /** A column's name before the migration, from its name at `at`. */
  column(name: string): string;
}

/**
 * Follows a table back from statement `at` to before the migration, through the renames of the table and of
 * its columns earlier in the migration. Undefined for a table the migration creates (it holds no rows yet).
 */
export function originOf(ctx: LintContext, table: string, at: StatementRef): TableOrigin | undefined {
  const position = ctx.statements.findIndex((s) => s.statement === at.statement && s.sql === at.sql);
  const earlier = ctx.statements.slice(0, position === -1 ? ctx.statements.length : position).reverse();
  let name = table;
  const columnRenames: { from: string; to: string }[] = [];
  for (const s of earlier) {
    if (isRebuildStep(ctx, s)) continue;
    if (s.kind === 'rename-table' && s.to === name) name = s.table;
    else if ((s.kind === 'create-table' || s.kind === 'drop-table') && s.table === name) return undefined;
    else if (s.kind === 'rename-column' && s.table === name) columnRenames.unshift({ from: s.column, to: s.to });
  }
  const before = ctx.before.tables[name];
  if (!before) return undefined;
  const shape = structuredClone(before);
  for (const { from, to } of columnRenames) {
    const column = shape.columns[from];
    if (!column) continue;
    delete shape.columns[from];
    shape.columns[to] = column;
    for (const index of Object.values(shape.indexes)) index.columns = index.columns.map((c) => (c === from ? to : c));
  }
  const column = (current: string) => columnRenames.reduceRight((c, r) => (c === r.to ? r.from : c), current);
  return { table: name, shape, column };
}

/** A table the migration creates before statement `at`: it holds no rows yet. */
export function isNewTable(ctx: LintContext, table: string, at: StatementRef): boolean {
  return originOf(ctx, table, at) === undefined;
}

/** A column the migration itself adds (so it holds nothing but its default yet). */
export function isAddedColumn(ctx: LintContext, table: string, column: string): boolean {
  return ctx.statements.some((s) => s.kind === 'add-column' && s.table === table && s.column === column);
}

export function isRebuildStep(ctx: LintContext, at: StatementRef): boolean {
  return ctx.rebuilds.some((r) => [r.create, r.drop, r.rename].some((step) => step.statement === at.statement && step.sql === at.sql));
}

/** `1 row`, `3 rows`. */
export function rows(count: number): string {
  return `${count} row${count === 1 ? '' : 's'}`;
}

/**
 * Finds the rebuilds of a migration: CREATE TABLE t2, DROP TABLE t, ALTER TABLE t2 RENAME TO t (drizzle-kit
 * names t2 `__new_t`), and reads the new table's shape by running its CREATE TABLE on a scratch database.
 */
export async function findRebuilds(statements: readonly ParsedStatement[]): Promise<Rebuild[]> {
  const rebuilds: Rebuild[] = [];
  for (const [k, rename] of statements.entries()) {
    if (rename.kind !== 'rename-table') continue;
    const earlier = statements.slice(0, k);
    const create = earlier.find((s) => s.kind === 'create-table' && s.table === rename.table);
    const drop = earlier.find((s) => s.kind === 'drop-table' && s.table === rename.to);
    if (!create || !drop) continue;
    const shape = await shapeOfCreate(create.sql, rename.table);
    rebuilds.push({ table: rename.to, temp: rename.table, create, drop, rename, columns: shape?.columns ?? {}, indexes: shape?.indexes ?? {} });
  }
  return rebuilds;
}

async function shapeOfCreate(sql: string, table: string) {
  const db = openBetterSqlite({ kind: 'memory' });
  try {
    await db.exec(sql);
    return (await introspect(db)).tables[table] ?? null;
  } catch {
    return null; // not runnable on its own; the analyzers that need the shape stay silent
  } finally {
    await db.close();
  }
}

/** Counts on a live database; every question whose table or column is missing there answers null. */
export function liveCounter(db: Queryable): LiveCounter {
  const columnsOf = async (table: string) => (await db.all<{ name: string }>('SELECT name FROM pragma_table_xinfo(?)', [table])).map((c) => c.name);
  const count = async (sql: string): Promise<number | null> => {
    try {
      const [row] = await db.all<{ n: number }>(sql);
      return Number(row?.n ?? 0);
    } catch {
      return null;
    }
  };
  return {
    async rows(table) {
      if ((await columnsOf(table)).length === 0) return null;
      return count(`SELECT count(*) AS n FROM ${quoteIdentifier(table)}`);
    },
    async nulls(table, column) {
      if (!(await columnsOf(table)).includes(column)) return null;
      return count(`SELECT count(*) AS n FROM ${quoteIdentifier(table)} WHERE ${quoteIdentifier(column)} IS NULL`);
    },
    async duplicates(table, parts, where) {
      const columns = await columnsOf(table);
      if (columns.length === 0) return null;
      // Plain columns must exist now (a column added by the same migration cannot be counted yet).
      if (parts.some((p) => {
        const column = plainColumn(p);
        return column !== null && !columns.includes(column);
      })) return null;
      const keys = parts.join(', ');
      const filters = [...parts.map((p) => `(${p}) IS NOT NULL`), ...(where ? [`(${where})`] : [])].join(' AND ');
      try {
        const [row] = await db.all<{ groups: number; rows: number | null }>(
          `SELECT count(*) AS groups, sum(n) AS rows FROM (SELECT count(*) AS n FROM ${quoteIdentifier(table)} WHERE ${filters} GROUP BY ${keys} HAVING count(*) > 1)`,
        );
        return { groups: Number(row?.groups ?? 0), rows: Number(row?.rows ?? 0) };
      } catch {
        return null;
      }
    },
  };
}
