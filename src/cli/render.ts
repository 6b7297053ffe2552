import { isAbsolute, relative } from 'node:path';
import { SAVED_BEFORE_RESTORE, type BackupInfo } from '../engine/backup.js';
import { formatBytes } from '../engine/sizes.js';
import type { AdoptResult } from '../adopt.js';
import type { GenerateResult, WrittenDownFile } from '../generate.js';
import type { RestoreResult, RunnerEvent, StatusResult, CurrentResult, HistoryResult, MigrateResult, ShowResult, StampResult } from '../runner.js';

/** A path relative to the working directory when it lies inside it. */
export function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Progress while applying: `Running upgrade base -> 0000_initial_migration ... 3.1 ms`, like Alembic. */
export function renderEvent(event: RunnerEvent, write: (text: string) => void, warn: (line: string) => void): void {
  switch (event.type) {
    case 'waiting':
      warn(`Waiting for ${event.blocker} ... (${event.seconds} s)`);
      break;
    case 'backup':
      write(
        event.reused
          ? `Backed up: ${shortPath(event.path)} already holds this state (same revision, same content digest), not written again (${formatMs(event.ms)})\n`
          : `Backed up to ${shortPath(event.path)} (${formatBytes(event.bytes)}, ${formatMs(event.ms)})\n`,
      );
      break;
    case 'note':
      write(`${event.message}\n`);
      break;
    case 'start':
      write(`Running ${event.direction === 'up' ? 'upgrade' : 'downgrade'} ${event.from} -> ${event.to} ... `);
      break;
    case 'finish':
      write(`${formatMs(event.ms)}\n`);
      break;
    case 'failed':
      write(`FAILED after ${formatMs(event.ms)}, rolled back\n`);
      break;
    case 'warning':
      warn(`warning: reverting ${event.tag} ${event.message}`);
      break;
  }
}

export function renderMigrate(result: MigrateResult): string {
  if (result.steps.length === 0) return `Nothing to do: the database is at ${result.from}.`;
  const total = result.steps.reduce((sum, step) => sum + step.ms, 0);
  const verb = result.direction === 'up' ? 'Applied' : 'Reverted';
  return `${verb} ${result.steps.length} migration${result.steps.length === 1 ? '' : 's'} in ${formatMs(total)}: ${result.from} -> ${result.to}.`;
}

export function renderCurrent(result: CurrentResult): string {
  if (!result.migration) return `base${result.pending > 0 ? ` (${result.pending} pending)` : ''}`;
  const flags = [result.migration.head ? 'head' : `${result.pending} pending`];
  if (result.migration.modified) flags.push('modified since applied');
  return `${result.revision} (${flags.join(', ')})`;
}

export function renderHistory(result: HistoryResult): string {
  if (result.migrations.length === 0 && result.unknownApplied.length === 0) return 'No migrations.';
  const width = Math.max(...result.migrations.map((m) => m.tag.length), 4);
  const lines = result.migrations.map((m) => {
    const marks = [m.applied ? 'applied' : 'pending'];
    if (m.current) marks.push('current');
    if (m.head) marks.push('head');
    if (m.modified) marks.push('MODIFIED since applied');
    if (!m.hasDown) marks.push('no down file');
    return `${m.current ? '>' : ' '} ${m.tag.padEnd(width)}  ${m.createdAt.slice(0, 19).replace('T', ' ')}  ${marks.join(', ')}`;
  });
  for (const row of result.unknownApplied) {
    lines.push(`! applied migration not in the folder: created_at ${row.createdAt}, hash ${row.hash.slice(0, 12)}`);
  }
  if (!result.migrations.some((m) => m.current)) lines.unshift(`> base`);
  return lines.join('\n');
}

export function renderShow(result: ShowResult): string {
  return [
    `Revision:   ${result.tag}`,
    `Index:      ${result.idx}`,
    `Created:    ${result.createdAt}`,
    `Hash:       ${result.hash}`,
    `State:      ${result.applied ? 'applied' : 'pending'}${result.current ? ', current' : ''}${result.head ? ', head' : ''}${result.modified ? ', MODIFIED since applied' : ''}`,
    ...result.dataLoss.map((note) => `Data loss:  down ${note}`),
    '',
    `-- up: ${result.upPath}`,
    result.upSql.trimEnd(),
    '',
    `-- down: ${result.downPath}`,
    result.downSql === null ? '(missing)' : result.downSql.trimEnd(),
  ].join('\n');
}

export function renderStamp(result: StampResult): string {
  const forced = result.differences.length > 0 ? ` despite ${result.differences.length} difference(s)` : '';
  return `Stamped ${result.to} (was ${result.from})${forced}; no SQL was run.`;
}

export function renderDownFiles(files: WrittenDownFile[]): string {
  if (files.length === 0) return 'Every migration has a down file.';
  return files
    .map((f) => {
      if (f.template) return `Wrote ${f.path}: empty template, write the SQL that reverses the migration by hand.`;
      const lines = [`Wrote ${f.path}${f.problems.length === 0 ? ' (checked: restores the previous schema)' : ''}`];
      for (const repair of f.repairs) lines.push(`  repaired: ${repair}`);
      for (const note of f.dataLoss) lines.push(`  data-loss: ${note}`);
      for (const problem of f.problems) lines.push(`  PROBLEM: ${problem}`);
      return lines.join('\n');
    })
    .join('\n');
}

export function renderGenerate(result: GenerateResult): string {
  if (result.downFiles.length === 0) return 'No new migration.';
  const lines: string[] = [];
  if (result.generatedHere) lines.push(`drizzle-kit wrote no migration: ${result.generatedHere}; generated it here from drizzle-kit's diff.`);
  lines.push(renderDownFiles(result.downFiles));
  for (const check of result.checks) {
    for (const repair of check.repairs) lines.push(`Repaired ${shortPath(repair.file)}: ${repair.reason}`);
    for (const warning of check.warnings) lines.push(`  warning: ${warning}`);
    lines.push(`Tried ${check.tag} on generated rows: up (schema as the models, rows kept), down (schema and rows as before), up again: passed.`);
  }
  return lines.join('\n');
}

export function renderStatus(result: StatusResult): string {
  const lines = [
    `Current:  ${result.current}`,
    `Applied:  ${result.applied.length}`,
    `Pending:  ${result.pending.length}${result.pending.length > 0 ? ` (${result.pending.join(', ')})` : ''}`,
  ];
  if (result.problems.length === 0) lines.push('Problems: none');
  else lines.push(`Problems: ${result.problems.length}`, ...result.problems.map((p) => `  [${p.kind}] ${p.message}`));
  return lines.join('\n');
}

export function renderBackups(result: { folder: string; backups: BackupInfo[] }): string {
  if (result.backups.length === 0) return `No backups in ${shortPath(result.folder)}.`;
  const total = result.backups.reduce((sum, b) => sum + b.bytes, 0);
  return [
    `Backups in ${shortPath(result.folder)}, newest first (${result.backups.length}, ${formatBytes(total)}):`,
    ...result.backups.map((b) => {
      const kind = b.revision.endsWith(SAVED_BEFORE_RESTORE) ? `saved before a restore, at ${b.revision.slice(0, -SAVED_BEFORE_RESTORE.length)}` : `at ${b.revision}`;
      const of = b.record ? `of ${shortPath(b.record.database)}, sha256 ${b.record.sha256.slice(0, 12)}` : b.legacy ? 'named by the stem only: may be of another database of that stem' : 'no record (taken before backups had one)';
      return `  ${b.file}  ${b.takenAt}  ${kind}  ${formatBytes(b.bytes)}  ${of}`;
    }),
  ].join('\n');
}

export function renderRestore(result: RestoreResult): string {
  return `Restored ${result.restored.file}; the database is now at ${result.revision}. The database as it was before is saved as ${result.saved.file}.`;
}

export function renderAdopt(result: AdoptResult): string {
  const lines: string[] = [];
  const what = result.dryRun ? (result.refusals.length > 0 ? 'Would refuse to adopt' : 'Would adopt') : 'Adopted';
  const alembic = result.alembicRevision ? ` (Alembic revision ${result.alembicRevision}; alembic_version is not carried over)` : '';
  lines.push(`${what} ${shortPath(result.database)} into ${result.revision}${alembic}.`);
  for (const table of result.tables) {
    const from = table.source === null ? 'no table in the database: starts empty' : `${table.rows} row(s) from ${table.source}`;
    lines.push(`  ${table.table}: ${from}`);
    if (table.source === null) continue;
    for (const column of table.columns) {
      const source = column.source === null ? '(its default)' : column.source === column.target ? column.source : `${column.source} (renamed)`;
      const conversion = column.conversion && column.conversion !== 'copy' ? `  [${column.conversion}]` : '';
      lines.push(`    ${column.target.padEnd(24)} <- ${source}${conversion}`);
    }
  }
  for (const dropped of result.droppedColumns) lines.push(`  dropped column ${dropped.table}.${dropped.column}: ${dropped.reason === 'flag' ? `--drop-column, ${dropped.values} value(s) let go` : 'it holds no value'}`);
  for (const dropped of result.droppedTables) {
    const why = dropped.reason === 'alembic' ? "Alembic's bookkeeping" : dropped.reason === 'flag' ? `--drop-table, ${dropped.rows} row(s) let go` : 'it holds no row';
    lines.push(`  dropped table ${dropped.table}: ${why}`);
  }
  for (const note of result.notes) lines.push(`  ${note}`);
  for (const refusal of result.refusals) lines.push(`  REFUSED: ${refusal}`);
  if (result.backup) lines.push(`Backup of the database as it was: ${shortPath(result.backup.path)}`);
  if (result.dryRun) lines.push(result.refusals.length > 0 ? 'Nothing was changed; fix what is refused, then run it again.' : 'Nothing was changed; run it again without --dry-run to adopt.');
  return lines.join('\n');
}
