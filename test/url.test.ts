import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatabaseUrl, redactUrl, toLibsqlUrl } from '../src/db/url.js';
import type { DatabaseLocation } from '../src/db/url.js';
import { MigrateError } from '../src/engine/errors.js';
import type { ErrorCode } from '../src/engine/errors.js';

function file(path: string, extra: { readonly?: boolean; fileMustExist?: boolean; timeoutMs?: number } = {}): DatabaseLocation {
  return { kind: 'file', path, readonly: false, fileMustExist: false, ...extra };
}

const MEMORY: DatabaseLocation = { kind: 'memory' };

function throwsMigrateError(fn: () => unknown, code: ErrorCode, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof MigrateError && e.code === code && pattern.test(e.message));
}

describe('parseDatabaseUrl', () => {
  const cases: { input: string; expected: DatabaseLocation }[] = [
    // file: URLs
    { input: 'file:./rel.db', expected: file('./rel.db') },
    { input: 'file:/abs.db', expected: file('/abs.db') },
    { input: 'file:///abs.db', expected: file('/abs.db') },
    { input: 'file://localhost/abs.db', expected: file('/abs.db') },
    { input: 'file:rel.db', expected: file('rel.db') },
    { input: 'FILE:./rel.db', expected: file('./rel.db') },
    // plain paths
    { input: 'data/x.db', expected: file('data/x.db') },
    { input: '/tmp/x.db', expected: file('/tmp/x.db') },
    { input: '  data/x.db  ', expected: file('data/x.db') },
    // in-memory forms
    { input: ':memory:', expected: MEMORY },
    { input: 'file::memory:', expected: MEMORY },
    { input: 'sqlite://', expected: MEMORY },
    { input: 'sqlite:///:memory:', expected: MEMORY },
    { input: ' :memory: ', expected: MEMORY },
    // SQLAlchemy URLs
    { input: 'sqlite:///rel.db', expected: file('rel.db') },
    { input: 'sqlite:////abs.db', expected: file('/abs.db') },
    { input: 'sqlite+aiosqlite:///rel.db', expected: file('rel.db') },
    { input: 'sqlite+aiosqlite:////abs/x.db', expected: file('/abs/x.db') },
    { input: 'SQLITE:///rel.db', expected: file('rel.db') },
    // percent-encoding in the path
    { input: 'file:./my%20db.db', expected: file('./my db.db') },
    { input: 'sqlite:///my%20db.db', expected: file('my db.db') },
    { input: 'file:///tmp/a%3Fb.db', expected: file('/tmp/a?b.db') },
    // query parameters
    { input: 'file:./x.db?mode=ro', expected: file('./x.db', { readonly: true, fileMustExist: true }) },
    { input: 'file:./x.db?mode=rw', expected: file('./x.db', { readonly: false, fileMustExist: true }) },
    { input: 'file:./x.db?mode=rwc', expected: file('./x.db', { readonly: false, fileMustExist: false }) },
    { input: 'file:./x.db?mode=memory', expected: MEMORY },
    { input: 'sqlite://?mode=memory', expected: MEMORY },
    { input: 'file:./x.db?timeout=250', expected: file('./x.db', { timeoutMs: 250 }) },
    { input: 'file:./x.db?timeout=0', expected: file('./x.db', { timeoutMs: 0 }) },
    { input: 'file:./x.db?uri=true', expected: file('./x.db') },
    { input: 'sqlite:///x.db?mode=ro&uri=true', expected: file('x.db', { readonly: true, fileMustExist: true }) },
    { input: 'sqlite:///x.db?mode=rw&timeout=250', expected: file('x.db', { fileMustExist: true, timeoutMs: 250 }) },
    { input: 'file:./x.db?mode=ro&mode=rwc', expected: file('./x.db') },
    { input: 'file::memory:?timeout=250', expected: MEMORY },
    { input: 'sqlite:///:memory:?uri=true', expected: MEMORY },
    // remote URLs pass through untouched
    { input: 'libsql://x.turso.io', expected: { kind: 'remote', url: 'libsql://x.turso.io' } },
    { input: 'libsql://x.turso.io?authToken=abc', expected: { kind: 'remote', url: 'libsql://x.turso.io?authToken=abc' } },
    { input: 'https://h', expected: { kind: 'remote', url: 'https://h' } },
    { input: 'http://h', expected: { kind: 'remote', url: 'http://h' } },
    { input: 'ws://h', expected: { kind: 'remote', url: 'ws://h' } },
    { input: 'wss://h', expected: { kind: 'remote', url: 'wss://h' } },
    { input: ' LIBSQL://H ', expected: { kind: 'remote', url: 'LIBSQL://H' } },
  ];
  for (const { input, expected } of cases) {
    it(`parses ${JSON.stringify(input)}`, () => {
      assert.deepStrictEqual(parseDatabaseUrl(input), expected);
    });
  }

  const errors: { input: string; code: ErrorCode; message: RegExp }[] = [
    { input: '', code: 'BAD_URL', message: /^database URL is empty$/ },
    { input: '   ', code: 'BAD_URL', message: /^database URL is empty$/ },
    { input: 'sqlite://host/x.db', code: 'BAD_URL', message: /'sqlite:\/\/host\/x\.db': SQLite URLs have no host/ },
    { input: 'sqlite:x.db', code: 'BAD_URL', message: /'sqlite:x\.db': SQLAlchemy's form is sqlite:\/\/\/x\.db .*; or write file:x\.db$/ },
    { input: 'sqlite+aiosqlite:data/bot.db', code: 'BAD_URL', message: /SQLAlchemy's form is sqlite\+aiosqlite:\/\/\/data\/bot\.db/ },
    { input: 'file://host/x.db', code: 'BAD_URL', message: /'file:\/\/host\/x\.db': use file:\/\/\/absolute\/path\.db/ },
    { input: 'file://', code: 'BAD_URL', message: /'file:\/\/': use file:\/\/\/absolute\/path\.db/ },
    { input: 'file:', code: 'BAD_URL', message: /'file:': no file path$/ },
    { input: 'file:?mode=ro', code: 'BAD_URL', message: /no file path$/ },
    { input: 'file:./x.db?mode=bogus', code: 'BAD_URL', message: /mode must be ro, rw, rwc or memory, not 'bogus'$/ },
    { input: 'file:./x.db?timeout=-1', code: 'BAD_URL', message: /timeout must be a whole number of milliseconds, not '-1'$/ },
    { input: 'file:./x.db?timeout=abc', code: 'BAD_URL', message: /timeout must be a whole number of milliseconds, not 'abc'$/ },
    { input: 'sqlite:///x.db?timeout=2.5', code: 'BAD_URL', message: /not '2\.5'$/ },
    { input: 'file:./x.db?foo=1', code: 'BAD_URL', message: /^unsupported query parameter 'foo' in database URL 'file:\.\/x\.db\?foo=1'/ },
    { input: 'sqlite:///x.db?uri=true&foo=1', code: 'BAD_URL', message: /unsupported query parameter 'foo'/ },
    { input: 'file:./%zz.db', code: 'BAD_URL', message: /'file:\.\/%zz\.db': invalid percent-encoding in the path$/ },
    { input: 'postgres://u@h/db', code: 'UNSUPPORTED_URL', message: /^unsupported database URL scheme 'postgres:' in 'postgres:\/\/u@h\/db'/ },
    { input: 'mysql://h/db', code: 'UNSUPPORTED_URL', message: /^unsupported database URL scheme 'mysql:'/ },
    { input: 'postgresql+psycopg://u@h/db', code: 'UNSUPPORTED_URL', message: /scheme 'postgresql\+psycopg:'/ },
  ];
  for (const { input, code, message } of errors) {
    it(`rejects ${JSON.stringify(input)} with ${code}`, () => {
      throwsMigrateError(() => parseDatabaseUrl(input), code, message);
    });
  }

  it('reports URL errors as work errors, not usage errors', () => {
    for (const input of ['', 'file:', 'postgres://h/db']) {
      assert.throws(
        () => parseDatabaseUrl(input),
        (e: unknown) => e instanceof MigrateError && e.isUsage === false,
      );
    }
  });
  it(
    'rejects an empty timeout',
    () => {
      throwsMigrateError(() => parseDatabaseUrl('sqlite:///x.db?timeout='), 'BAD_URL', /timeout must be a whole number/);
    },
  );
  for (const input of ['sqlite://?mode=bogus', 'sqlite:///:memory:?mode=bogus', 'file::memory:?mode=bogus']) {
    it(
      `rejects an invalid mode on an in-memory URL: ${JSON.stringify(input)}`,
      () => {
        throwsMigrateError(() => parseDatabaseUrl(input), 'BAD_URL', /mode must be ro, rw, rwc or memory, not 'bogus'/);
      },
    );
  }
});

describe('toLibsqlUrl', () => {
  const cases: { input: string; expected: string }[] = [
    { input: 'sqlite+aiosqlite:///rel.db', expected: 'file:rel.db' },
    { input: 'sqlite:////abs.db', expected: 'file:/abs.db' },
    { input: 'file:///abs.db', expected: 'file:/abs.db' },
    { input: 'file:./rel.db', expected: 'file:./rel.db' },
    { input: 'data/x.db', expected: 'file:data/x.db' },
    { input: ':memory:', expected: ':memory:' },
    { input: 'sqlite://', expected: ':memory:' },
    { input: 'file:./x.db?mode=memory', expected: ':memory:' },
    { input: 'libsql://h', expected: 'libsql://h' },
    { input: 'https://h?authToken=t', expected: 'https://h?authToken=t' },
  ];
  for (const { input, expected } of cases) {
    it(`converts ${JSON.stringify(input)} to ${JSON.stringify(expected)}`, () => {
      assert.equal(toLibsqlUrl(input), expected);
    });
  }

  it('propagates parse errors', () => {
    throwsMigrateError(() => toLibsqlUrl('postgres://h/db'), 'UNSUPPORTED_URL', /'postgres:'/);
    throwsMigrateError(() => toLibsqlUrl(''), 'BAD_URL', /empty/);
  });

  // libsql's URL parser (like parseDatabaseUrl) percent-decodes the path and splits off `?query` and `#fragment`,
  // so the path must be percent-encoded for the libsql URL to name the same file.
  const specialPaths: { input: string; path: string }[] = [
    { input: 'data/100%.db', path: 'data/100%.db' },
    { input: 'data/my%20db.db', path: 'data/my%20db.db' },
    { input: 'file:./a%3Fb.db', path: './a?b.db' },
    { input: 'file:./100%2525.db', path: './100%25.db' },
  ];
  for (const { input, path } of specialPaths) {
    it(
      `keeps the same file for ${JSON.stringify(input)} when the libsql URL is parsed again`,
      () => {
        assert.deepStrictEqual(parseDatabaseUrl(toLibsqlUrl(input)), file(path));
      },
    );
  }
  it(
    "does not leave a raw '#' in the path (libsql reads it as a fragment and rejects the URL)",
    () => {
      assert.equal(toLibsqlUrl('data/a#1.db').includes('#'), false);
    },
  );
  it('round-trips ordinary paths', () => {
    for (const input of ['file:./rel.db', 'sqlite:////abs/x.db', 'data/x.db', 'file:./my%20db.db']) {
      assert.deepStrictEqual(parseDatabaseUrl(toLibsqlUrl(input)), parseDatabaseUrl(input));
    }
  });
});

describe('redactUrl', () => {
  const cases: { input: string; expected: string }[] = [
    { input: 'libsql://h?authToken=secret', expected: 'libsql://h?authToken=***' },
    { input: 'libsql://h?tls=1&authToken=secret&x=1', expected: 'libsql://h?tls=1&authToken=***&x=1' },
    { input: 'libsql://h?AUTHTOKEN=secret', expected: 'libsql://h?AUTHTOKEN=***' },
    { input: 'https://user:secret@h/db', expected: 'https://***@h/db' },
    { input: 'file:./x.db', expected: 'file:./x.db' },
    { input: 'libsql://x.turso.io', expected: 'libsql://x.turso.io' },
  ];
  for (const { input, expected } of cases) {
    it(`redacts ${JSON.stringify(input)}`, () => {
      const redacted = redactUrl(input);
      assert.equal(redacted, expected);
      assert.equal(redacted.includes('secret'), false);
    });
  }

  it(
    "hides all of a password that contains an unencoded '@'",
    () => {
      // libsql reads this as username 'u', password 'se@cret', host 'h'.
      const redacted = redactUrl('https://u:se@cret@h/db');
      assert.equal(redacted.includes('cret'), false);
      assert.equal(redacted, 'https://***@h/db');
    },
  );
});
