import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface HandMigration {
  /** Without the index prefix: `create_items` becomes `0000_create_items`. */
  name: string;
  up: string[];
  down?: string[];
}

/**
 * Writes a migrations folder the way drizzle-kit lays it out (journal, `NNNN_tag.sql` with statement
 * breakpoints) plus down files, for tests that need migrations drizzle-kit would not generate
 * (slow data migrations, failing statements). Returns the tags.
 */
export function writeMigrations(folder: string, migrations: HandMigration[], firstWhen = 1_700_000_000_000): string[] {
  mkdirSync(join(folder, 'meta'), { recursive: true });
  const entries = migrations.map((m, idx) => ({ idx, version: '6', when: firstWhen + idx * 1000, tag: `${String(idx).padStart(4, '0')}_${m.name}`, breakpoints: true }));
  writeFileSync(join(folder, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'sqlite', entries }, null, 2));
  migrations.forEach((m, idx) => {
    const tag = entries[idx]!.tag;
    writeFileSync(join(folder, `${tag}.sql`), m.up.join('\n--> statement-breakpoint\n'));
    if (m.down) writeFileSync(join(folder, `${tag}.down.sql`), m.down.join('\n--> statement-breakpoint\n'));
  });
  return entries.map((e) => e.tag);
}
