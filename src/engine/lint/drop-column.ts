import { finding, isAddedColumn, originOf, rows } from './context.js';
import type { Analyzer, LintFinding } from './types.js';

/**
 * DS103: a column and its data go, by ALTER TABLE … DROP COLUMN or by a rebuild whose new table leaves it out.
 * Generated columns hold no data of their own and are not reported.
 */
export const dropColumn: Analyzer = {
  codes: ['DS103'],
  summary: 'DS103 a column is dropped with its data (DROP COLUMN, or left out of a rebuilt table)',
  async analyze(ctx) {
    const findings: LintFinding[] = [];
    const note = async (table: string) => {
      const count = await ctx.live?.rows(table);
      return count === null || count === undefined ? '' : ` (${rows(count)} in ${table} now)`;
    };
    for (const s of ctx.statements) {
      if (s.kind !== 'drop-column' || isAddedColumn(ctx, s.table, s.column)) continue;
      const origin = originOf(ctx, s.table, s);
      if (!origin || (origin.shape.columns[s.column]?.hidden ?? 0) !== 0) continue;
      findings.push(finding(ctx, 'DS103', 'warning', s, `drops column ${s.table}.${s.column} and the data in it${await note(origin.table)}`));
    }
    for (const rebuild of ctx.rebuilds) {
      const origin = originOf(ctx, rebuild.table, rebuild.create);
      if (!origin || Object.keys(rebuild.columns).length === 0) continue;
      for (const [column, shape] of Object.entries(origin.shape.columns)) {
        if (shape.hidden !== 0 || rebuild.columns[column]) continue;
        findings.push(
          finding(ctx, 'DS103', 'warning', rebuild.drop, `drops column ${rebuild.table}.${column} and the data in it: the rebuilt table leaves it out${await note(origin.table)}`),
        );
      }
    }
    return findings;
  },
};
