// Checks the type-level test in test/types/: without its @ts-expect-error directives every marked line fails to
// compile, for the reason the directive names (`// @ts-expect-error phone` → an error about `phone`).
// `tsc --noEmit` alone only proves that each marked line has some error.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..');
const TYPE_TEST = join(ROOT, 'test', 'types', 'schema-errors.ts');
const DIRECTIVE = /\/\/ @ts-expect-error (\w+)/;

/** Type-checks `text` as if it were a file next to the type test, with the project's compiler options. */
function typeErrors(text: string): { line: number; message: string }[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
  });
  assert.ok(config);
  const virtualFile = join(ROOT, 'test', 'types', 'schema-errors.virtual.ts');
  const host = ts.createCompilerHost(config.options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => name === virtualFile || fileExists.call(host, name);
  host.readFile = (name) => (name === virtualFile ? text : readFile.call(host, name));
  host.getSourceFile = (name, language, ...rest) =>
    name === virtualFile ? ts.createSourceFile(name, text, language) : getSourceFile.call(host, name, language, ...rest);
  const program = ts.createProgram([virtualFile], config.options, host);
  const source = program.getSourceFile(virtualFile);
  assert.ok(source);
  return ts.getPreEmitDiagnostics(program, source).map((d) => ({
    line: source.getLineAndCharacterOfPosition(d.start ?? 0).line + 1,
    // The reason is often deep in the chain ("No overload matches this call. … 'phone' does not exist …").
    message: [d, ...(d.relatedInformation ?? [])].map((x) => ts.flattenDiagnosticMessageText(x.messageText, '\n')).join('\n'),
  }));
}

describe('type-level test (test/types/schema-errors.ts)', () => {
  const original = readFileSync(TYPE_TEST, 'utf8');
  const lines = original.split('\n');
  const expected = lines.flatMap((line, i) => {
    const match = DIRECTIVE.exec(line);
    return match?.[1] ? [{ line: i + 2, name: match[1] }] : []; // the directive covers the next line (1-based)
  });

  // Errors on marked lines only also means that the file compiles as it is (each directive hides its line's errors).
  it('fails on each marked line, for the reason named, and nowhere else, once the directives are removed', () => {
    assert.ok(expected.length >= 10, 'the file holds its @ts-expect-error lines');
    const stripped = lines.map((line) => line.replace(DIRECTIVE, '// (directive removed)')).join('\n');
    const errors = typeErrors(stripped);
    for (const { line, name } of expected) {
      const onLine = errors.filter((e) => e.line === line);
      assert.ok(onLine.length > 0, `line ${line} compiles without its directive`);
      assert.ok(
        onLine.some((e) => e.message.includes(`'${name}'`)),
        `line ${line} fails, but not because of '${name}':\n${onLine.map((e) => e.message).join('\n')}`,
      );
    }
    const marked = new Set(expected.map((e) => e.line));
    assert.deepEqual(errors.filter((e) => !marked.has(e.line)), []);
  });
});
