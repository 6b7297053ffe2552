import { finding, isRebuildStep, originOf, rows } from './context.js';
import type { Analyzer, LintFinding } from './types.js';

/** DS102: DROP TABLE of a table that holds data (not the old table of a rebuild, not one the migration made). */
export const dropTable: Analyzer = {
  codes: ['DS102'],
  summary: 'DS102 a table is dropped with its rows',
  async analyze(ctx) {
    const findings: LintFinding[] = [];
    for (const s of ctx.statements) {
      if (s.kind !== 'drop-table' || isRebuildStep(ctx, s)) continue;
      const origin = originOf(ctx, s.table, s);
      if (!origin) continue;
      const count = await ctx.live?.rows(origin.table);
      const now = count === null || count === undefined ? '' : ` (${rows(count)} in the database now)`;
      findings.push(finding(ctx, 'DS102', 'warning', s, `drops table ${s.table} and every row in it${now}; the down migration cannot bring the rows back`));
    }
    return findings;
  },
};
