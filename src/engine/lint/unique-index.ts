import { finding, isAddedColumn, originOf, rows, type TableOrigin } from './context.js';
import { plainColumn, quoteIdentifier, type StatementRef } from './statements.js';
import type { Analyzer, LintContext, LintFinding } from './types.js';

/**
 * MF101: a unique index (or a UNIQUE / PRIMARY KEY constraint of a rebuilt table) on existing columns; it fails
 * when they hold duplicates. MF102: an existing index of the same name made unique. The indexes a rebuild
 * creates again as they were are not reported.
 */
export const uniqueIndex: Analyzer = {
  codes: ['MF101', 'MF102'],
  summary: 'MF101 a unique index is added on existing columns, MF102 an index is made unique (fail on duplicates)',
  async analyze(ctx) {
    const findings: LintFinding[] = [];
    for (const s of ctx.statements) {
      if (s.kind !== 'create-index' || !s.unique) continue;
      const origin = originOf(ctx, s.table, s);
      if (!origin) continue;
      const existing = origin.shape.indexes[s.index];
      if (existing?.unique) continue; // created again after a rebuild dropped it with the table
      const columns = s.parts.map(plainColumn);
      if (columns.every((c) => c !== null && isAddedColumn(ctx, s.table, c))) continue;
      if (!existing && columns.every((c) => c !== null) && hasUniqueSet(origin, columns as string[])) continue;
      const what = existing ? `makes index ${s.index} on ${s.table} unique` : `adds unique index ${s.index} on ${s.table} (${s.parts.join(', ')})`;
      findings.push(await report(ctx, existing ? 'MF102' : 'MF101', s, origin, s.parts, s.where, what));
    }
    for (const rebuild of ctx.rebuilds) {
      const origin = originOf(ctx, rebuild.table, rebuild.create);
      if (!origin) continue;
      for (const index of Object.values(rebuild.indexes)) {
        if (!index.unique || index.definition !== null) continue;
        const columns = index.columns.map(plainColumn);
        if (columns.some((c) => c === null) || hasUniqueSet(origin, columns as string[])) continue;
        if (columns.every((c) => origin.shape.columns[c!] === undefined)) continue;
        const parts = (columns as string[]).map(quoteIdentifier);
        findings.push(await report(ctx, 'MF101', rebuild.create, origin, parts, null, `makes (${columns.join(', ')}) of ${rebuild.table} unique in its rebuild`));
      }
    }
    return findings;
  },
};

/** The table already had a unique index (or constraint) on exactly these columns. */
function hasUniqueSet(origin: TableOrigin, columns: string[]): boolean {
  const wanted = [...columns].sort().join('\u0000');
  return Object.values(origin.shape.indexes).some((i) => i.unique && !/\bwhere\b/.test(i.definition ?? '') && [...i.columns].sort().join('\u0000') === wanted);
}

async function report(ctx: LintContext, code: 'MF101' | 'MF102', at: StatementRef, origin: TableOrigin, parts: string[], where: string | null, what: string): Promise<LintFinding> {
  // Counted on the live database, where the table and its columns still have their old names.
  const liveParts = parts.map((p) => {
    const column = plainColumn(p);
    return column === null ? p : quoteIdentifier(origin.column(column));
  });
  const found = await ctx.live?.duplicates(origin.table, liveParts, where);
  const table = origin.table;
  if (found === null || found === undefined) {
    return finding(ctx, code, 'warning', at, `${what}: it fails if ${table} holds duplicates there; check or clean them first`);
  }
  if (found.groups > 0) {
    return finding(ctx, code, 'error', at, `${what}, but ${rows(found.rows)} of the database share a value there (${found.groups} group${found.groups === 1 ? '' : 's'} of duplicates): the migration fails; remove the duplicates first`);
  }
  return finding(ctx, code, 'warning', at, `${what}: no duplicates in the database now, but rows written before the deploy could make it fail`);
}
