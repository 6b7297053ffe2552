import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, scryptSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asc, eq, sql, TransactionRollbackError } from 'drizzle-orm';
import { closeDb, createDb, type Db } from '../src/db.js';
import {
  DatabaseQueryError,
  EmailTakenError,
  InvalidCredentialsError,
  InvalidResetTokenError,
  QueryError,
  createUser,
  deleteUser,
  getUserByEmail,
  getUserById,
  listUsers,
  markEmailVerified,
  normalizeEmail,
  requestPasswordReset,
  resetPassword,
  verifyPassword,
  type PublicUser,
} from '../src/queries/index.js';
import { upgrade } from '../src/runner.js';
import { users } from '../src/schema/index.js';

const MIGRATIONS = join(import.meta.dirname, '..', 'drizzle');
const SECRET_KEYS = ['passwordHash', 'passwordResetToken'];

// A fresh database, migrated by the project's own runner, for every test.
let dir: string;
let db: Db;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'queries-users-'));
  const url = 'file:' + join(dir, 'bot.db');
  await upgrade({ url, migrationsFolder: MIGRATIONS });
  db = await createDb(url);
});

afterEach(async () => {
  closeDb(db);
  await rm(dir, { recursive: true, force: true });
});

/** The stored row, secrets included, read straight from the table. */
async function storedRow(id: number): Promise<typeof users.$inferSelect> {
  const row = await db.select().from(users).where(eq(users.id, id)).get();
  assert.ok(row, `user ${id} is stored`);
  return row;
}

function assertNoSecrets(user: PublicUser | undefined): void {
  assert.ok(user);
  for (const key of SECRET_KEYS) assert.equal(key in user, false, `${key} is returned`);
}

/** Inserts users straight into the table (one fake hash: scrypt is not what these tests are about). */
async function seedUsers(count: number): Promise<number[]> {
  const rows = Array.from({ length: count }, (_, i) => ({ email: `user${i}@example.com`, passwordHash: 'not-a-real-hash' }));
  const inserted = await db.insert(users).values(rows).returning({ id: users.id });
  return inserted.map((row) => row.id);
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

const COMPOSED = 'jos\u00e9@x.com';
const DECOMPOSED = 'jose\u0301@x.com';

describe('normalizeEmail', () => {
  it('trims and lower-cases', () => {
    assert.equal(normalizeEmail('  Ann.Lee@Example.COM \n'), 'ann.lee@example.com');
    assert.equal(normalizeEmail('bob@example.com'), 'bob@example.com');
  });

  it('composes accents (NFC), so both spellings of josé are one email', () => {
    assert.notEqual(COMPOSED, DECOMPOSED);
    assert.equal(normalizeEmail(DECOMPOSED), COMPOSED);
    assert.equal(normalizeEmail(' JOSE\u0301@X.com '), COMPOSED);
  });
});

describe('emails with accents', () => {
  it('are one account whether typed composed or decomposed', async () => {
    const jose = await createUser(db, { email: DECOMPOSED, password: 'pw' });
    assert.equal(jose.email, COMPOSED);
    assert.equal((await storedRow(jose.id)).email, COMPOSED);
    await assert.rejects(createUser(db, { email: COMPOSED, password: 'other' }), EmailTakenError);
    for (const email of [COMPOSED, DECOMPOSED]) {
      assert.equal((await getUserByEmail(db, email))?.id, jose.id, email);
      assert.equal((await verifyPassword(db, email, 'pw')).id, jose.id, email);
    }
    const token = await requestPasswordReset(db, COMPOSED);
    assert.ok(token);
    assert.equal((await storedRow(jose.id)).passwordResetToken, sha256(token));
    assert.equal((await db.select().from(users)).length, 1);
  });
});

describe('createUser', () => {
  it('stores the normalized email and a salted scrypt hash, and returns the user without secrets', async () => {
    const user = await createUser(db, { email: '  Ann@Example.COM ', password: 'correct horse' });
    assertNoSecrets(user);
    assert.equal(user.email, 'ann@example.com');
    assert.equal(typeof user.id, 'number');
    assert.equal(user.emailVerifiedAt, null);
    assert.equal(user.passwordResetExpires, null);
    assert.ok(user.createdAt instanceof Date && user.updatedAt instanceof Date);

    const row = await storedRow(user.id);
    assert.equal(row.email, 'ann@example.com');
    assert.match(row.passwordHash, /^scrypt\$32768\$8\$3\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.ok(!row.passwordHash.includes('correct horse'));

    // Same password, another salt: another hash.
    const other = await createUser(db, { email: 'bob@example.com', password: 'correct horse' });
    const otherRow = await storedRow(other.id);
    assert.notEqual(otherRow.passwordHash, row.passwordHash);
    assert.notEqual(otherRow.passwordHash.split('$')[4], row.passwordHash.split('$')[4]);
  });

  it('throws EmailTakenError for a taken email, in any case or spacing, and stores nothing', async () => {
    await createUser(db, { email: 'ann@example.com', password: 'first' });
    for (const email of ['ann@example.com', ' ANN@example.com ']) {
      await assert.rejects(createUser(db, { email, password: 'second' }), (error: unknown) => {
        assert.ok(error instanceof EmailTakenError);
        assert.ok(error instanceof QueryError);
        assert.equal(error.code, 'EMAIL_TAKEN');
        assert.equal(error.email, 'ann@example.com');
        assert.equal(error.name, 'EmailTakenError');
        return true;
      });
    }
    assert.equal((await db.select().from(users)).length, 1);
    await verifyPassword(db, 'ann@example.com', 'first'); // the first account is untouched
  });

  it('refuses an empty email or password', async () => {
    await assert.rejects(createUser(db, { email: '   ', password: 'pw' }), TypeError);
    await assert.rejects(createUser(db, { email: 'ann@example.com', password: '' }), TypeError);
    assert.equal((await db.select().from(users)).length, 0);
  });

  it('works inside a transaction, and rolls back with it', async () => {
    await db
      .transaction(async (tx) => {
        const user = await createUser(tx, { email: 'tx@example.com', password: 'pw' });
        assert.equal((await getUserById(tx, user.id))?.email, 'tx@example.com');
        tx.rollback();
      })
      .catch((error: unknown) => {
        if (!(error instanceof TransactionRollbackError)) throw error;
      });
    assert.equal(await getUserByEmail(db, 'tx@example.com'), undefined);
  });
});

describe('getUserById and getUserByEmail', () => {
  it('find a user without secrets, by id and by email in any case or spacing', async () => {
    const created = await createUser(db, { email: 'ann@example.com', password: 'pw' });
    await createUser(db, { email: 'bob@example.com', password: 'pw' });

    const byId = await getUserById(db, created.id);
    assertNoSecrets(byId);
    assert.deepEqual(byId, created);

    const byEmail = await getUserByEmail(db, ' ANN@Example.com ');
    assertNoSecrets(byEmail);
    assert.deepEqual(byEmail, created);
  });

  it('return undefined for an unknown id or email', async () => {
    await createUser(db, { email: 'ann@example.com', password: 'pw' });
    assert.equal(await getUserById(db, 999), undefined);
    assert.equal(await getUserByEmail(db, 'nobody@example.com'), undefined);
  });
});

describe('verifyPassword', () => {
  it('returns the user, without secrets, for the right password', async () => {
    const created = await createUser(db, { email: 'ann@example.com', password: 'pässword ①' });
    const user = await verifyPassword(db, 'Ann@Example.com', 'pässword ①');
    assertNoSecrets(user);
    assert.deepEqual(user, created);
  });

  it('accepts the same password typed with composed or decomposed accents (NFKC)', async () => {
    await createUser(db, { email: 'ann@example.com', password: 'caf\u00e9' });
    await verifyPassword(db, 'ann@example.com', 'cafe\u0301');
  });

  it('gives the same error for a wrong password, an unknown email and a hash it cannot read', async () => {
    const ann = await createUser(db, { email: 'ann@example.com', password: 'right' });
    const errors: unknown[] = [];
    const collect = (error: unknown): boolean => (errors.push(error), true);
    await assert.rejects(verifyPassword(db, 'ann@example.com', 'wrong'), collect);
    await assert.rejects(verifyPassword(db, 'ann@example.com', ''), collect);
    await assert.rejects(verifyPassword(db, 'ann@example.com', 'Right'), collect);
    await assert.rejects(verifyPassword(db, 'nobody@example.com', 'right'), collect);
    await db.update(users).set({ passwordHash: '$2b$12$somebcrypthashfromanotherapp' }).where(eq(users.id, ann.id));
    await assert.rejects(verifyPassword(db, 'ann@example.com', 'right'), collect);

    assert.equal(errors.length, 5);
    for (const error of errors) {
      assert.ok(error instanceof InvalidCredentialsError);
      assert.equal(error.code, 'INVALID_CREDENTIALS');
      assert.equal(error.message, 'invalid email or password');
    }
  });
});

describe('markEmailVerified', () => {
  it('sets the verification time, and keeps the first one on a second call', async () => {
    const created = await createUser(db, { email: 'ann@example.com', password: 'pw' });
    const before = Math.floor(Date.now() / 1000) * 1000;
    const verified = await markEmailVerified(db, created.id);
    assertNoSecrets(verified);
    assert.ok(verified?.emailVerifiedAt instanceof Date);
    assert.ok(verified.emailVerifiedAt.getTime() >= before && verified.emailVerifiedAt.getTime() <= Date.now());
    assert.deepEqual((await storedRow(created.id)).emailVerifiedAt, verified.emailVerifiedAt);

    const earlier = new Date('2024-01-02T03:04:05Z');
    await db.update(users).set({ emailVerifiedAt: earlier }).where(eq(users.id, created.id));
    const again = await markEmailVerified(db, created.id);
    assert.deepEqual(again?.emailVerifiedAt, earlier);
  });

  it('returns undefined for an unknown id', async () => {
    assert.equal(await markEmailVerified(db, 999), undefined);
  });
});

describe('listUsers', () => {
  async function collectPages(limit: number): Promise<{ ids: number[]; sizes: number[] }> {
    const ids: number[] = [];
    const sizes: number[] = [];
    let cursor: number | undefined;
    do {
      const page = await listUsers(db, { limit, cursor });
      page.users.forEach(assertNoSecrets);
      ids.push(...page.users.map((user) => user.id));
      sizes.push(page.users.length);
      cursor = page.nextCursor;
    } while (cursor !== undefined && sizes.length < 100);
    return { ids, sizes };
  }

  it('walks every user exactly once, in id order, across several pages', async () => {
    const seeded = await seedUsers(23);
    const { ids, sizes } = await collectPages(5);
    assert.deepEqual(sizes, [5, 5, 5, 5, 3]);
    assert.deepEqual(ids, seeded);
  });

  it('ends without an empty page when the count is a multiple of the limit', async () => {
    const seeded = await seedUsers(20);
    const { ids, sizes } = await collectPages(5);
    assert.deepEqual(sizes, [5, 5, 5, 5]);
    assert.deepEqual(ids, seeded);
  });

  it('has no duplicates or gaps when rows are deleted or added between pages', async () => {
    const seeded = await seedUsers(12);
    const first = await listUsers(db, { limit: 4 });
    assert.deepEqual(first.users.map((u) => u.id), seeded.slice(0, 4));
    // A row of the first page goes, a new one arrives: an OFFSET would now skip a row; the cursor does not.
    await deleteUser(db, seeded[0]!);
    const [added] = await seedUsers(1);
    const rest: number[] = [];
    for (let cursor = first.nextCursor; cursor !== undefined; ) {
      const page = await listUsers(db, { limit: 4, cursor });
      rest.push(...page.users.map((u) => u.id));
      cursor = page.nextCursor;
    }
    assert.deepEqual(rest, [...seeded.slice(4), added]);
  });

  it('uses the default page size, and returns an empty page for an empty table', async () => {
    assert.deepEqual(await listUsers(db), { users: [], nextCursor: undefined });
    const seeded = await seedUsers(51);
    const page = await listUsers(db);
    assert.equal(page.users.length, 50);
    assert.equal(page.nextCursor, seeded[49]);
  });

  it('refuses a limit out of range and a cursor that is not an integer', async () => {
    for (const limit of [0, -1, 1.5, 1001, Number.NaN]) {
      await assert.rejects(listUsers(db, { limit }), RangeError, `limit ${limit}`);
    }
    await assert.rejects(listUsers(db, { cursor: Number.NaN }), RangeError);
  });
});

describe('requestPasswordReset', () => {
  it('returns a 32-byte base64url token and stores only its SHA-256 and the expiry', async () => {
    const ann = await createUser(db, { email: 'ann@example.com', password: 'pw' });
    const ttlMs = 15 * 60 * 1000;
    const before = Date.now();
    const token = await requestPasswordReset(db, ' Ann@Example.com', { ttlMs });
    assert.ok(token !== undefined);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token, 'base64url').length, 32);

    const row = await storedRow(ann.id);
    assert.equal(row.passwordResetToken, sha256(token));
    assert.notEqual(row.passwordResetToken, token);
    const expires = row.passwordResetExpires?.getTime() ?? 0;
    // The column holds seconds: allow for the truncation.
    assert.ok(expires >= before + ttlMs - 1000 && expires <= Date.now() + ttlMs, `expiry ${expires}`);
    assert.equal((await getUserById(db, ann.id))?.passwordResetExpires?.getTime(), expires);
  });

  it('returns undefined for an unknown email and changes nothing', async () => {
    await createUser(db, { email: 'ann@example.com', password: 'pw' });
    const before = await db.select().from(users).orderBy(asc(users.id));
    assert.equal(await requestPasswordReset(db, 'nobody@example.com'), undefined);
    assert.deepEqual(await db.select().from(users).orderBy(asc(users.id)), before);
  });

  it('gives a new token each time; only the newest one works', async () => {
    await createUser(db, { email: 'ann@example.com', password: 'pw' });
    const first = await requestPasswordReset(db, 'ann@example.com');
    const second = await requestPasswordReset(db, 'ann@example.com');
    assert.ok(first && second && first !== second);
    await assert.rejects(resetPassword(db, first, 'new password'), InvalidResetTokenError);
    await resetPassword(db, second, 'new password');
  });

  it('refuses a ttlMs whose expiry cannot be stored, naming the limit, and stores nothing', async () => {
    const ann = await createUser(db, { email: 'ann@example.com', password: 'pw' });
    for (const ttlMs of [1e16, 8.64e15]) {
      await assert.rejects(requestPasswordReset(db, 'ann@example.com', { ttlMs }), (error: unknown) => {
        assert.ok(error instanceof RangeError);
        assert.match(error.message, /^ttlMs must be at most \d+ now, not /);
        assert.match(error.message, /\+275760-09-13T00:00:00\.000Z \(8640000000000000 ms since the epoch/);
        assert.ok(!error.message.includes('NaN'));
        return true;
      });
    }
    assert.equal((await storedRow(ann.id)).passwordResetToken, null);
    // Just inside the limit it works, and the expiry reads back.
    const ttlMs = 8.64e15 - Date.now() - 60_000;
    assert.ok(await requestPasswordReset(db, 'ann@example.com', { ttlMs }));
    assert.equal((await storedRow(ann.id)).passwordResetExpires?.getUTCFullYear(), 275760);
  });

  it('refuses a ttlMs that is not a positive number', async () => {
    await createUser(db, { email: 'ann@example.com', password: 'pw' });
    for (const ttlMs of [0, -1000, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(requestPasswordReset(db, 'ann@example.com', { ttlMs }), RangeError, `ttlMs ${ttlMs}`);
    }
    assert.equal((await db.select().from(users).get())?.passwordResetToken, null);
  });
});

describe('resetPassword', () => {
  function isInvalidToken(error: unknown): boolean {
    assert.ok(error instanceof InvalidResetTokenError);
    assert.equal(error.code, 'INVALID_RESET_TOKEN');
    return true;
  }

  it('sets the new password and clears the token', async () => {
    const ann = await createUser(db, { email: 'ann@example.com', password: 'old password' });
    const token = await requestPasswordReset(db, 'ann@example.com');
    assert.ok(token);

    const user = await resetPassword(db, token, 'new password');
    assertNoSecrets(user);
    assert.equal(user.id, ann.id);
    assert.equal(user.passwordResetExpires, null);

    const row = await storedRow(ann.id);
    assert.equal(row.passwordResetToken, null);
    assert.equal(row.passwordResetExpires, null);
    await assert.rejects(verifyPassword(db, 'ann@example.com', 'old password'), InvalidCredentialsError);
    assert.equal((await verifyPassword(db, 'ann@example.com', 'new password')).id, ann.id);
  });

  it('works once: a used token is refused', async () => {
    await createUser(db, { email: 'ann@example.com', password: 'old password' });
    const token = await requestPasswordReset(db, 'ann@example.com');
    assert.ok(token);
    await resetPassword(db, token, 'new password');
    await assert.rejects(resetPassword(db, token, 'attacker password'), isInvalidToken);
    await verifyPassword(db, 'ann@example.com', 'new password');
  });

  it('lets only one of two concurrent uses of a token through', async () => {
    await createUser(db, { email: 'ann@example.com', password: 'old password' });
    const token = await requestPasswordReset(db, 'ann@example.com');
    assert.ok(token);
    const results = await Promise.allSettled([resetPassword(db, token, 'first'), resetPassword(db, token, 'second')]);
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(fulfilled.length, 1);
    assert.equal(rejected.length, 1);
    isInvalidToken(rejected[0]?.reason);
    const winner = results[0]?.status === 'fulfilled' ? 'first' : 'second';
    await verifyPassword(db, 'ann@example.com', winner);
  });

  it('refuses an expired token and leaves the password alone', async () => {
    const ann = await createUser(db, { email: 'ann@example.com', password: 'old password' });
    const token = await requestPasswordReset(db, 'ann@example.com', { ttlMs: 60_000 });
    assert.ok(token);
    await db.update(users).set({ passwordResetExpires: new Date(Date.now() - 1000) }).where(eq(users.id, ann.id));
    await assert.rejects(resetPassword(db, token, 'new password'), isInvalidToken);
    await verifyPassword(db, 'ann@example.com', 'old password');
  });

  it('refuses an unknown token, and the stored hash used as a token', async () => {
    const ann = await createUser(db, { email: 'ann@example.com', password: 'old password' });
    assert.ok(await requestPasswordReset(db, 'ann@example.com'));
    const storedHash = (await storedRow(ann.id)).passwordResetToken;
    assert.ok(storedHash);
    for (const token of ['', 'not-a-token', storedHash]) {
      await assert.rejects(resetPassword(db, token, 'new password'), isInvalidToken);
    }
    await verifyPassword(db, 'ann@example.com', 'old password');
  });

  it('refuses an empty new password', async () => {
    await createUser(db, { email: 'ann@example.com', password: 'old password' });
    const token = await requestPasswordReset(db, 'ann@example.com');
    assert.ok(token);
    await assert.rejects(resetPassword(db, token, ''), TypeError);
    await resetPassword(db, token, 'new password'); // the token was not spent
  });
});

describe('errors', () => {
  /** Every message in an error's cause chain, and whether a link is drizzle's error (whose message lists the parameters). */
  function chain(error: unknown): { messages: string[]; hasParams: boolean } {
    const messages: string[] = [];
    let hasParams = false;
    for (let link = error, depth = 0; link !== undefined && link !== null && depth < 10; depth++) {
      messages.push(link instanceof Error ? `${link.name}: ${link.message}\n${link.stack ?? ''}` : String(link));
      hasParams ||= typeof link === 'object' && 'params' in link;
      link = link instanceof Error ? link.cause : undefined;
    }
    return { messages, hasParams };
  }

  /** A scrypt hash at an older cost than today's, so that a login rehashes it (the rehash's failure path). */
  function oldCostHash(password: string): string {
    const salt = randomBytes(16);
    const key = scryptSync(password.normalize('NFKC'), salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    return ['scrypt', 2 ** 14, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
  }

  it('carry no password, token or hash, on any failure path, database failures included', async () => {
    const password = 'ann secret password';
    const newPassword = 'the new secret password';
    const ann = await createUser(db, { email: 'ann@example.com', password });
    const token = await requestPasswordReset(db, 'ann@example.com');
    assert.ok(token);
    const legacyHash = oldCostHash(password);
    await db.update(users).set({ passwordHash: legacyHash }).where(eq(users.id, ann.id));
    const stored = await storedRow(ann.id);
    const secrets = [password, newPassword, token, sha256(token), legacyHash, stored.passwordResetToken!];

    const errors: { path: string; error: unknown }[] = [];
    async function collect(path: string, action: () => Promise<unknown>): Promise<void> {
      await assert.rejects(action(), (error: unknown) => (errors.push({ path, error }), true), path);
    }
    await collect('wrong password', () => verifyPassword(db, 'ann@example.com', newPassword));
    await collect('taken email', () => createUser(db, { email: 'ann@example.com', password: newPassword }));
    await collect('wrong token', () => resetPassword(db, token.slice(1), newPassword));
    await collect('empty new password', () => resetPassword(db, token, ''));
    await collect('ttl too large', () => requestPasswordReset(db, 'ann@example.com', { ttlMs: 1e16 }));
    // Now every write fails in the database, on the layer's own connection (no second connection to wait for).
    await db.run(sql.raw("CREATE TRIGGER no_insert BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'writes blocked by the test'); END"));
    await db.run(sql.raw("CREATE TRIGGER no_update BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'writes blocked by the test'); END"));
    await collect('insert fails', () => createUser(db, { email: 'bob@example.com', password: newPassword }));
    await collect('reset request fails', () => requestPasswordReset(db, 'ann@example.com'));
    await collect('reset fails', () => resetPassword(db, token, newPassword));
    await collect('rehash fails', () => verifyPassword(db, 'ann@example.com', password));

    assert.equal(errors.length, 9);
    for (const { path, error } of errors) {
      const { messages, hasParams } = chain(error);
      assert.equal(hasParams, false, `${path}: a query's parameters in the cause chain`);
      for (const text of messages) {
        for (const secret of secrets) assert.ok(!text.includes(secret), `${path}: ${JSON.stringify(secret)} in ${text}`);
        assert.doesNotMatch(text, /scrypt\$|[0-9a-f]{64}/, `${path}: a hash in ${text}`);
      }
    }
    const database = errors.filter(({ path }) => path.endsWith('fails')).map(({ error }) => error);
    for (const error of database) {
      assert.ok(error instanceof DatabaseQueryError);
      assert.equal(error.code, 'DATABASE');
      assert.match(error.message, /^\w+: database error: .*writes blocked by the test/);
      assert.ok(!error.message.includes('\n'));
    }
  });
});

describe('deleteUser', () => {
  it('deletes the user once, and the id is not reused', async () => {
    const ann = await createUser(db, { email: 'ann@example.com', password: 'pw' });
    const bob = await createUser(db, { email: 'bob@example.com', password: 'pw' });
    assert.equal(await deleteUser(db, bob.id), true);
    assert.equal(await getUserById(db, bob.id), undefined);
    assert.equal(await getUserByEmail(db, 'bob@example.com'), undefined);
    assert.equal(await deleteUser(db, bob.id), false);
    assert.equal((await getUserById(db, ann.id))?.email, 'ann@example.com');

    const carol = await createUser(db, { email: 'bob@example.com', password: 'pw' }); // the email is free again
    assert.ok(carol.id > bob.id);
  });

  it('returns false for an unknown id', async () => {
    assert.equal(await deleteUser(db, 999), false);
  });
});
