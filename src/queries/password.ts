import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { legacyHashMatches, parseLegacyHash } from './legacy-hashes.js';

/**
 * scrypt cost for new hashes: N=2^15, r=8 (32 MiB), p=3 — one of OWASP's equivalent minimum settings, chosen
 * over N=2^17 for a quarter of the memory per concurrent login. The parameters are stored in every hash, so
 * raising them later leaves existing hashes verifiable.
 */
const COST = { N: 2 ** 15, r: 8, p: 3 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const PREFIX = 'scrypt';

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function derive(password: string, salt: Buffer, keyBytes: number, cost: Pick<ParsedHash, 'N' | 'r' | 'p'>): Promise<Buffer> {
  // Node refuses scrypt above 32 MiB by default; N=2^15 with r=8 needs exactly that plus a little.
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r };
  // NFKC: the same password typed on two keyboards (composed or decomposed accents) gives the same hash.
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyBytes, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function format({ N, r, p, salt, key }: ParsedHash): string {
  return [PREFIX, N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** `scrypt$N$r$p$salt$hash` back to its parts, or undefined for anything else (another format, a damaged value). */
function parse(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const key = Buffer.from(parts[5] ?? '', 'base64url');
  const positive = (n: number | undefined): n is number => n !== undefined && Number.isSafeInteger(n) && n > 0;
  if (!positive(N) || !positive(r) || !positive(p) || salt.length === 0 || key.length === 0) return undefined;
  return { N, r, p, salt, key };
}

/** Hashes a password with a new random salt: `scrypt$N$r$p$salt$hash`, salt and hash in base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  return format({ ...COST, salt, key: await derive(password, salt, KEY_BYTES, COST) });
}

/**
 * Stands in for the hash of an unknown account, so that checking a password against it costs the same scrypt
 * as checking a real one. Its key is all zeros, which scrypt does not produce in practice: it never matches.
 */
export const DUMMY_HASH = format({ ...COST, salt: Buffer.alloc(SALT_BYTES), key: Buffer.alloc(KEY_BYTES) });

/**
 * Whether `password` matches a stored hash: one made by `hashPassword` (with any scrypt parameters), or one the
 * Python app made (passlib bcrypt, pbkdf2_sha256 and argon2; Werkzeug pbkdf2:sha256 and scrypt; see
 * legacy-hashes.ts). Comparisons take the same time wherever the first differing byte is. A value in no known
 * format, or damaged, never matches and still costs one scrypt of the layer's cost, so it is not told apart by
 * the time it takes.
 */
export async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) {
    const legacy = parseLegacyHash(stored);
    if (legacy) return legacyHashMatches(password, legacy);
  }
  const expected = parsed ?? parse(DUMMY_HASH)!;
  const actual = await derive(password, expected.salt, expected.key.length, expected);
  return timingSafeEqual(actual, expected.key) && parsed !== undefined;
}

/**
 * Whether a stored hash that just matched should be replaced by `hashPassword`'s: it is in a legacy format, or
 * the layer's scrypt at a cost other than today's.
 */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  return !parsed || parsed.N !== COST.N || parsed.r !== COST.r || parsed.p !== COST.p;
}

/** SHA-256 in hex: what is stored of a reset token. The token has 256 random bits, so no salt or slow hash is needed. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
