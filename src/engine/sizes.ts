/** Byte sizes as people write and read them (`500MB`, `2GB`, `1.3 GB`), and budgets relative to a database. */

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/**
 * What all of a database's backups may take together: a number of bytes, or a multiple of the database's size
 * (with a floor, for the default: a small database that went through many revisions is not refused over kilobytes).
 */
export type BackupBudget = { bytes: number } | { timesDatabase: number; atLeastBytes?: number };

/**
 * Parses `--max-backup-size`: `5x` (times the database's size), `500MB`, `2GiB`, `1000000` (bytes). Null when the
 * text is none of these.
 */
export function parseBudget(text: string): BackupBudget | null {
  const multiple = /^\s*(\d+(?:\.\d+)?)\s*x\s*$/i.exec(text);
  if (multiple) {
    const times = Number(multiple[1]);
    return times >= 1 ? { timesDatabase: times } : null;
  }
  const size = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = UNITS[(size?.[2] || 'b').toLowerCase()];
  if (!size || unit === undefined) return null;
  const bytes = Math.round(Number(size[1]) * unit);
  return bytes > 0 ? { bytes } : null;
}

export function budgetBytes(budget: BackupBudget, databaseBytes: number): number {
  return 'bytes' in budget ? budget.bytes : Math.max(Math.ceil(budget.timesDatabase * databaseBytes), budget.atLeastBytes ?? 0);
}

export function describeBudget(budget: BackupBudget, databaseBytes: number): string {
  const bytes = formatBytes(budgetBytes(budget, databaseBytes));
  if ('bytes' in budget) return bytes;
  const floor = budget.atLeastBytes === undefined ? '' : `, at least ${formatBytes(budget.atLeastBytes)}`;
  return `${bytes}: ${budget.timesDatabase}x the database${floor}`;
}

/** `86.0 KB`, `1.3 GB`: decimal units, as disks and `df -H` count. */
export function formatBytes(bytes: number): string {
  if (bytes < 1e3) return `${bytes} B`;
  const [unit, size] = bytes < 1e6 ? ['KB', 1e3] : bytes < 1e9 ? ['MB', 1e6] : bytes < 1e12 ? ['GB', 1e9] : ['TB', 1e12];
  return `${(bytes / (size as number)).toFixed(1)} ${unit}`;
}
