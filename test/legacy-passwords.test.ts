// The Python app's password hashes, made by the real tools (passlib; Werkzeug's formats through hashlib, as
// Werkzeug computes them), checked by the layer and replaced by its scrypt on login.
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { eq } from 'drizzle-orm';
import { argon2id } from 'hash-wasm';
import { closeDb, createDb, type Db } from '../src/db.js';
import { InvalidCredentialsError, rehashPassword, verifyPassword } from '../src/queries/index.js';
import { hashPassword, passwordMatches } from '../src/queries/password.js';
import { upgrade } from '../src/runner.js';
import { users } from '../src/schema/index.js';

const MIGRATIONS = join(import.meta.dirname, '..', 'drizzle');
const PYTHON_PACKAGES = 'Debian packages python3-passlib and python3-bcrypt (apt-get install -y python3-passlib python3-bcrypt)';

/**
 * The first python3 that imports passlib and bcrypt, or undefined. `python3` on PATH may be another build than
 * Debian's (pyenv, a venv) without them, so Debian's own interpreter is tried too.
 */
function findPython(): { command: string; hasArgon2: boolean } | undefined {
  for (const command of [process.env.PYTHON, 'python3', '/usr/bin/python3']) {
    if (!command) continue;
    try {
      execFileSync(command, ['-c', 'import passlib.hash, bcrypt'], { stdio: 'ignore' });
    } catch {
      continue;
    }
    let hasArgon2 = true;
    try {
      execFileSync(command, ['-c', 'import argon2'], { stdio: 'ignore' });
    } catch {
      hasArgon2 = false;
    }
    return { command, hasArgon2 };
  }
  return undefined;
}

const python = findPython();
const skip = python ? false : `SKIPPED: no python3 with passlib and bcrypt, so no legacy hash can be made; install the ${PYTHON_PACKAGES}`;

/** What to hash: a scheme and its options, and the password (any Unicode; Python gets it as UTF-8 JSON). */
type HashRequest =
  | { scheme: 'bcrypt'; password: string; ident?: '2a' | '2b' | '2y'; rounds?: number }
  | { scheme: 'pbkdf2_sha256'; password: string }
  | { scheme: 'argon2'; password: string; type?: 'ID' | 'I' }
  | { scheme: 'werkzeug_pbkdf2'; password: string }
  | { scheme: 'werkzeug_scrypt'; password: string };

// Werkzeug is not needed: its hashes are these strings (werkzeug.security._hash_internal, gen_salt(16)).
const PYTHON_HASHER = `
import hashlib, json, secrets, string, sys
from passlib.hash import argon2, bcrypt, pbkdf2_sha256

def salt():
    return ''.join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))

def make(r):
    pw, scheme = r['password'], r['scheme']
    if scheme == 'bcrypt':
        return bcrypt.using(ident=r.get('ident', '2b'), rounds=r.get('rounds', 12)).hash(pw)
    if scheme == 'pbkdf2_sha256':
        return pbkdf2_sha256.hash(pw)
    if scheme == 'argon2':
        return argon2.using(type=r.get('type', 'ID')).hash(pw)
    if scheme == 'werkzeug_pbkdf2':
        s = salt()
        return 'pbkdf2:sha256:600000$%s$%s' % (s, hashlib.pbkdf2_hmac('sha256', pw.encode(), s.encode(), 600000).hex())
    if scheme == 'werkzeug_scrypt':
        s = salt()
        key = hashlib.scrypt(pw.encode(), salt=s.encode(), n=32768, r=8, p=1, maxmem=132 * 32768 * 8 * 1, dklen=64)
        return 'scrypt:32768:8:1$%s$%s' % (s, key.hex())
    raise ValueError(scheme)

print(json.dumps([make(r) for r in json.load(sys.stdin)]))
`;

/**
 * The hashes for `requests`, made by passlib and hashlib in one python3 run. argon2 in passlib needs argon2_cffi
 * (Debian's python3-argon2); without it, argon2 hashes are made by hash-wasm's argon2id with passlib's default
 * parameters (m=102400 KiB, t=2, p=8, 16-byte salt and tag) in passlib's string format.
 */
async function legacyHashes(requests: HashRequest[]): Promise<string[]> {
  assert.ok(python);
  const viaPython = requests.filter((r) => r.scheme !== 'argon2' || python.hasArgon2);
  const out = execFileSync(python.command, ['-c', PYTHON_HASHER], { input: JSON.stringify(viaPython), encoding: 'utf8' });
  const made = JSON.parse(out) as string[];
  return Promise.all(
    requests.map(async (r) => {
      if (r.scheme !== 'argon2' || python.hasArgon2) return made.shift()!;
      assert.notEqual(r.type, 'I', 'argon2i hashes need python3-argon2');
      const salt = randomBytes(16);
      const encoded = await argon2id({ password: r.password, salt, iterations: 2, parallelism: 8, memorySize: 102400, hashLength: 16, outputType: 'encoded' });
      return encoded.replace(/=+(?=\$|$)/g, ''); // passlib writes base64 without padding
    }),
  );
}

const PASSWORD = 'pässwörd ✓ 密码 🔑';
const WRONG = 'pässwörd ✓ 密码 🔒';

describe('legacy password hashes', { skip }, () => {
  // Each format, with the prefix its tool writes (checked, so that the test really covers the brief's formats).
  const formats: { name: string; request: HashRequest; prefix: RegExp }[] = [
    { name: 'passlib bcrypt', request: { scheme: 'bcrypt', password: PASSWORD }, prefix: /^\$2b\$12\$/ },
    { name: 'passlib bcrypt 2a', request: { scheme: 'bcrypt', password: PASSWORD, ident: '2a', rounds: 5 }, prefix: /^\$2a\$05\$/ },
    { name: 'passlib bcrypt 2y', request: { scheme: 'bcrypt', password: PASSWORD, ident: '2y', rounds: 5 }, prefix: /^\$2y\$05\$/ },
    { name: 'passlib pbkdf2_sha256', request: { scheme: 'pbkdf2_sha256', password: PASSWORD }, prefix: /^\$pbkdf2-sha256\$29000\$/ },
    { name: 'passlib argon2', request: { scheme: 'argon2', password: PASSWORD }, prefix: /^\$argon2id\$v=19\$m=102400,t=2,p=8\$/ },
    ...(python?.hasArgon2
      ? [{ name: 'passlib argon2i', request: { scheme: 'argon2', password: PASSWORD, type: 'I' } as const, prefix: /^\$argon2i\$v=19\$/ }]
      : []),
    { name: 'werkzeug pbkdf2', request: { scheme: 'werkzeug_pbkdf2', password: PASSWORD }, prefix: /^pbkdf2:sha256:600000\$[A-Za-z0-9]{16}\$[0-9a-f]{64}$/ },
    { name: 'werkzeug scrypt', request: { scheme: 'werkzeug_scrypt', password: PASSWORD }, prefix: /^scrypt:32768:8:1\$[A-Za-z0-9]{16}\$[0-9a-f]{128}$/ },
  ];
  const hashes = new Map<string, string>();

  before(async () => {
    const made = await legacyHashes(formats.map((f) => f.request));
    formats.forEach((f, i) => hashes.set(f.name, made[i]!));
  });

  describe('passwordMatches', () => {
    it('accepts the right non-ASCII password and refuses a wrong one, in every format', async (t) => {
      if (!python?.hasArgon2) t.diagnostic('argon2 hashes made by hash-wasm with passlib defaults: python3-argon2 is not installed');
      for (const { name, prefix } of formats) {
        const hash = hashes.get(name)!;
        assert.match(hash, prefix, name);
        assert.equal(await passwordMatches(PASSWORD, hash), true, `${name}: ${hash}`);
        assert.equal(await passwordMatches(WRONG, hash), false, `${name} with a wrong password`);
        assert.equal(await passwordMatches('', hash), false, `${name} with an empty password`);
      }
    });

    it('follows passlib for bcrypt: the first 72 bytes count, an empty password works, a NUL byte never matches', async () => {
      const long = 'ü'.repeat(40); // 80 bytes in UTF-8
      const [longHash, emptyHash] = await legacyHashes([
        { scheme: 'bcrypt', password: long, rounds: 4 },
        { scheme: 'bcrypt', password: '', rounds: 4 },
      ]);
      assert.equal(await passwordMatches(long, longHash!), true);
      assert.equal(await passwordMatches('ü'.repeat(36) + 'xyz', longHash!), true, 'passlib ignores bytes past 72');
      assert.equal(await passwordMatches('ü'.repeat(35), longHash!), false);
      assert.equal(await passwordMatches('', emptyHash!), true);
      for (const nul of ['\0', '\0\0\0']) assert.equal(await passwordMatches(nul, emptyHash!), false, 'passlib never hashes a NUL');
    });

    it('checks the password as typed, then its NFKC form', async () => {
      const [composed, decomposed] = await legacyHashes([
        { scheme: 'pbkdf2_sha256', password: 'caf\u00e9' },
        { scheme: 'pbkdf2_sha256', password: 'cafe\u0301' },
      ]);
      assert.equal(await passwordMatches('caf\u00e9', composed!), true);
      assert.equal(await passwordMatches('cafe\u0301', composed!), true, 'decomposed input, NFKC form matches');
      assert.equal(await passwordMatches('cafe\u0301', decomposed!), true, 'as typed: Python did not normalise');
    });

    it('never matches a damaged hash or one whose cost is out of bounds', async () => {
      const bcrypt = hashes.get('passlib bcrypt')!;
      const pbkdf2 = hashes.get('passlib pbkdf2_sha256')!;
      const argon2 = hashes.get('passlib argon2')!;
      const werkzeug = hashes.get('werkzeug pbkdf2')!;
      const damaged = [
        bcrypt.slice(0, -1),
        bcrypt.replace(/^\$2b\$12/, '$2b$31'), // days of work
        bcrypt.replace(/^\$2b/, '$2x'), // crypt_blowfish's buggy variant: passlib does not write it
        pbkdf2.replace('$29000$', '$0$'),
        pbkdf2.slice(0, -2),
        argon2.replace('v=19', 'v=16'),
        argon2.replace(/m=\d+/, 'm=4194304'), // 4 GiB
        werkzeug.replace('600000', '99999999999'),
        werkzeug.replace('sha256', 'md5'),
        werkzeug.toUpperCase(),
        'scrypt:32768:8:1$salt$' + 'ab'.repeat(64), // right shape, wrong key
        'scrypt:30000:8:1$salt$' + 'ab'.repeat(64), // N not a power of two
        '',
        '$',
        'plain text password',
      ];
      for (const hash of damaged) assert.equal(await passwordMatches(PASSWORD, hash), false, hash);
    });
  });

  describe('verifyPassword on an account the Python app left', () => {
    let dir: string;
    let db: Db;
    let file: string;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'legacy-passwords-'));
      file = join(dir, 'bot.db');
      await upgrade({ url: `file:${file}`, migrationsFolder: MIGRATIONS });
      db = await createDb(`file:${file}`);
    });

    afterEach(async () => {
      closeDb(db);
      await rm(dir, { recursive: true, force: true });
    });

    /** A user as the adoption leaves it: email and the Python app's hash, written by another connection. */
    function insertLegacyUser(email: string, hash: string): number {
      const other = new Database(file);
      try {
        return Number(other.prepare('INSERT INTO users (email, password_hash) VALUES (?, ?)').run(email, hash).lastInsertRowid);
      } finally {
        other.close();
      }
    }

    const storedHash = async (id: number) => (await db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, id)).get())?.hash;

    // @libsql/client leaves a statement that returned rows in progress (tursodatabase/libsql-client-ts#352): until
    // it is reset, the connection may not see what another connection wrote since. So each test here writes through
    // the second connection before the layer's first query, as the adoption does before the bot starts.

    it('logs in, replaces the hash with scrypt, and the same password still logs in', async () => {
      const accounts = [...hashes].map(([name, hash]) => {
        const email = `${name.replace(/\W/g, '-')}@example.com`;
        return { name, hash, email, id: insertLegacyUser(email, hash) };
      });
      for (const { name, hash, email, id } of accounts) {
        await assert.rejects(verifyPassword(db, email, WRONG), InvalidCredentialsError, name);
        assert.equal(await storedHash(id), hash, `${name}: a failed login changes nothing`);

        const user = await verifyPassword(db, email, PASSWORD);
        assert.equal(user.id, id);
        assert.ok(!('passwordHash' in user));
        const replaced = await storedHash(id);
        assert.match(replaced ?? '', /^scrypt\$32768\$8\$3\$/, name);

        assert.equal((await verifyPassword(db, email, PASSWORD)).id, id, `${name}: again, on scrypt`);
        assert.equal(await storedHash(id), replaced, 'a current hash is not replaced again');
        await assert.rejects(verifyPassword(db, email, WRONG), InvalidCredentialsError);
      }
    });

    it('after the rehash of a long bcrypt password, the whole password is needed', async () => {
      const long = 'x'.repeat(72) + ' and more';
      const [hash] = await legacyHashes([{ scheme: 'bcrypt', password: long, rounds: 4 }]);
      insertLegacyUser('long@example.com', hash!);
      await verifyPassword(db, 'long@example.com', 'x'.repeat(72)); // as passlib: the first 72 bytes
      await assert.rejects(verifyPassword(db, 'long@example.com', long), InvalidCredentialsError);
      await verifyPassword(db, 'long@example.com', 'x'.repeat(72)); // the rehash took the password that was typed
    });

    it('does not overwrite a password changed between the check and the rehash', async () => {
      const hash = hashes.get('passlib pbkdf2_sha256')!;
      const id = insertLegacyUser('ann@example.com', hash);
      const bob = insertLegacyUser('bob@example.com', hash);
      // The steps of verifyPassword, with another connection changing the password between them.
      assert.equal(await passwordMatches(PASSWORD, hash), true);
      const changedHash = await hashPassword('changed password');
      const other = new Database(file);
      other.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(changedHash, id);
      other.close();

      assert.equal(await rehashPassword(db, id, hash, PASSWORD), false);
      assert.equal(await storedHash(id), changedHash);
      await assert.rejects(verifyPassword(db, 'ann@example.com', PASSWORD), InvalidCredentialsError);
      await verifyPassword(db, 'ann@example.com', 'changed password');

      // Unchanged, the same step replaces it.
      assert.equal(await rehashPassword(db, bob, hash, PASSWORD), true);
      assert.match((await storedHash(bob)) ?? '', /^scrypt\$/);
    });

    it('still logs in when the rehash changes no row', async () => {
      const hash = hashes.get('passlib bcrypt 2y')!;
      const id = insertLegacyUser('kept@example.com', hash);
      const gone = insertLegacyUser('gone@example.com', hash);
      // Another connection's trigger makes every change of the hash a no-op (RAISE(IGNORE) skips the row), as a
      // concurrent change would: the conditional UPDATE then returns no row. And an account deleted meanwhile.
      const other = new Database(file);
      other.exec('CREATE TRIGGER keep_hash BEFORE UPDATE OF password_hash ON users BEGIN SELECT RAISE(IGNORE); END');
      other.prepare('DELETE FROM users WHERE id = ?').run(gone);
      other.close();
      assert.equal((await verifyPassword(db, 'kept@example.com', PASSWORD)).id, id);
      assert.equal(await storedHash(id), hash);
      assert.equal(await rehashPassword(db, id, hash, PASSWORD), false);
      assert.equal(await rehashPassword(db, gone, hash, PASSWORD), false);
    });
  });
});

// A skipped suite is not counted in the runner's summary: one skipped test is, so the run says "skipped 1".
if (!python) it('makes and checks legacy hashes with passlib', { skip }, () => {});

after(() => {
  if (!python) console.error(`legacy-passwords.test.ts: ${skip}`);
});
