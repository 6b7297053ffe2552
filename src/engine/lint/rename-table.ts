import { finding, isNewTable, isRebuildStep } from './context.js';
import type { Analyzer, LintFinding } from './types.js';

/** BC101: a table renamed outside a rebuild: the app's running (old) code still uses the old name. */
export const renameTable: Analyzer = {
  codes: ['BC101'],
  summary: 'BC101 a table is renamed (old app code breaks during a rolling deploy)',
  async analyze(ctx) {
    const findings: LintFinding[] = [];
    for (const s of ctx.statements) {
      if (s.kind !== 'rename-table' || isRebuildStep(ctx, s) || isNewTable(ctx, s.table, s)) continue;
      findings.push(
        finding(ctx, 'BC101', 'warning', s, `renames table ${s.table} to ${s.to}: app code still running during the deploy queries ${s.table} and fails until it is replaced`),
      );
    }
    return findings;
  },
};
