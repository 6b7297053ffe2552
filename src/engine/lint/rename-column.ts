import { finding, isAddedColumn, isNewTable } from './context.js';
import type { Analyzer, LintFinding } from './types.js';

/** BC102: a column renamed: the app's running (old) code still reads and writes the old name. */
export const renameColumn: Analyzer = {
  codes: ['BC102'],
  summary: 'BC102 a column is renamed (old app code breaks during a rolling deploy)',
  async analyze(ctx) {
    const findings: LintFinding[] = [];
    for (const s of ctx.statements) {
      if (s.kind !== 'rename-column' || isNewTable(ctx, s.table, s) || isAddedColumn(ctx, s.table, s.column)) continue;
      findings.push(
        finding(ctx, 'BC102', 'warning', s, `renames column ${s.table}.${s.column} to ${s.to}: app code still running during the deploy uses ${s.column} and fails until it is replaced`),
      );
    }
    return findings;
  },
};
