import { finding, originOf, rows } from './context.js';
import type { Analyzer, LintFinding } from './types.js';

/**
 * MF103: ALTER TABLE … ADD a NOT NULL column without a DEFAULT. SQLite refuses it once the table has a row
 * (drizzle-kit 0.31 writes it for a new NOT NULL column; it passes on an empty test database).
 */
export const addNotNullColumn: Analyzer = {
  codes: ['MF103'],
  summary: 'MF103 a NOT NULL column without a default is added to an existing table (SQLite refuses it when the table has rows)',
  async analyze(ctx) {
    const findings: LintFinding[] = [];
    for (const s of ctx.statements) {
      if (s.kind !== 'add-column' || !s.notNull || s.hasDefault || s.generated) continue;
      const origin = originOf(ctx, s.table, s);
      if (!origin) continue;
      const count = await ctx.live?.rows(origin.table);
      const fix = 'give it a DEFAULT, or add it nullable, fill it, then make it NOT NULL in a later migration';
      const message =
        count === null || count === undefined
          ? `adds NOT NULL column ${s.table}.${s.column} without a default: SQLite refuses this when ${s.table} has any row; ${fix}`
          : count > 0
            ? `adds NOT NULL column ${s.table}.${s.column} without a default, and ${s.table} has ${rows(count)}: SQLite refuses it; ${fix}`
            : `adds NOT NULL column ${s.table}.${s.column} without a default: ${s.table} is empty in the database now, but SQLite refuses this once it has a row; ${fix}`;
      findings.push(finding(ctx, 'MF103', count ? 'error' : 'warning', s, message));
    }
    return findings;
  },
};
