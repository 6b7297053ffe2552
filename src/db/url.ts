import { MigrateError } from '../engine/errors.js';

/**
 * Where a database URL points, in terms the sync driver understands.
 * The app speaks @libsql/client URLs; the old Python app spoke SQLAlchemy URLs; both land here.
 */
export type DatabaseLocation =
  | { kind: 'file'; path: string; readonly: boolean; fileMustExist: boolean; timeoutMs?: number }
  | { kind: 'memory' }
  | { kind: 'remote'; url: string };

const REMOTE_SCHEMES = ['libsql:', 'http:', 'https:', 'ws:', 'wss:'];
const SQLALCHEMY_SQLITE = /^sqlite(\+[a-z0-9_]+)?:\/\/(.*)$/i;
const ANY_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Parse a database URL: `file:./rel.db`, `file:/abs.db`, `file:///abs.db`, a plain path, `:memory:`,
 * and SQLAlchemy's `sqlite:///rel.db`, `sqlite:////abs.db`, `sqlite+aiosqlite:///rel.db`.
 * Query parameters: `mode=ro|rw|rwc|memory`, `timeout=<ms>`; SQLAlchemy's `uri=true` is accepted and ignored.
 * Pure: no file system access.
 */
export function parseDatabaseUrl(input: string): DatabaseLocation {
  const url = input.trim();
  if (url === '') throw new MigrateError('BAD_URL', 'database URL is empty');
  if (url === ':memory:' || url === 'file::memory:') return { kind: 'memory' };

  const lower = url.toLowerCase();
  if (REMOTE_SCHEMES.some((s) => lower.startsWith(s))) return { kind: 'remote', url };

  let pathPart: string;
  let query = '';
  const sqlalchemy = SQLALCHEMY_SQLITE.exec(url);
  if (sqlalchemy) {
    [pathPart, query] = splitQuery(sqlalchemy[2] ?? '');
    if (pathPart === '') return withQuery({ kind: 'memory' }, query, url); // `sqlite://` is SQLAlchemy's in-memory form
    if (!pathPart.startsWith('/')) {
      throw new MigrateError('BAD_URL', `bad database URL '${url}': SQLite URLs have no host; use sqlite:///relative.db or sqlite:////absolute.db`);
    }
    pathPart = pathPart.slice(1);
    if (pathPart === ':memory:') return withQuery({ kind: 'memory' }, query, url);
  } else if (lower.startsWith('file:')) {
    [pathPart, query] = splitQuery(url.slice('file:'.length));
    if (pathPart.startsWith('//')) {
      const authorityEnd = pathPart.indexOf('/', 2);
      const authority = authorityEnd === -1 ? pathPart.slice(2) : pathPart.slice(2, authorityEnd);
      if (authorityEnd === -1 || (authority !== '' && authority !== 'localhost')) {
        throw new MigrateError('BAD_URL', `bad database URL '${url}': use file:///absolute/path.db or file:./relative.db`);
      }
      pathPart = pathPart.slice(authorityEnd);
    }
    if (pathPart === ':memory:') return withQuery({ kind: 'memory' }, query, url);
  } else {
    // `sqlite:x.db` (no slashes) is neither SQLAlchemy's form nor a path anyone means: it would create a file of
    // that name.
    const bare = /^(sqlite(?:\+[a-z0-9_]+)?):(?!\/\/)(.*)$/i.exec(url);
    if (bare) {
      throw new MigrateError('BAD_URL', `bad database URL '${url}': SQLAlchemy's form is ${bare[1]}:///${bare[2]} (three slashes for a relative path, four for an absolute one); or write file:${bare[2]}`);
    }
    const scheme = ANY_SCHEME.exec(url);
    if (scheme) {
      throw new MigrateError('UNSUPPORTED_URL', `unsupported database URL scheme '${scheme[1]}:' in '${url}': use a file: URL, a path, :memory: or libsql://`);
    }
    return { kind: 'file', path: url, readonly: false, fileMustExist: false };
  }

  let path: string;
  try {
    path = decodeURIComponent(pathPart);
  } catch {
    throw new MigrateError('BAD_URL', `bad database URL '${url}': invalid percent-encoding in the path`);
  }
  if (path === '') throw new MigrateError('BAD_URL', `bad database URL '${url}': no file path`);
  return withQuery({ kind: 'file', path, readonly: false, fileMustExist: false }, query, url);
}

function splitQuery(rest: string): [string, string] {
  const at = rest.indexOf('?');
  return at === -1 ? [rest, ''] : [rest.slice(0, at), rest.slice(at + 1)];
}

function withQuery(location: DatabaseLocation, query: string, url: string): DatabaseLocation {
  if (query === '') return location;
  let result = location;
  for (const [key, value] of new URLSearchParams(query)) {
    switch (key) {
      case 'mode':
        if (!['ro', 'rw', 'rwc', 'memory'].includes(value)) {
          throw new MigrateError('BAD_URL', `bad database URL '${url}': mode must be ro, rw, rwc or memory, not '${value}'`);
        }
        if (value === 'memory') result = { kind: 'memory' };
        else if (result.kind !== 'file') break;
        else if (value === 'ro') result = { ...result, readonly: true, fileMustExist: true };
        else if (value === 'rw') result = { ...result, readonly: false, fileMustExist: true };
        else result = { ...result, readonly: false, fileMustExist: false };
        break;
      case 'timeout': {
        const ms = Number(value);
        if (!/^\d+$/.test(value) || !Number.isSafeInteger(ms)) {
          throw new MigrateError('BAD_URL', `bad database URL '${url}': timeout must be a whole number of milliseconds, not '${value}'`);
        }
        if (result.kind === 'file') result = { ...result, timeoutMs: ms };
        break;
      }
      case 'uri':
        break; // SQLAlchemy's flag to pass the URL to sqlite3 as a URI; this is always a URI here.
      default:
        throw new MigrateError('BAD_URL', `unsupported query parameter '${key}' in database URL '${url}' (supported: mode, timeout)`);
    }
  }
  return result;
}

/**
 * The same database as a URL for @libsql/client (what the app and `drizzle-kit migrate` open).
 * Relative paths stay relative to the working directory, as libsql reads them.
 */
export function toLibsqlUrl(input: string): string {
  const location = parseDatabaseUrl(input);
  switch (location.kind) {
    case 'memory':
      return ':memory:';
    case 'remote':
      return location.url;
    case 'file':
      // libsql decodes %XX and stops the path at ? and #: encode each segment so it opens the same file.
      return `file:${location.path.split('/').map(encodeURIComponent).join('/')}`;
  }
}

/** A URL safe to print: credentials in it are hidden. */
export function redactUrl(input: string): string {
  // Greedy up to the last @ before the path: a password may hold an unencoded @.
  return input.replace(/(authToken=)[^&]*/gi, '$1***').replace(/\/\/[^/]*@/, '//***@');
}
