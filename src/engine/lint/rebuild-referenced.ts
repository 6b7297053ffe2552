import { finding, originOf } from './context.js';
import type { Analyzer, LintFinding } from './types.js';

/**
 * RB101: a table rebuild (copy, DROP TABLE, rename) of a table that other tables reference. Run with foreign
 * keys on — drizzle-orm's better-sqlite3 migrator runs every migration so — dropping the old table acts on the
 * child rows (ON DELETE CASCADE deletes them). This runner switches enforcement off around the transaction.
 */
export const rebuildReferenced: Analyzer = {
  codes: ['RB101'],
  summary: 'RB101 a table that others reference by foreign key is rebuilt',
  async analyze(ctx) {
    const findings: LintFinding[] = [];
    for (const rebuild of ctx.rebuilds) {
      const origin = originOf(ctx, rebuild.table, rebuild.create);
      if (!origin) continue;
      const consequences: string[] = [];
      const children: string[] = [];
      for (const [name, table] of Object.entries(ctx.before.tables)) {
        if (name === origin.table) continue;
        for (const fk of table.foreignKeys) {
          const match = /^\((.+)\) references (.+)\(.*\) on update .+ on delete (.+)$/.exec(fk);
          if (match?.[2] !== origin.table) continue;
          const [, columns, , action] = match;
          if (!children.includes(name)) children.push(name);
          consequences.push(
            action === 'cascade'
              ? `deletes every row of ${name} that points at it`
              : action === 'set null'
                ? `sets ${name}.${columns} to NULL`
                : action === 'set default'
                  ? `sets ${name}.${columns} to its default`
                  : `fails while ${name} has rows that point at it`,
          );
        }
      }
      if (children.length === 0) continue;
      findings.push(
        finding(
          ctx,
          'RB101',
          'warning',
          rebuild.create,
          `rebuilds ${rebuild.table}, which ${children.join(', ')} reference${children.length === 1 ? 's' : ''} by foreign key: apply it with this runner, which switches foreign keys off around the transaction; with them on, as drizzle-orm's better-sqlite3 migrator runs every migration, dropping the old ${rebuild.table} ${consequences.join(' and ')}`,
        ),
      );
    }
    return findings;
  },
};
