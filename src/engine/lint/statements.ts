/**
 * Just enough SQLite DDL parsing for the lint analyzers: a migration's chunks split into statements,
 * each classified by the kind of schema change it makes. Anything else is `other`.
 */

/** One SQL statement of a migration file, numbered by its chunk (what `runFile` and error messages count). */
export interface StatementRef {
  /** 1-based number of the `--> statement-breakpoint` chunk that holds it. */
  statement: number;
  sql: string;
}

/** What a statement changes, as far as the analyzers care. */
export type StatementBody =
  | { kind: 'create-table'; table: string }
  | { kind: 'drop-table'; table: string }
  | { kind: 'rename-table'; table: string; to: string }
  | { kind: 'rename-column'; table: string; column: string; to: string }
  | { kind: 'drop-column'; table: string; column: string }
  | { kind: 'add-column'; table: string; column: string; notNull: boolean; hasDefault: boolean; generated: boolean; definition: string }
  | { kind: 'create-index'; index: string; table: string; unique: boolean; parts: string[]; where: string | null }
  | { kind: 'drop-index'; index: string }
  | { kind: 'insert-select'; table: string; columns: string[]; selected: string[]; from: string }
  | { kind: 'create-view'; view: string }
  | { kind: 'drop-view'; view: string }
  | { kind: 'create-trigger'; trigger: string; table: string }
  | { kind: 'drop-trigger'; trigger: string }
  | { kind: 'other' };

export type ParsedStatement = StatementRef & StatementBody;

/** Splits one chunk into statements on `;`, outside strings, comments and trigger bodies. */
export function splitSql(chunk: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let depth = 0; // BEGIN/CASE ... END nesting inside CREATE TRIGGER
  let i = 0;
  const push = (end: number) => {
    const text = chunk.slice(start, end).trim();
    if (stripComments(text).trim() !== '') statements.push(text);
    start = end + 1;
  };
  while (i < chunk.length) {
    const ch = chunk[i]!;
    if (ch === '-' && chunk[i + 1] === '-') {
      const end = chunk.indexOf('\n', i);
      i = end === -1 ? chunk.length : end + 1;
    } else if (ch === '/' && chunk[i + 1] === '*') {
      const end = chunk.indexOf('*/', i + 2);
      i = end === -1 ? chunk.length : end + 2;
    } else if (ch === "'" || ch === '"' || ch === '`' || ch === '[') {
      const close = ch === '[' ? ']' : ch;
      let j = i + 1;
      while (j < chunk.length) {
        if (chunk[j] === close) {
          if (close !== ']' && chunk[j + 1] === close) j += 2;
          else break;
        } else j++;
      }
      i = j + 1;
    } else if (/[A-Za-z_]/.test(ch) && (i === 0 || !/[\w$]/.test(chunk[i - 1]!))) {
      const word = /^[A-Za-z_][\w$]*/.exec(chunk.slice(i))![0];
      if (isTrigger(chunk.slice(start, i))) {
        const upper = word.toUpperCase();
        if (upper === 'BEGIN' || upper === 'CASE') depth++;
        else if (upper === 'END' && depth > 0) depth--;
      }
      i += word.length;
    } else if (ch === ';' && depth === 0) {
      push(i);
      i++;
    } else i++;
  }
  push(chunk.length);
  return statements;
}

function isTrigger(head: string): boolean {
  return /^\s*create\s+(?:temp(?:orary)?\s+)?trigger\b/i.test(stripComments(head));
}

export function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|\x60(?:[^\x60]|\x60\x60)+\x60|\[[^\]]+\]|[A-Za-z_][\w$]*)`;
/** A name with an optional schema (`main.users`). */
const QNAME = String.raw`(?:${IDENT}\s*\.\s*)?${IDENT}`;

/** `"a"`, `` `a` ``, `[a]`, `main.a` → `a`. */
export function unquoteIdentifier(name: string): string {
  const last = splitQualified(name.trim());
  if (/^".*"$/s.test(last)) return last.slice(1, -1).replace(/""/g, '"');
  if (/^`.*`$/s.test(last)) return last.slice(1, -1).replace(/``/g, '`');
  if (/^\[.*\]$/s.test(last)) return last.slice(1, -1);
  return last;
}

function splitQualified(name: string): string {
  const match = new RegExp(String.raw`^${IDENT}\s*\.\s*(${IDENT})$`).exec(name);
  return match ? match[1]! : name;
}

const patterns: { re: RegExp; build: (m: RegExpExecArray, sql: string) => StatementBody | null }[] = [
  {
    re: new RegExp(String.raw`^create\s+(?:temp(?:orary)?\s+)?table\s+(?:if\s+not\s+exists\s+)?(${QNAME})`, 'i'),
    build: (m) => ({ kind: 'create-table', table: unquoteIdentifier(m[1]!) }),
  },
  {
    re: new RegExp(String.raw`^drop\s+table\s+(?:if\s+exists\s+)?(${QNAME})`, 'i'),
    build: (m) => ({ kind: 'drop-table', table: unquoteIdentifier(m[1]!) }),
  },
  {
    re: new RegExp(String.raw`^alter\s+table\s+(${QNAME})\s+rename\s+to\s+(${IDENT})`, 'i'),
    build: (m) => ({ kind: 'rename-table', table: unquoteIdentifier(m[1]!), to: unquoteIdentifier(m[2]!) }),
  },
  {
    re: new RegExp(String.raw`^alter\s+table\s+(${QNAME})\s+rename\s+(?:column\s+)?(${IDENT})\s+to\s+(${IDENT})`, 'i'),
    build: (m) => ({ kind: 'rename-column', table: unquoteIdentifier(m[1]!), column: unquoteIdentifier(m[2]!), to: unquoteIdentifier(m[3]!) }),
  },
  {
    re: new RegExp(String.raw`^alter\s+table\s+(${QNAME})\s+drop\s+(?:column\s+)?(${IDENT})`, 'i'),
    build: (m) => ({ kind: 'drop-column', table: unquoteIdentifier(m[1]!), column: unquoteIdentifier(m[2]!) }),
  },
  {
    re: new RegExp(String.raw`^alter\s+table\s+(${QNAME})\s+add\s+(?:column\s+)?(${IDENT})([\s\S]*)$`, 'i'),
    build: (m) => {
      const definition = withoutStrings(m[3] ?? '');
      return {
        kind: 'add-column',
        table: unquoteIdentifier(m[1]!),
        column: unquoteIdentifier(m[2]!),
        notNull: /\bnot\s+null\b/i.test(definition),
        hasDefault: /\bdefault\b/i.test(definition),
        generated: /\bgenerated\s+always\b|\bas\s*\(/i.test(definition),
        definition: (m[3] ?? '').trim().replace(/;$/, ''),
      };
    },
  },
  {
    re: new RegExp(String.raw`^create\s+(unique\s+)?index\s+(?:if\s+not\s+exists\s+)?(${QNAME})\s+on\s+(${IDENT})\s*\(`, 'i'),
    build: (m, sql) => {
      const open = m.index + m[0].length - 1;
      const close = matchingParen(sql, open);
      if (close === -1) return null;
      const rest = sql.slice(close + 1);
      const where = /^\s*where\s+([\s\S]*?);?\s*$/i.exec(rest);
      return {
        kind: 'create-index',
        index: unquoteIdentifier(m[2]!),
        table: unquoteIdentifier(m[3]!),
        unique: m[1] !== undefined,
        parts: splitTopLevel(sql.slice(open + 1, close)).map(indexPart),
        where: where ? where[1]!.trim() : null,
      };
    },
  },
  {
    re: new RegExp(String.raw`^drop\s+index\s+(?:if\s+exists\s+)?(${QNAME})`, 'i'),
    build: (m) => ({ kind: 'drop-index', index: unquoteIdentifier(m[1]!) }),
  },
  {
    // drizzle-kit's table rebuild: INSERT INTO `__new_t`("a", "b") SELECT "a", "b" FROM `t`
    re: new RegExp(String.raw`^insert\s+into\s+(${QNAME})\s*\(([^)]*)\)\s*select\s+([\s\S]*?)\s+from\s+(${QNAME})\s*;?\s*$`, 'i'),
    build: (m) => ({
      kind: 'insert-select',
      table: unquoteIdentifier(m[1]!),
      columns: splitTopLevel(m[2]!).map(unquoteIdentifier),
      selected: splitTopLevel(m[3]!),
      from: unquoteIdentifier(m[4]!),
    }),
  },
  {
    re: new RegExp(String.raw`^create\s+(?:temp(?:orary)?\s+)?view\s+(?:if\s+not\s+exists\s+)?(${QNAME})`, 'i'),
    build: (m) => ({ kind: 'create-view', view: unquoteIdentifier(m[1]!) }),
  },
  {
    re: new RegExp(String.raw`^drop\s+view\s+(?:if\s+exists\s+)?(${QNAME})`, 'i'),
    build: (m) => ({ kind: 'drop-view', view: unquoteIdentifier(m[1]!) }),
  },
  {
    re: new RegExp(String.raw`^create\s+(?:temp(?:orary)?\s+)?trigger\s+(?:if\s+not\s+exists\s+)?(${QNAME})[\s\S]*?\bon\s+(${QNAME})`, 'i'),
    build: (m) => ({ kind: 'create-trigger', trigger: unquoteIdentifier(m[1]!), table: unquoteIdentifier(m[2]!) }),
  },
  {
    re: new RegExp(String.raw`^drop\s+trigger\s+(?:if\s+exists\s+)?(${QNAME})`, 'i'),
    build: (m) => ({ kind: 'drop-trigger', trigger: unquoteIdentifier(m[1]!) }),
  },
];

/** Classifies one statement (comments ignored). */
export function parseStatement(ref: StatementRef): ParsedStatement {
  const sql = stripComments(ref.sql).trim();
  for (const { re, build } of patterns) {
    const match = re.exec(sql);
    if (!match) continue;
    const body = build(match, sql);
    if (body) return { ...ref, ...body };
  }
  return { ...ref, kind: 'other' };
}

/** Every statement of a migration file's chunks, classified and numbered by chunk. */
export function parseMigrationStatements(chunks: readonly string[]): ParsedStatement[] {
  return chunks.flatMap((chunk, i) => splitSql(chunk).map((sql) => parseStatement({ statement: i + 1, sql })));
}

/** Index of the `)` that closes the `(` at `open`, skipping strings; -1 when unbalanced. */
export function matchingParen(sql: string, open: number): number {
  let depth = 0;
  for (let i = open; i < sql.length; i++) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      const end = sql.indexOf(ch, i + 1);
      if (end === -1) return -1;
      i = end;
    } else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i;
  }
  return -1;
}

/** Splits a comma-separated list at the commas outside parentheses and quotes. */
export function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let quote: string | null = null;
  for (let i = 0; i < list.length; i++) {
    const ch = list[i]!;
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(list.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(list.slice(start).trim());
  return parts.filter((p) => p !== '');
}

/** An indexed column or expression without its ordering (ASC/DESC), which does not change uniqueness. */
function indexPart(part: string): string {
  return part.replace(/\s+(?:asc|desc)\s*$/i, '').trim();
}

function withoutStrings(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'/g, "''");
}

/** A column name as an identifier when it is one, else null (an expression). */
export function plainColumn(part: string): string | null {
  const withoutCollate = part.replace(/\s+collate\s+\S+$/i, '').trim();
  return new RegExp(String.raw`^${IDENT}$`).test(withoutCollate) ? unquoteIdentifier(withoutCollate) : null;
}

/** `"name"` with inner quotes doubled, for SQL built here. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
