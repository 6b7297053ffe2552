import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asc, eq, TransactionRollbackError } from 'drizzle-orm';
import { closeDb, createDb, type Db } from '../src/db.js';
import {
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

describe('normalizeEmail', () => {
  it('trims and lower-cases', () => {
    assert.equal(normalizeEmail('  Ann.Lee@Example.COM \n'), 'ann.lee@example.com');
    assert.equal(normalizeEmail('bob@example.com'), 'bob@example.com');
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
