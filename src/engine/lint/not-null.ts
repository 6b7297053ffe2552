import { finding, originOf, rows } from './context.js';
import type { Analyzer, LintFinding } from './types.js';

/**
 * MF104: a rebuild makes a nullable column NOT NULL. Copying a row with NULL there into the new table fails
 * (a DEFAULT does not help: the copy inserts the NULL explicitly), so the migration fails on such rows.
 */
export const notNull: Analyzer = {
  codes: ['MF104'],
  summary: 'MF104 a nullable column is made NOT NULL (fails on rows with NULL)',
  async analyze(ctx) {
    const findings: LintFinding[] = [];
    for (const rebuild of ctx.rebuilds) {
      const origin = originOf(ctx, rebuild.table, rebuild.create);
      if (!origin) continue;
      for (const [column, shape] of Object.entries(rebuild.columns)) {
        const was = origin.shape.columns[column];
        // An INTEGER PRIMARY KEY is the rowid and never NULL, whatever its declaration says.
        if (!shape.notNull || !was || was.notNull || (was.primaryKey > 0 && was.type === 'INTEGER')) continue;
        const count = await ctx.live?.nulls(origin.table, origin.column(column));
        const fix = `set them first (UPDATE ${rebuild.table} SET ${column} = … WHERE ${column} IS NULL before the rebuild)`;
        const [severity, message] =
          count === null || count === undefined
            ? (['warning', `makes ${rebuild.table}.${column} NOT NULL: the migration fails if any row has NULL there; ${fix}`] as const)
            : count > 0
              ? (['error', `makes ${rebuild.table}.${column} NOT NULL, but ${rows(count)} of the database have NULL there: copying them into ${rebuild.temp} fails; ${fix}`] as const)
              : (['warning', `makes ${rebuild.table}.${column} NOT NULL: no row of the database has NULL there now, but a row written before the deploy would make it fail`] as const);
        findings.push(finding(ctx, 'MF104', severity, rebuild.create, message));
      }
    }
    return findings;
  },
};
