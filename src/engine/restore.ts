import type { Queryable } from '../db/driver.js';
import { LOCK_TABLE } from '../config.js';
import { MigrateError } from './errors.js';
import { quoteIdentifier as q } from './lint/statements.js';

// The runner's lock table: the live one stays (the restore runs under it), a backup's is not carried in.
/** The schema name the backup is attached under while its contents are written into the live database. */
export const RESTORED = 'restored';

interface SchemaObject {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

const isVirtual = (o: SchemaObject) => o.type === 'table' && /^\s*create\s+virtual\s+table\b/i.test(o.sql ?? '');

/**
 * Replaces the contents of the live database (`main`) with those of the attached backup (`restored`), inside the
 * caller's write transaction: every table, index, view and trigger of the live database is dropped and the
 * backup's created in their order, with every row (rowids included, virtual tables' shadow tables copied as they
 * are, AUTOINCREMENT counters, user_version). Writing through the live connection, under the write lock it holds
 * from before the copy saved first, is what keeps every acknowledged write: none can land between that copy and the
 * restore, and an app connection left open reads the restored contents at its next statement. The caller switches
 * foreign keys off before its transaction (a restore writes parents and children in the backup's order).
 */
export async function replaceContents(db: Queryable): Promise<void> {
  const objects = (schema: string) =>
    db.all<SchemaObject>(`SELECT type, name, tbl_name, sql FROM ${schema}.sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND name <> ? ORDER BY rowid`, [LOCK_TABLE]);
  const live = await objects('main');
  // Dependants first, then virtual tables (which take their shadow tables with them), then the rest.
  for (const object of live.filter((o) => o.type === 'trigger' || o.type === 'view')) await db.exec(`DROP ${object.type.toUpperCase()} IF EXISTS main.${q(object.name)}`);
  for (const object of live.filter((o) => o.type === 'index' && o.sql !== null)) await db.exec(`DROP INDEX IF EXISTS main.${q(object.name)}`);
  for (const object of live.filter(isVirtual)) await db.exec(`DROP TABLE IF EXISTS main.${q(object.name)}`);
  for (const object of await objects('main')) if (object.type === 'table') await db.exec(`DROP TABLE IF EXISTS main.${q(object.name)}`);

  const backup = await objects(RESTORED);
  const tables = backup.filter((o) => o.type === 'table' && o.sql !== null);
  const virtual = new Set(tables.filter(isVirtual).map((o) => o.name));
  const shadow = new Set<string>();
  for (const table of tables) {
    // A virtual table's shadow tables come with it (in both databases): created by it, not by their own text.
    const [exists] = await db.all<{ n: number }>('SELECT count(*) AS n FROM main.sqlite_schema WHERE name = ?', [table.name]);
    if (exists && exists.n > 0) shadow.add(table.name);
    else await db.exec(table.sql!);
  }
  // Rows of ordinary tables first (an external-content full-text index is rebuilt from them), rowids kept.
  for (const table of tables.filter((t) => !virtual.has(t.name) && !shadow.has(t.name))) {
    const list = (await columnsOf(db, table.name)).join(', ');
    const withoutRowid = /\bwithout\s+rowid\s*$/i.test((table.sql ?? '').trim().replace(/;$/, ''));
    await db.exec(
      withoutRowid
        ? `INSERT INTO main.${q(table.name)} (${list}) SELECT ${list} FROM ${RESTORED}.${q(table.name)}`
        : `INSERT INTO main.${q(table.name)} (rowid, ${list}) SELECT rowid, ${list} FROM ${RESTORED}.${q(table.name)}`,
    );
  }
  // Virtual tables through their own interface: SQLite keeps shadow tables read-only to SQL (defensive mode).
  for (const table of tables.filter((t) => virtual.has(t.name))) await fillVirtualTable(db, table);
  const [sequence] = await db.all<{ n: number }>(`SELECT count(*) AS n FROM ${RESTORED}.sqlite_schema WHERE name = 'sqlite_sequence'`);
  if (sequence && sequence.n > 0) {
    const [live] = await db.all<{ n: number }>("SELECT count(*) AS n FROM main.sqlite_schema WHERE name = 'sqlite_sequence'");
    if (live && live.n > 0) {
      await db.exec('DELETE FROM main.sqlite_sequence');
      await db.exec(`INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM ${RESTORED}.sqlite_sequence`);
    }
  }
  for (const object of backup.filter((o) => o.type === 'index' && o.sql !== null)) await db.exec(object.sql!);
  for (const object of backup.filter((o) => o.type === 'view' || o.type === 'trigger')) await db.exec(object.sql!);
  const [version] = await db.all<{ user_version: number }>(`PRAGMA ${RESTORED}.user_version`);
  await db.exec(`PRAGMA main.user_version = ${Number(version?.user_version ?? 0)}`);
}

/** A table's columns as a copy names them: not generated ones, not a virtual table's hidden ones. */
async function columnsOf(db: Queryable, table: string): Promise<string[]> {
  const columns = await db.all<{ name: string }>(`SELECT name FROM ${RESTORED}.pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid`, [table]);
  return columns.map((c) => q(c.name));
}

/**
 * A virtual table's contents: a full-text table over another table's content (`content=…`) is rebuilt from that
 * table, already copied; a contentless one cannot be read back and is refused; any other (FTS with its own content,
 * R*Tree, …) gets its rows, rowids kept.
 */
async function fillVirtualTable(db: Queryable, table: SchemaObject): Promise<void> {
  const sql = table.sql ?? '';
  const content = /\bcontent\s*=\s*(?:'((?:[^']|'')*)'|"([^"]*)"|([^\s,)]+))/i.exec(sql);
  const fullText = /\busing\s+fts[345]\b/i.test(sql);
  if (fullText && content) {
    const source = content[1] ?? content[2] ?? content[3] ?? '';
    if (source === '') {
      throw new MigrateError('BACKUP', `restore cannot carry the contentless full-text table ${table.name} (its index cannot be read back); restore the backup file by hand with the app stopped`);
    }
    await db.exec(`INSERT INTO main.${q(table.name)}(${q(table.name)}) VALUES ('rebuild')`);
    return;
  }
  const list = (await columnsOf(db, table.name)).join(', ');
  await db.exec(`INSERT INTO main.${q(table.name)} (rowid, ${list}) SELECT rowid, ${list} FROM ${RESTORED}.${q(table.name)}`);
}
