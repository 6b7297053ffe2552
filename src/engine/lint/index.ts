import { addNotNullColumn } from './add-not-null-column.js';
import { dropColumn } from './drop-column.js';
import { dropTable } from './drop-table.js';
import { notNull } from './not-null.js';
import { rebuildReferenced } from './rebuild-referenced.js';
import { renameColumn } from './rename-column.js';
import { renameTable } from './rename-table.js';
import { transactionControl } from './transaction-control.js';
import type { Analyzer, LintContext, LintFinding } from './types.js';
import { uniqueIndex } from './unique-index.js';

export type { Analyzer, LintCode, LintContext, LintFinding, LiveCounter, Rebuild, Severity } from './types.js';
export { findRebuilds, liveCounter } from './context.js';
export { parseMigrationStatements } from './statements.js';

/** Every analyzer, in the order their findings are listed. */
export const ANALYZERS: readonly Analyzer[] = [dropTable, dropColumn, renameTable, renameColumn, rebuildReferenced, notNull, addNotNullColumn, uniqueIndex, transactionControl];

/** Runs every analyzer on one migration; findings sorted by statement. */
export async function analyzeMigration(ctx: LintContext, analyzers: readonly Analyzer[] = ANALYZERS): Promise<LintFinding[]> {
  const findings: LintFinding[] = [];
  for (const analyzer of analyzers) findings.push(...(await analyzer.analyze(ctx)));
  return findings.sort((a, b) => a.statement - b.statement);
}
