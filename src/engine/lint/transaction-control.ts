import { findTransactionControl } from '../transaction-control.js';
import { finding } from './context.js';
import { stripComments } from './statements.js';
import type { Analyzer, LintFinding } from './types.js';

/**
 * TX101: transaction control that `up` refuses (it would end, nest or abandon the migration's transaction);
 * TX102: a `COMMIT; PRAGMA foreign_keys=…; BEGIN;` wrapper (or a file's own BEGIN … COMMIT) that the runner absorbs.
 */
export const transactionControl: Analyzer = {
  codes: ['TX101', 'TX102'],
  summary: "TX101 transaction control that up refuses; TX102 a COMMIT/BEGIN wrapper the runner absorbs (it runs each migration in one transaction with foreign keys off)",
  async analyze(ctx) {
    const refs = ctx.statements.map((s) => ({ chunk: s.statement, sql: s.sql, ref: s }));
    const { absorbed, refused } = findTransactionControl(refs);
    const findings: LintFinding[] = [];
    for (const r of refused) {
      const s = refs.find((x) => x.chunk === r.chunk && x.sql === r.sql)!.ref;
      findings.push(finding(ctx, 'TX101', 'error', s, `${stripComments(r.sql).replace(/\s+/g, ' ').trim()} ${r.reason}`));
    }
    for (const [{ ref }, control] of absorbed) {
      findings.push(
        finding(ctx, 'TX102', 'warning', ref, `${control.kind === 'begin' ? 'BEGIN' : 'COMMIT'} is absorbed: the runner already runs this migration in one transaction with foreign keys off, so it does not run (drizzle-orm's own migrators obey it); it can be removed`),
      );
    }
    return findings;
  },
};
