/**
 * A TEST DOUBLE of a libSQL server (sqld), for the tests only: the Hrana protocol over HTTP, backed by one
 * SQLite file through better-sqlite3. It is not a database server to deploy.
 *
 * In production the runner is pointed at a real libSQL server: Turso (`DATABASE_URL=libsql://<db>.turso.io`
 * with `DATABASE_AUTH_TOKEN`) or a self-hosted sqld (`DATABASE_URL=http://host:8080`, plus
 * `DATABASE_AUTH_TOKEN` when it checks tokens). No sqld can be installed from the package registries this
 * project reaches, and the turso CLI's `--sync-server` rejects the `close` request that @libsql/client
 * sends, hence this double.
 *
 * What it implements, following the published Hrana specification (tursodatabase/libsql, docs/HRANA_3_SPEC.md,
 * "Hrana over HTTP", JSON encoding), as far as @libsql/client 0.18 uses it:
 * - `GET /`, `GET /health`, `GET /v2`, `GET /v3`: version probes (200).
 * - `POST /v2/pipeline` and `POST /v3/pipeline`: `{ baton, requests }` → `{ baton, base_url, results }`, with the
 *   requests `execute`, `batch` (conditions `ok`, `error`, `not`, `and`, `or`, `is_autocommit`), `sequence`,
 *   `store_sql`, `close_sql`, `get_autocommit` and `close`. Each result is `{type:'ok', response}` or
 *   `{type:'error', error:{message, code}}`; one failing request does not stop the others.
 * - Streams: a request without a baton opens a stream, which is one better-sqlite3 connection of its own
 *   (so `PRAGMA foreign_keys`, `BEGIN` and the rest of a transaction stay on it, as on sqld). The response
 *   carries a new baton to continue the stream; `close`, or no request for `idleTimeoutMs`, closes it
 *   (rolling back an open transaction). A stale or unknown baton is an HTTP 400.
 * - Values: `{type:'null'}`, `{type:'integer', value:'<decimal string>'}`, `{type:'float', value}`,
 *   `{type:'text', value}`, `{type:'blob', base64}`.
 * - Optional bearer-token check (`Authorization: Bearer <token>`; otherwise HTTP 401).
 * Not implemented: the protobuf encoding (`/v3-protobuf`), cursors, `describe`. A busy database fails at once
 * with SQLITE_BUSY instead of waiting (one thread serves every stream; waiting would block them all).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';

type ProtoValue =
  | { type: 'null' }
  | { type: 'integer'; value: string }
  | { type: 'float'; value: number }
  | { type: 'text'; value: string }
  | { type: 'blob'; base64: string };

interface ProtoStmt {
  sql?: string;
  sql_id?: number;
  args?: ProtoValue[];
  named_args?: { name: string; value: ProtoValue }[];
  want_rows?: boolean;
}

type BatchCond =
  | { type: 'ok'; step: number }
  | { type: 'error'; step: number }
  | { type: 'not'; cond: BatchCond }
  | { type: 'and'; conds: BatchCond[] }
  | { type: 'or'; conds: BatchCond[] }
  | { type: 'is_autocommit' };

interface ProtoBatch {
  steps: { condition?: BatchCond | null; stmt: ProtoStmt }[];
}

type StreamRequest =
  | { type: 'close' }
  | { type: 'execute'; stmt: ProtoStmt }
  | { type: 'batch'; batch: ProtoBatch }
  | { type: 'sequence'; sql?: string; sql_id?: number }
  | { type: 'store_sql'; sql_id: number; sql: string }
  | { type: 'close_sql'; sql_id: number }
  | { type: 'get_autocommit' }
  | { type: string };

interface ProtoError {
  message: string;
  code?: string;
}

interface StmtResult {
  cols: { name: string; decltype: string | null }[];
  rows: ProtoValue[][];
  affected_row_count: number;
  last_insert_rowid: string | null;
}

/** One request as the server saw it, for tests that check what ran on which stream. */
export interface LoggedRequest {
  /** Which stream (connection) it ran on: a counter, stable for the stream's life. */
  stream: number;
  type: string;
  /** The SQL it ran (the steps' SQL for a batch). */
  sql: string[];
}

export interface HranaServerOptions {
  /** The SQLite file the server serves. */
  file: string;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** A stream with no request for this long is closed (default 10 s, as sqld). */
  idleTimeoutMs?: number;
}

export interface HranaServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every pipeline request, in order. */
  log: LoggedRequest[];
  /** How many streams are open now. */
  openStreams(): number;
  close(): Promise<void>;
}

class ResponseError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

interface Stream {
  id: number;
  db: Database.Database;
  sqls: Map<number, string>;
  timer: NodeJS.Timeout | undefined;
}

/** Starts the server on a free loopback port. */
export async function startHranaServer(options: HranaServerOptions): Promise<HranaServer> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  const streams = new Map<string, Stream>();
  const log: LoggedRequest[] = [];
  let nextStreamId = 1;

  const closeStream = (baton: string) => {
    const stream = streams.get(baton);
    if (!stream) return;
    streams.delete(baton);
    clearTimeout(stream.timer);
    if (stream.db.inTransaction) stream.db.exec('ROLLBACK');
    stream.db.close();
  };

  const openStream = (): Stream => {
    // timeout 0: a locked database fails at once (SQLITE_BUSY) rather than blocking the server's one thread.
    const db = new Database(options.file, { timeout: 0 });
    db.defaultSafeIntegers(true);
    return { id: nextStreamId++, db, sqls: new Map(), timer: undefined };
  };

  const handlePipeline = (body: { baton?: string | null; requests?: StreamRequest[] }): object => {
    let stream: Stream;
    if (body.baton) {
      const found = streams.get(body.baton);
      if (!found) throw new HttpError(400, 'STREAM_EXPIRED', 'The stream has expired or the baton is invalid');
      streams.delete(body.baton);
      clearTimeout(found.timer);
      stream = found;
    } else {
      stream = openStream();
    }
    let closed = false;
    const results = (body.requests ?? []).map((request) => {
      if (closed) return { type: 'error', error: { message: 'The stream is closed', code: 'STREAM_CLOSED' } };
      try {
        const response = handleRequest(stream, request, log);
        if (request.type === 'close') closed = true;
        return { type: 'ok', response };
      } catch (error) {
        return { type: 'error', error: toProtoError(error) };
      }
    });
    if (closed) {
      if (stream.db.inTransaction) stream.db.exec('ROLLBACK');
      stream.db.close();
      return { baton: null, base_url: null, results };
    }
    const baton = randomBytes(16).toString('hex');
    streams.set(baton, stream);
    stream.timer = setTimeout(() => closeStream(baton), idleTimeoutMs);
    stream.timer.unref();
    return { baton, base_url: null, results };
  };

  const server: Server = createServer((req, res) => {
    handleHttp(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return sendJson(res, error.status, { message: error.message, code: error.code });
      sendJson(res, 500, { message: (error as Error).message, code: 'INTERNAL' });
    });
  });

  const handleHttp = async (req: IncomingMessage, res: ServerResponse) => {
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      await readBody(req);
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized: the auth token is missing or invalid');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/' || path === '/health' || path === '/v2' || path === '/v3')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('');
      return;
    }
    if (req.method === 'POST' && (path === '/v2/pipeline' || path === '/v3/pipeline')) {
      const text = await readBody(req);
      let body: { baton?: string | null; requests?: StreamRequest[] };
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        throw new HttpError(400, 'PROTO_ERROR', 'The request body is not JSON');
      }
      sendJson(res, 200, handlePipeline(body));
      return;
    }
    await readBody(req);
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`Not found: ${req.method} ${path}`);
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    openStreams: () => streams.size,
    close: async () => {
      for (const baton of [...streams.keys()]) closeStream(baton);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function toProtoError(error: unknown): ProtoError {
  if (error instanceof ResponseError) return { message: error.message, code: error.code };
  const code = (error as { code?: unknown }).code;
  return { message: (error as Error).message, code: typeof code === 'string' ? code : 'UNKNOWN' };
}

function handleRequest(stream: Stream, request: StreamRequest, log: LoggedRequest[]): object {
  switch (request.type) {
    case 'close':
      log.push({ stream: stream.id, type: 'close', sql: [] });
      return { type: 'close' };
    case 'execute': {
      const { stmt } = request as { stmt: ProtoStmt };
      const sql = sqlOf(stream, stmt);
      log.push({ stream: stream.id, type: 'execute', sql: [sql] });
      return { type: 'execute', result: executeStmt(stream.db, sql, stmt) };
    }
    case 'batch': {
      const { batch } = request as { batch: ProtoBatch };
      log.push({ stream: stream.id, type: 'batch', sql: batch.steps.map((s) => sqlOf(stream, s.stmt)) });
      return { type: 'batch', result: executeBatch(stream, batch) };
    }
    case 'sequence': {
      const sql = sqlOf(stream, request as { sql?: string; sql_id?: number });
      log.push({ stream: stream.id, type: 'sequence', sql: [sql] });
      stream.db.exec(sql);
      return { type: 'sequence' };
    }
    case 'store_sql': {
      const { sql_id, sql } = request as { sql_id: number; sql: string };
      stream.sqls.set(sql_id, sql);
      return { type: 'store_sql' };
    }
    case 'close_sql':
      stream.sqls.delete((request as { sql_id: number }).sql_id);
      return { type: 'close_sql' };
    case 'get_autocommit':
      return { type: 'get_autocommit', is_autocommit: !stream.db.inTransaction };
    default:
      throw new ResponseError(`Unsupported request type '${request.type}'`, 'PROTO_ERROR');
  }
}

function sqlOf(stream: Stream, stmt: { sql?: string | null; sql_id?: number | null }): string {
  if (typeof stmt.sql === 'string') return stmt.sql;
  if (typeof stmt.sql_id === 'number') {
    const sql = stream.sqls.get(stmt.sql_id);
    if (sql === undefined) throw new ResponseError(`SQL text ${stmt.sql_id} was not stored`, 'SQL_NOT_FOUND');
    return sql;
  }
  throw new ResponseError('A statement needs sql or sql_id', 'PROTO_ERROR');
}

function executeStmt(db: Database.Database, sql: string, stmt: ProtoStmt): StmtResult {
  const prepared = db.prepare(sql);
  const positional = (stmt.args ?? []).map(decodeValue);
  const named = Object.fromEntries((stmt.named_args ?? []).map(({ name, value }) => [name.replace(/^[:@$]/, ''), decodeValue(value)]));
  const args: unknown[] = stmt.named_args?.length ? [...positional, named] : positional;
  if (prepared.reader) {
    const cols = prepared.columns().map((c) => ({ name: c.name, decltype: c.type }));
    const rows = (prepared.raw(true).all(...args) as unknown[][]).map((row) => row.map(encodeValue));
    return { cols, rows: stmt.want_rows === false ? [] : rows, affected_row_count: 0, last_insert_rowid: null };
  }
  const info = prepared.run(...args);
  return { cols: [], rows: [], affected_row_count: Number(info.changes), last_insert_rowid: String(info.lastInsertRowid) };
}

function executeBatch(stream: Stream, batch: ProtoBatch): object {
  const stepResults: (StmtResult | null)[] = [];
  const stepErrors: (ProtoError | null)[] = [];
  const holds = (cond: BatchCond): boolean => {
    switch (cond.type) {
      case 'ok':
        return stepResults[cond.step] != null;
      case 'error':
        return stepErrors[cond.step] != null;
      case 'not':
        return !holds(cond.cond);
      case 'and':
        return cond.conds.every(holds);
      case 'or':
        return cond.conds.some(holds);
      case 'is_autocommit':
        return !stream.db.inTransaction;
    }
  };
  for (const step of batch.steps) {
    if (step.condition && !holds(step.condition)) {
      stepResults.push(null);
      stepErrors.push(null);
      continue;
    }
    try {
      stepResults.push(executeStmt(stream.db, sqlOf(stream, step.stmt), step.stmt));
      stepErrors.push(null);
    } catch (error) {
      stepResults.push(null);
      stepErrors.push(toProtoError(error));
    }
  }
  return { step_results: stepResults, step_errors: stepErrors };
}

function decodeValue(value: ProtoValue): unknown {
  switch (value.type) {
    case 'null':
      return null;
    case 'integer':
      return BigInt(value.value);
    case 'float':
      return Number(value.value);
    case 'text':
      return value.value;
    case 'blob':
      return Buffer.from(value.base64, 'base64');
  }
}

function encodeValue(value: unknown): ProtoValue {
  if (value === null || value === undefined) return { type: 'null' };
  if (typeof value === 'bigint') return { type: 'integer', value: value.toString() };
  if (typeof value === 'number') return { type: 'float', value };
  if (typeof value === 'string') return { type: 'text', value };
  if (Buffer.isBuffer(value)) return { type: 'blob', base64: value.toString('base64') };
  throw new ResponseError(`Cannot encode a value of type ${typeof value}`, 'INTERNAL');
}
