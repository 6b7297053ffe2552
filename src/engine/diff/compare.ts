import type { NormalizedSchema, TableShape } from './introspect.js';

/**
 * Lists every difference between two normalized schemas, one readable line each
 * (`expected` is what the migrations give, `actual` what was found). Empty when they match.
 * Column order is not compared: Drizzle names every column it reads and writes.
 */
export function compareSchemas(expected: NormalizedSchema, actual: NormalizedSchema, labels = { expected: 'expected', actual: 'actual' }): string[] {
  const differences: string[] = [];
  const missing = (what: string) => differences.push(`${what} is missing from ${labels.actual}`);
  const extra = (what: string) => differences.push(`${what} is in ${labels.actual} but not in ${labels.expected}`);

  // introspect() hands out one shape object per table definition: the same object is the same table, and only
  // the others are compared (the stairway compares the whole schema three times per migration).
  // Own keys only: a table may be called `constructor` or `toString`.
  const table = (schema: NormalizedSchema, name: string) => (Object.hasOwn(schema.tables, name) ? schema.tables[name] : undefined);
  const changed = new Set<string>();
  for (const name of Object.keys(expected.tables)) if (table(expected, name) !== table(actual, name)) changed.add(name);
  for (const name of Object.keys(actual.tables)) if (!Object.hasOwn(expected.tables, name)) changed.add(name);
  for (const name of [...changed].sort()) {
    const e = table(expected, name);
    const a = table(actual, name);
    if (!e) extra(`table ${name}`);
    else if (!a) missing(`table ${name}`);
    else compareTables(name, e, a, differences, missing, extra);
  }
  for (const kind of ['views', 'triggers'] as const) {
    const singular = kind === 'views' ? 'view' : 'trigger';
    for (const name of union(expected[kind], actual[kind])) {
      const e = expected[kind][name];
      const a = actual[kind][name];
      if (e === undefined) extra(`${singular} ${name}`);
      else if (a === undefined) missing(`${singular} ${name}`);
      else if (e !== a) differences.push(`${singular} ${name} differs: ${labels.expected} has '${e}', ${labels.actual} has '${a}'`);
    }
  }
  return differences;

  function compareTables(
    table: string,
    e: TableShape,
    a: TableShape,
    out: string[],
    onMissing: (what: string) => void,
    onExtra: (what: string) => void,
  ): void {
    for (const column of union(e.columns, a.columns)) {
      const ec = e.columns[column];
      const ac = a.columns[column];
      if (!ec) onExtra(`column ${table}.${column}`);
      else if (!ac) onMissing(`column ${table}.${column}`);
      else {
        for (const key of ['type', 'notNull', 'default', 'primaryKey', 'hidden'] as const) {
          if (ec[key] !== ac[key]) {
            out.push(`column ${table}.${column} ${key} differs: ${labels.expected} has ${show(ec[key])}, ${labels.actual} has ${show(ac[key])}`);
          }
        }
      }
    }
    for (const index of union(e.indexes, a.indexes)) {
      const ei = e.indexes[index];
      const ai = a.indexes[index];
      if (!ei) onExtra(`index ${index} on ${table}`);
      else if (!ai) onMissing(`index ${index} on ${table}`);
      else if (JSON.stringify(ei) !== JSON.stringify(ai)) {
        out.push(`index ${index} on ${table} differs: ${labels.expected} has ${describeIndex(ei)}, ${labels.actual} has ${describeIndex(ai)}`);
      }
    }
    for (const [key, what] of [['foreignKeys', 'foreign key'], ['checks', 'check']] as const) {
      for (const item of e[key].filter((x) => !a[key].includes(x))) onMissing(`${what} ${table} ${item}`);
      for (const item of a[key].filter((x) => !e[key].includes(x))) onExtra(`${what} ${table} ${item}`);
    }
    for (const key of ['autoincrement', 'withoutRowid', 'strict'] as const) {
      if (e[key] !== a[key]) out.push(`table ${table} ${key} differs: ${labels.expected} has ${e[key]}, ${labels.actual} has ${a[key]}`);
    }
  }
}

function union(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

function show(value: unknown): string {
  return value === null ? 'none' : JSON.stringify(value);
}

function describeIndex(index: { unique: boolean; columns: string[]; definition: string | null }): string {
  return index.definition ?? `${index.unique ? 'unique ' : ''}(${index.columns.join(', ')})`;
}
