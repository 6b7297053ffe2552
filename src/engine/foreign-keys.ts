import type { Queryable } from '../db/driver.js';
import type { SqlFile } from './journal.js';
import { quoteIdentifier as q } from './lint/statements.js';

/** One row of `PRAGMA foreign_key_check`. */
export interface ForeignKeyViolation {
  table: string;
  rowid: number | null;
  parent: string;
}

/** What the check needs of a parent table's columns (pragma_table_info). */
interface ParentColumn {
  name: string;
  type: string;
  pk: number;
}

/**
 * Whether SQL text may declare a foreign key: REFERENCES, in any case, is the only way to (so text without it
 * cannot add one).
 */
export function declaresForeignKeys(sql: string): boolean {
  return /\breferences\b/i.test(sql);
}

interface KeyColumn {
  child: string;
  id: number;
  parent: string;
  from: string;
  to: string | null;
}

/**
 * The rows that violate a foreign key, as `PRAGMA foreign_key_check` reports them, found quickly when there are
 * none (the common case, checked before every commit). The pragma walks every child row and looks its parent up
 * one by one: 1.5 s for 1,000,000 children of a rebuilt parent (W4 of npm run bench). One query per key answers
 * "is there any?" in a fraction of that (see mayBeViolated); only when one finds a row does the pragma run, to
 * report them.
 */
export async function findForeignKeyViolations(db: Queryable): Promise<ForeignKeyViolation[]> {
  return (await anyForeignKeyMayBeViolated(db)) ? db.all<ForeignKeyViolation>('PRAGMA foreign_key_check') : [];
}

/**
 * The tables that may hold a foreign key: those whose SQL says REFERENCES, the only way to declare one (so SQL that
 * does not say it cannot add one). Listing the keys of every table before every commit made a long run of
 * migrations quadratic; a plain query also costs less to prepare again after each migration changed the schema.
 */
export async function tablesWithForeignKeys(db: Queryable): Promise<string[]> {
  // instr(lower(…)), not LIKE: a migration may have set PRAGMA case_sensitive_like on this connection.
  const rows = await db.all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND instr(lower(sql), 'references') > 0 ORDER BY name");
  return rows.map((row) => row.name);
}

/** A violating row, with the values of its key: what identifies it across a rebuild that renumbers rowids. */
export interface KeyedViolation extends ForeignKeyViolation {
  /** The child's key columns and their values, e.g. `author_id=7`. */
  key: string;
}

/** What a file did to the database's foreign keys: the violations it made, and those that were there before it. */
export interface ForeignKeyOutcome {
  /** Violations the file made: any of them fails it. */
  fresh: KeyedViolation[];
  /** Violations that were there before the file ran and still are (written with enforcement off): reported only. */
  preexisting: KeyedViolation[];
}

/**
 * The check before each commit of a run of files (the runner's, the stairway's): only violations that the file made
 * fail it (as Atlas's check does), so a database that already holds orphans can still be migrated. What was there
 * before is learnt once per run and carried from each committed file to the next (every commit was checked).
 * A database none of whose tables says REFERENCES holds no foreign key, and a file that does not say it cannot add
 * one: until one does, there is nothing to check (a run of many small migrations spent a fifth of its time listing
 * keys that did not exist).
 */
export class ForeignKeyGuard {
  /** The violations of the last committed state; null when not known (read before the next file runs). */
  private known: KeyedViolation[] | null;

  private constructor(private mayHoldKeys: boolean) {
    this.known = mayHoldKeys ? null : [];
  }

  /** A guard for a run on `db` as it is now. */
  static async of(db: Queryable): Promise<ForeignKeyGuard> {
    return new ForeignKeyGuard((await tablesWithForeignKeys(db)).length > 0);
  }

  /** The violations before a file runs (inside its transaction, before its first statement). */
  async before(db: Queryable): Promise<KeyedViolation[]> {
    this.known ??= await listViolations(db);
    return this.known;
  }

  /** The violations once `file` has run on `db` (inside its transaction), split into new and pre-existing. */
  async after(db: Queryable, file: { text: string }, before: readonly KeyedViolation[]): Promise<ForeignKeyOutcome> {
    this.mayHoldKeys ||= declaresForeignKeys(file.text);
    const now = this.mayHoldKeys ? await listViolations(db) : [];
    return splitByBaseline(now, before);
  }

  /** The file's transaction committed: its state is the next file's baseline. */
  committed(outcome: ForeignKeyOutcome): void {
    this.known = outcome.preexisting;
  }

  /** Rows were written outside the guard's files (the stairway's generated rows): read the baseline again. */
  forget(): void {
    this.known = null;
  }
}

/** Violations in `now` beyond those in `before`, matched by table, parent and key values (a multiset). Pure. */
export function splitByBaseline(now: readonly KeyedViolation[], before: readonly KeyedViolation[]): ForeignKeyOutcome {
  const identity = (v: KeyedViolation) => `${v.table}\u0000${v.parent}\u0000${v.key}`;
  const remaining = new Map<string, number>();
  for (const v of before) remaining.set(identity(v), (remaining.get(identity(v)) ?? 0) + 1);
  const fresh: KeyedViolation[] = [];
  const preexisting: KeyedViolation[] = [];
  for (const v of now) {
    const left = remaining.get(identity(v)) ?? 0;
    if (left > 0) {
      remaining.set(identity(v), left - 1);
      preexisting.push(v);
    } else fresh.push(v);
  }
  return { fresh, preexisting };
}

/** Every violating row with its key values; quick (none) in the common case, the pragma only when there are some. */
export async function listViolations(db: Queryable): Promise<KeyedViolation[]> {
  if (!(await anyForeignKeyMayBeViolated(db))) return [];
  const rows = await db.all<ForeignKeyViolation & { fkid: number }>('PRAGMA foreign_key_check');
  const keyed: KeyedViolation[] = [];
  const byKey = new Map<string, (ForeignKeyViolation & { fkid: number })[]>();
  for (const row of rows) byKey.set(`${row.table}\u0000${row.fkid}`, [...(byKey.get(`${row.table}\u0000${row.fkid}`) ?? []), row]);
  for (const group of byKey.values()) {
    const { table, fkid } = group[0]!;
    const columns = (await db.all<{ from: string }>('SELECT "from" FROM pragma_foreign_key_list(?) WHERE id = ? ORDER BY seq', [table, fkid])).map((c) => c.from);
    const withRowid = group.filter((v) => v.rowid !== null);
    const values = new Map<number, Record<string, unknown>>();
    if (withRowid.length > 0 && columns.length > 0) {
      const found = await db.all<Record<string, unknown> & { __rowid: number }>(
        `SELECT rowid AS __rowid, ${columns.map(q).join(', ')} FROM ${q(table)} WHERE rowid IN (SELECT value FROM json_each(?))`,
        [JSON.stringify(withRowid.map((v) => v.rowid))],
      );
      for (const row of found) values.set(Number(row.__rowid), row);
    }
    for (const v of group) {
      const row = v.rowid === null ? undefined : values.get(Number(v.rowid));
      const key = columns.map((c) => `${c}=${row ? show(row[c]) : '?'}`).join(', ');
      keyed.push({ table: v.table, rowid: v.rowid, parent: v.parent, key });
    }
  }
  return keyed;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `x'${Buffer.from(value).toString('hex')}'`;
  return typeof value === 'string' ? `'${value}'` : String(value);
}

/** One line naming the violating rows, for an error or a report. */
export function describeViolations(violations: readonly KeyedViolation[]): string {
  const first = violations[0]!;
  return `${violations.length} row(s) violate foreign keys, e.g. ${first.table} rowid ${first.rowid ?? '?'} references a missing row of ${first.parent} (${first.key})`;
}

/** Whether some child row may lack its parent: false only when no row violates any foreign key of the database. */
export async function anyForeignKeyMayBeViolated(db: Queryable): Promise<boolean> {
  for (const child of await tablesWithForeignKeys(db)) {
    const columns = await db.all<Omit<KeyColumn, 'child'>>('SELECT id, "table" AS parent, "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq', [child]);
    const keys = new Map<number, KeyColumn[]>();
    for (const column of columns) keys.set(column.id, [...(keys.get(column.id) ?? []), { child, ...column }]);
    for (const key of keys.values()) if (await mayBeViolated(db, key)) return true;
  }
  return false;
}

/**
 * Whether a child row may lack its parent (true also when the key cannot be checked this way: the pragma decides).
 *
 * `(+c.x COLLATE <parent's>, …) IN (SELECT p.y, … FROM parent)` compares as SQLite's foreign key does: the unary
 * plus takes the child column's affinity and collation away, so the child's value is converted with the parent
 * column's affinity and compared with the parent key's collation. The IN is answered by a seek in the parent's
 * rowid or unique index (what the foreign key itself uses), about three times faster over 1,000,000 children
 * than a correlated NOT EXISTS. `IS NOT 1` also counts the NULL that IN gives when a parent key column holds NULLs.
 */
async function mayBeViolated(db: Queryable, key: KeyColumn[]): Promise<boolean> {
  const { child, parent } = key[0]!;
  const parentColumns = await db.all<ParentColumn>('SELECT name, type, pk FROM pragma_table_info(?)', [parent]);
  const childHasKey = key.map((k) => `c.${q(k.from)} IS NOT NULL`).join(' AND ');
  if (parentColumns.length === 0) {
    // No parent table: every child row with a complete key is a violation.
    return (await db.all(`SELECT 1 FROM ${q(child)} AS c WHERE ${childHasKey} LIMIT 1`)).length > 0;
  }
  const primaryKey = parentColumns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
  const to = key.map((k, i) => k.to ?? primaryKey[i]);
  if (to.some((c) => c === undefined)) return true;
  const collations = await parentKeyCollations(db, parent, to as string[], parentColumns);
  if (!collations) return true; // no index can serve as the parent key: the pragma reports the mismatch
  const childKey = key.map((k, i) => `+c.${q(k.from)} COLLATE ${q(collations[i]!)}`).join(', ');
  const parentKey = (to as string[]).map((c) => `p.${q(c)}`).join(', ');
  const orphan = await db.all(
    `SELECT 1 FROM ${q(child)} AS c WHERE ${childHasKey} AND ((${childKey}) IN (SELECT ${parentKey} FROM ${q(parent)} AS p)) IS NOT 1 LIMIT 1`,
  );
  return orphan.length > 0;
}

/**
 * The collation of each parent key column, as SQLite's foreign key compares it: that of the unique, non-partial
 * index on exactly those columns, or BINARY for the rowid (an INTEGER PRIMARY KEY has no index). Null when neither.
 */
async function parentKeyCollations(db: Queryable, parent: string, to: string[], parentColumns: ParentColumn[]): Promise<string[] | null> {
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  const indexes = await db.all<{ name: string; unique: number; partial: number }>('SELECT name, "unique", partial FROM pragma_index_list(?)', [parent]);
  for (const index of indexes) {
    if (!index.unique || index.partial) continue;
    const columns = await db.all<{ name: string | null; coll: string }>('SELECT name, coll FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno', [index.name]);
    if (columns.length !== to.length || columns.some((c) => c.name === null)) continue;
    const collations = to.map((name) => columns.find((c) => same(c.name!, name))?.coll);
    if (collations.every((c) => c !== undefined)) return collations as string[];
  }
  const keyColumns = parentColumns.filter((c) => c.pk > 0);
  const isRowid = to.length === 1 && keyColumns.length === 1 && same(keyColumns[0]!.name, to[0]!) && same(keyColumns[0]!.type, 'integer');
  return isRowid ? ['BINARY'] : null;
}
