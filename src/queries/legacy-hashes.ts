// The password hashes of the Python app this layer took over (passlib and Werkzeug formats), read and checked so
// that its users can still log in; verifyPassword then replaces each one with the layer's own scrypt.
// Parsing is pure; only legacyHashMatches hashes. pbkdf2 and scrypt run on node:crypto (in libuv's thread pool);
// bcrypt and argon2 on hash-wasm (WebAssembly, no native build), which runs on the calling thread: a passlib
// bcrypt of cost 12 holds the event loop for about a quarter of a second, once per user until the rehash.
import { pbkdf2, scrypt, timingSafeEqual } from 'node:crypto';
import { argon2d, argon2i, argon2id, bcrypt } from 'hash-wasm';

/** A foreign hash taken apart: what to compute (kind and parameters) and the bytes it must give (`key`). */
export type LegacyHash =
  /** passlib bcrypt, `$2b$` (also `$2a$`, `$2y$`: for passwords of at most 72 bytes all three compute the same). */
  | { kind: 'bcrypt'; cost: number; salt: Buffer; key: Buffer }
  /** passlib pbkdf2_sha256 (salt decoded from ab64) and Werkzeug `pbkdf2:sha256` (salt used as its UTF-8 text). */
  | { kind: 'pbkdf2-sha256'; iterations: number; salt: Buffer; key: Buffer }
  /** passlib argon2 (argon2_cffi's PHC string), version 19 only: hash-wasm computes no other. */
  | { kind: 'argon2'; type: 'argon2id' | 'argon2i' | 'argon2d'; memoryKiB: number; iterations: number; parallelism: number; salt: Buffer; key: Buffer }
  /** Werkzeug `scrypt:N:r:p` (salt used as its UTF-8 text, 64-byte key). */
  | { kind: 'scrypt'; N: number; r: number; p: number; salt: Buffer; key: Buffer };

/**
 * Bounds on the cost a stored hash may ask for, about ten times the defaults of the tools that made them (passlib
 * bcrypt 12, pbkdf2_sha256 29,000, argon2 m=100 MiB t=2 p=8; Werkzeug 3 pbkdf2 1,000,000, scrypt 2^15/8/1). A value
 * beyond them is taken for damage: one login must not take minutes or gigabytes. argon2 stops at 1 GiB because
 * hash-wasm cannot allocate 2 GiB.
 */
const LIMITS = {
  bcryptCost: { min: 4, max: 16 },
  pbkdf2Iterations: { min: 1, max: 10_000_000 },
  argon2MemoryKiB: { min: 8, max: 1024 * 1024 },
  argon2Iterations: { min: 1, max: 20 },
  argon2Parallelism: { min: 1, max: 64 },
  scryptN: { min: 2, max: 2 ** 20 },
  scryptR: { min: 1, max: 32 },
  scryptP: { min: 1, max: 16 },
} as const;

/** passlib truncates bcrypt passwords to this many bytes without an error (its `truncate_error` is off by default). */
const BCRYPT_MAX_PASSWORD_BYTES = 72;

function inRange(text: string | undefined, { min, max }: { min: number; max: number }): number | undefined {
  const n = Number(text);
  return text !== undefined && /^[0-9]+$/.test(text) && n >= min && n <= max ? n : undefined;
}

/** bcrypt's base64: the standard alphabet in another order (`./A-Za-z0-9`), no padding. */
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const STANDARD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function bcryptBase64(text: string): Buffer {
  return Buffer.from([...text].map((c) => STANDARD_ALPHABET[BCRYPT_ALPHABET.indexOf(c)]).join(''), 'base64');
}

/** passlib's "adapted base64": standard base64 with `.` for `+`, no padding. */
function ab64(text: string): Buffer {
  return Buffer.from(text.replaceAll('.', '+'), 'base64');
}

const BCRYPT = /^\$2[aby]\$([0-9]{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;
const PASSLIB_PBKDF2 = /^\$pbkdf2-sha256\$([0-9]+)\$([./A-Za-z0-9]*)\$([./A-Za-z0-9]{43})$/;
const ARGON2 = /^\$(argon2id|argon2i|argon2d)\$v=19\$m=([0-9]+),t=([0-9]+),p=([0-9]+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const WERKZEUG_PBKDF2 = /^pbkdf2:sha256:([0-9]+)\$([^$]+)\$([0-9a-f]{64})$/;
const WERKZEUG_SCRYPT = /^scrypt:([0-9]+):([0-9]+):([0-9]+)\$([^$]+)\$([0-9a-f]{128})$/;

/** A stored hash in one of the Python app's formats taken apart, or undefined (another format, damage, a cost out of bounds). */
export function parseLegacyHash(stored: string): LegacyHash | undefined {
  let m: RegExpExecArray | null;
  if ((m = BCRYPT.exec(stored))) {
    const cost = inRange(m[1], LIMITS.bcryptCost);
    return cost === undefined ? undefined : { kind: 'bcrypt', cost, salt: bcryptBase64(m[2]!), key: bcryptBase64(m[3]!) };
  }
  if ((m = PASSLIB_PBKDF2.exec(stored))) {
    const iterations = inRange(m[1], LIMITS.pbkdf2Iterations);
    return iterations === undefined ? undefined : { kind: 'pbkdf2-sha256', iterations, salt: ab64(m[2]!), key: ab64(m[3]!) };
  }
  if ((m = WERKZEUG_PBKDF2.exec(stored))) {
    const iterations = inRange(m[1], LIMITS.pbkdf2Iterations);
    return iterations === undefined ? undefined : { kind: 'pbkdf2-sha256', iterations, salt: Buffer.from(m[2]!, 'utf8'), key: Buffer.from(m[3]!, 'hex') };
  }
  if ((m = ARGON2.exec(stored))) {
    const memoryKiB = inRange(m[2], LIMITS.argon2MemoryKiB);
    const iterations = inRange(m[3], LIMITS.argon2Iterations);
    const parallelism = inRange(m[4], LIMITS.argon2Parallelism);
    const salt = Buffer.from(m[5]!, 'base64');
    const key = Buffer.from(m[6]!, 'base64');
    // Argon2's own minimums (which hash-wasm enforces by throwing): 8-byte salt, 4-byte tag, 8 KiB per lane.
    if (memoryKiB === undefined || iterations === undefined || parallelism === undefined) return undefined;
    if (salt.length < 8 || key.length < 4 || memoryKiB < 8 * parallelism) return undefined;
    return { kind: 'argon2', type: m[1] as 'argon2id' | 'argon2i' | 'argon2d', memoryKiB, iterations, parallelism, salt, key };
  }
  if ((m = WERKZEUG_SCRYPT.exec(stored))) {
    const N = inRange(m[1], LIMITS.scryptN);
    const r = inRange(m[2], LIMITS.scryptR);
    const p = inRange(m[3], LIMITS.scryptP);
    if (N === undefined || r === undefined || p === undefined || (N & (N - 1)) !== 0) return undefined;
    return { kind: 'scrypt', N, r, p, salt: Buffer.from(m[4]!, 'utf8'), key: Buffer.from(m[5]!, 'hex') };
  }
  return undefined;
}

/** What the hash's algorithm gives for these password bytes, as many bytes as the hash's `key`. */
async function derive(password: Buffer, hash: LegacyHash): Promise<Buffer> {
  switch (hash.kind) {
    case 'bcrypt': {
      // bcrypt's key is the password and a closing NUL, repeated to fill 72 bytes: '' and '\0' give the same key,
      // and hash-wasm refuses an empty password. The encoded checksum holds the first 23 of the 24 bytes.
      const bytes = password.length === 0 ? Buffer.from([0]) : password.subarray(0, BCRYPT_MAX_PASSWORD_BYTES);
      const out = await bcrypt({ password: bytes, salt: hash.salt, costFactor: hash.cost, outputType: 'binary' });
      return Buffer.from(out.buffer, out.byteOffset, hash.key.length);
    }
    case 'pbkdf2-sha256':
      return new Promise((resolve, reject) => {
        pbkdf2(password, hash.salt, hash.iterations, hash.key.length, 'sha256', (error, key) => (error ? reject(error) : resolve(key)));
      });
    case 'argon2': {
      const compute = { argon2id, argon2i, argon2d }[hash.type];
      const { memoryKiB: memorySize, iterations, parallelism, salt, key } = hash;
      // hash-wasm refuses an empty password (argon2 itself allows it); a stand-in keeps the cost, and matchesAsGiven
      // refuses the result.
      const bytes = password.length === 0 ? Buffer.from([0]) : password;
      return Buffer.from(await compute({ password: bytes, salt, iterations, parallelism, memorySize, hashLength: key.length, outputType: 'binary' }));
    }
    case 'scrypt': {
      const { N, r, p } = hash;
      // OpenSSL needs 128·r·(N + p + 2) bytes; Node's default cap (32 MiB) is below Werkzeug's 2^15/8/1.
      const options = { N, r, p, maxmem: 128 * r * (N + p + 2) + 1024 * 1024 };
      return new Promise((resolve, reject) => {
        scrypt(password, hash.salt, hash.key.length, options, (error, key) => (error ? reject(error) : resolve(key)));
      });
    }
    default: {
      const unknown: never = hash;
      // The value is not printed: it holds a salt and a key.
      throw new Error(`unknown legacy hash kind ${(unknown as { kind: string }).kind}`);
    }
  }
}

async function matchesAsGiven(password: string, hash: LegacyHash): Promise<boolean> {
  const bytes = Buffer.from(password, 'utf8');
  const actual = await derive(bytes, hash);
  // passlib refuses to bcrypt a password with a NUL byte, so no stored bcrypt hash comes from one; and an empty
  // password cannot be checked against argon2 (see derive). The hash is still computed, so both cost the same.
  const possible = hash.kind === 'bcrypt' ? !bytes.includes(0) : hash.kind !== 'argon2' || bytes.length > 0;
  return timingSafeEqual(actual, hash.key) && possible;
}

/**
 * Whether `password` matches a hash made by the Python app. Python hashed the password as typed (passlib and
 * Werkzeug do not normalise it), so it is checked as given first. When that fails and its NFKC form differs, that
 * form is checked too: the layer's scrypt compares NFKC forms, so this accepts no password that the account will not
 * accept after its rehash, and a user whose device now sends decomposed accents is not locked out before it. The
 * price: a wrong password that NFKC changes costs two hashes.
 */
export async function legacyHashMatches(password: string, hash: LegacyHash): Promise<boolean> {
  if (await matchesAsGiven(password, hash)) return true;
  const normalized = password.normalize('NFKC');
  return normalized !== password && matchesAsGiven(normalized, hash);
}
