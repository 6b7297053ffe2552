// Floor for `npm run bench` (bench/migrations.ts): the least a migrator must do, with better-sqlite3 and nothing else.
// Usage: node bench/contenders/floor.mjs <db file> <migrations folder> <per-file|one-transaction> [--fk-off] [--fk-check]
//   per-file         each pending migration in its own transaction with its bookkeeping row (as many commits as the runner)
//   one-transaction  every pending migration and bookkeeping row in one transaction
//   --fk-off         PRAGMA foreign_keys=OFF outside the transaction(s), restored after (what a table rebuild needs)
//   --fk-check       PRAGMA foreign_key_check before each commit (the runner's check; off in the floor proper)
//   --wal            the database in WAL mode first (the journal mode the runner migrates in, as the app opens it)
// Pending = journal `when` later than the newest created_at in __drizzle_migrations, as drizzle's migrators decide.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const [file, folder, mode, ...flags] = process.argv.slice(2);
if (!file || !folder || (mode !== 'per-file' && mode !== 'one-transaction')) {
  console.error('usage: floor.mjs <db> <folder> <per-file|one-transaction> [--fk-off] [--fk-check]');
  process.exit(2);
}
const fkOff = flags.includes('--fk-off');
const fkCheck = flags.includes('--fk-check');
const wal = flags.includes('--wal');

const db = new Database(file);
if (wal) db.pragma('journal_mode = WAL');
db.exec('CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
const last = db.prepare('SELECT created_at FROM "__drizzle_migrations" ORDER BY created_at DESC LIMIT 1').get();
const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8'));
const pending = journal.entries.filter((e) => last === undefined || Number(last.created_at) < e.when);
const insert = db.prepare('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)');

function apply(entry) {
  const text = readFileSync(join(folder, `${entry.tag}.sql`), 'utf8');
  for (const statement of text.split('--> statement-breakpoint')) db.exec(statement);
  if (fkCheck && db.prepare('PRAGMA foreign_key_check').get() !== undefined) throw new Error(`${entry.tag}: foreign key violations`);
  insert.run(createHash('sha256').update(text).digest('hex'), entry.when);
}

if (fkOff) db.exec('PRAGMA foreign_keys = OFF');
if (mode === 'per-file') {
  for (const entry of pending) db.transaction(apply).immediate(entry);
} else {
  db.transaction(() => pending.forEach(apply)).immediate();
}
if (fkOff) db.exec('PRAGMA foreign_keys = ON');
db.close();
