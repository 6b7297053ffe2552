import { randomBytes } from 'node:crypto';
import { and, asc, eq, getTableColumns, gt, isNull, sql, type Column } from 'drizzle-orm';
import type { DbOrTx } from '../db.js';
import { users } from '../schema/index.js';
import { DatabaseQueryError, EmailTakenError, InvalidCredentialsError, InvalidResetTokenError } from './errors.js';
import { DUMMY_HASH, hashPassword, needsRehash, passwordMatches, sha256Hex } from './password.js';

// Secrets stay in the database: every query here selects or returns these columns only.
const { passwordHash: _passwordHash, passwordResetToken: _passwordResetToken, ...publicColumns } = getTableColumns(users);

/** A user as the app sees it: every column but the password hash and the reset token's hash. */
export type PublicUser = Omit<typeof users.$inferSelect, 'passwordHash' | 'passwordResetToken'>;

/** What `createUser` takes: the schema's email and a plain-text password (hashed before it is stored). */
export type NewUserInput = Pick<typeof users.$inferInsert, 'email'> & { password: string };

/** One page of `listUsers`; pass `nextCursor` back as `cursor` for the next page (undefined on the last page). */
export interface UserPage {
  users: PublicUser[];
  nextCursor: PublicUser['id'] | undefined;
}

/** `listUsers`' page size when none is given. */
export const DEFAULT_PAGE_SIZE = 50;
/** The largest page `listUsers` returns. */
export const MAX_PAGE_SIZE = 1000;
const DEFAULT_RESET_TTL_MS = 60 * 60 * 1000;
/** The latest time a JavaScript Date holds (+275760-09-13): an expiry past it is an Invalid Date, stored as NaN. */
const LATEST_DATE_MS = 8.64e15;

/** Runs one query; a failure comes out as a DatabaseQueryError, whose message holds none of the query's parameters. */
async function inDatabase<T>(operation: string, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (error) {
    throw new DatabaseQueryError(operation, error);
  }
}

/** A time as the `timestamp` columns store it (what Drizzle writes for a Date): whole seconds since the epoch. */
const epochSeconds = (ms: number): number => Math.floor(ms / 1000);

// The hot paths, prepared once per database (or transaction) object: drizzle then skips building the SQL.
function prepareStatements(db: DbOrTx) {
  const byEmail = eq(users.email, sql.placeholder('email'));
  return {
    byId: db.select(publicColumns).from(users).where(eq(users.id, sql.placeholder('id'))).prepare(),
    byEmail: db.select(publicColumns).from(users).where(byEmail).prepare(),
    credentialsByEmail: db.select({ ...publicColumns, passwordHash: users.passwordHash }).from(users).where(byEmail).prepare(),
  };
}

const prepared = new WeakMap<DbOrTx, ReturnType<typeof prepareStatements>>();

function statements(db: DbOrTx): ReturnType<typeof prepareStatements> {
  let found = prepared.get(db);
  if (!found) prepared.set(db, (found = prepareStatements(db)));
  return found;
}

/**
 * The stored form of an email: Unicode NFC, trimmed and lower-cased, so `Ann@Example.com ` and `ann@example.com`
 * are one account, and so are `josé@x.com` typed with a composed é and with e + combining accent.
 */
export function normalizeEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase();
}

/**
 * Registers a user: the email is normalized, the password hashed with scrypt (salt and parameters stored with it).
 * @returns the new user, without its hash.
 * @throws {EmailTakenError} when an account has this email (in any case or spacing).
 * @throws {TypeError} when the email or the password is empty.
 */
export async function createUser(db: DbOrTx, input: NewUserInput): Promise<PublicUser> {
  const email = normalizeEmail(input.email);
  if (email === '') throw new TypeError('email must not be empty');
  if (input.password === '') throw new TypeError('password must not be empty');
  const passwordHash = await hashPassword(input.password);
  // No row back means the unique email index said no: no error text to parse, no race between check and insert.
  const user = await inDatabase('createUser', () =>
    db.insert(users).values({ email, passwordHash }).onConflictDoNothing({ target: users.email }).returning(publicColumns).get(),
  );
  if (!user) throw new EmailTakenError(email);
  return user;
}

/** The user with this id, or undefined. */
export async function getUserById(db: DbOrTx, id: number): Promise<PublicUser | undefined> {
  return inDatabase('getUserById', () => statements(db).byId.get({ id }));
}

/** The user with this email (normalized first, so any case or spacing finds it), or undefined. */
export async function getUserByEmail(db: DbOrTx, email: string): Promise<PublicUser | undefined> {
  return inDatabase('getUserByEmail', () => statements(db).byEmail.get({ email: normalizeEmail(email) }));
}

/**
 * Users in id order, a page at a time (keyset pagination: a page costs the same however deep it is, and rows
 * inserted or deleted meanwhile cause no duplicates or gaps).
 * @param options.limit page size, 1 to `MAX_PAGE_SIZE` (default `DEFAULT_PAGE_SIZE`).
 * @param options.cursor the previous page's `nextCursor`; omit for the first page.
 * @throws {RangeError} on a limit out of range or a cursor that is not an integer.
 */
export async function listUsers(db: DbOrTx, options: { limit?: number; cursor?: number } = {}): Promise<UserPage> {
  const { limit = DEFAULT_PAGE_SIZE, cursor } = options;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}, not ${limit}`);
  }
  if (cursor !== undefined && !Number.isSafeInteger(cursor)) throw new RangeError(`cursor must be an integer, not ${cursor}`);
  // One row more than asked tells whether another page follows, without a COUNT.
  const rows = await inDatabase('listUsers', () =>
    db
      .select(publicColumns)
      .from(users)
      .where(cursor === undefined ? undefined : gt(users.id, cursor))
      .orderBy(asc(users.id))
      .limit(limit + 1),
  );
  const page = rows.slice(0, limit);
  return { users: page, nextCursor: rows.length > limit ? page[page.length - 1]?.id : undefined };
}

/**
 * Checks a login. An unknown email and a wrong password give the same error after the same work (one scrypt
 * each), so neither the answer nor its timing tells which emails have accounts. (An account still holding a
 * hash of the Python app costs that hash's time instead, until its first login replaces it.)
 * A hash in a legacy format, or at an old scrypt cost, is replaced by today's scrypt on a successful login
 * (`rehashPassword`); the login succeeds whether or not that replacement still finds the old hash.
 * @returns the user, without its hash.
 * @throws {InvalidCredentialsError} when the email is unknown or the password wrong.
 */
export async function verifyPassword(db: DbOrTx, email: string, password: string): Promise<PublicUser> {
  const row = await inDatabase('verifyPassword', () => statements(db).credentialsByEmail.get({ email: normalizeEmail(email) }));
  const matches = await passwordMatches(password, row?.passwordHash ?? DUMMY_HASH);
  if (!row || !matches) throw new InvalidCredentialsError();
  const { passwordHash, ...user } = row;
  if (needsRehash(passwordHash)) await rehashPassword(db, user.id, passwordHash, password);
  return user;
}

/**
 * Replaces a user's password hash with `hashPassword(password)`, but only while the stored hash is still
 * `previousHash`: a password changed (reset) since `previousHash` was read is not overwritten. The caller has
 * checked `password` against `previousHash`. The new hash is computed before the UPDATE, so the slow scrypt does
 * not hold the database's write lock.
 * @returns whether the hash was replaced (false: the row changed meanwhile, or is gone).
 */
export async function rehashPassword(db: DbOrTx, userId: number, previousHash: string, password: string): Promise<boolean> {
  const passwordHash = await hashPassword(password);
  const updated = await inDatabase('rehashPassword', () =>
    db
      .update(users)
      .set({ passwordHash })
      .where(and(eq(users.id, userId), eq(users.passwordHash, previousHash)))
      .returning({ id: users.id })
      .get(),
  );
  return updated !== undefined;
}

/**
 * Records that the user proved they own their email. The first verification time is kept on repeated calls.
 * @returns the user, or undefined when there is no user with this id.
 */
export async function markEmailVerified(db: DbOrTx, userId: number): Promise<PublicUser | undefined> {
  const updated = await inDatabase('markEmailVerified', () =>
    db
      .update(users)
      .set({ emailVerifiedAt: new Date() })
      .where(and(eq(users.id, userId), isNull(users.emailVerifiedAt)))
      .returning(publicColumns)
      .get(),
  );
  return updated ?? getUserById(db, userId);
}

/**
 * Starts a password reset: makes a random token (32 bytes, base64url) to send by mail and stores only its SHA-256
 * and its expiry (to the second: the column holds seconds). A new request replaces the previous token.
 * A known and an unknown email cost the same work, so the timing does not tell which emails have accounts.
 * @param options.ttlMs how long the token stays valid, in milliseconds (default one hour).
 * @returns the token, or undefined for an unknown email — the caller should answer the same either way.
 * @throws {RangeError} when ttlMs is not a positive number, or puts the expiry past the latest time a Date holds.
 */
export async function requestPasswordReset(
  db: DbOrTx,
  email: string,
  options: { ttlMs?: number } = {},
): Promise<string | undefined> {
  const { ttlMs = DEFAULT_RESET_TTL_MS } = options;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number, not ${ttlMs}`);
  const now = Date.now();
  if (now + ttlMs > LATEST_DATE_MS) {
    throw new RangeError(
      `ttlMs must be at most ${LATEST_DATE_MS - now} now, not ${ttlMs}: the expiry cannot be stored past ` +
        `${new Date(LATEST_DATE_MS).toISOString()} (${LATEST_DATE_MS} ms since the epoch, the latest time a Date holds)`,
    );
  }
  const token = randomBytes(32).toString('base64url');
  const tokenHash = sha256Hex(token);
  // One UPDATE of one row whether the email is known or not, so both cost the same write: the user's row gets the
  // token; for an unknown email the lowest id's row is rewritten with its own values (no row at all: no account
  // to give away). An UPDATE that matched nothing took a third of the time and told which emails exist.
  const isTarget = sql`${users.email} = ${normalizeEmail(email)}`;
  const onTarget = (value: string | number, column: Column) =>
    sql`CASE WHEN ${isTarget} THEN ${value} ELSE ${column} END`;
  const updated = await inDatabase('requestPasswordReset', () =>
    db
      .update(users)
      .set({
        passwordResetToken: onTarget(tokenHash, users.passwordResetToken),
        passwordResetExpires: onTarget(epochSeconds(now + ttlMs), users.passwordResetExpires),
        updatedAt: onTarget(epochSeconds(now), users.updatedAt),
      })
      .where(eq(users.id, sql`coalesce((SELECT ${users.id} FROM ${users} WHERE ${isTarget}), (SELECT min(${users.id}) FROM ${users}))`))
      .returning({ isTarget: sql<number>`${isTarget}` })
      .get(),
  );
  return updated?.isTarget ? token : undefined;
}

/** The row a reset token (by its hash) still unlocks, checked against the clock at the time of the call. */
function unexpiredToken(tokenHash: string) {
  return and(eq(users.passwordResetToken, tokenHash), gt(users.passwordResetExpires, new Date()));
}

/**
 * Completes a password reset: sets the new password and clears the token, so the token works once.
 * @returns the user, without its hash.
 * @throws {InvalidResetTokenError} when the token is unknown, already used or expired.
 * @throws {TypeError} when the new password is empty.
 */
export async function resetPassword(db: DbOrTx, token: string, newPassword: string): Promise<PublicUser> {
  if (newPassword === '') throw new TypeError('password must not be empty');
  const tokenHash = sha256Hex(token);
  // Check first, so that a wrong token does not cost a scrypt; and hash before writing, so that the slow scrypt
  // does not hold the database's write lock.
  const found = await inDatabase('resetPassword', () => db.select({ id: users.id }).from(users).where(unexpiredToken(tokenHash)).get());
  if (!found) throw new InvalidResetTokenError();
  const passwordHash = await hashPassword(newPassword);
  // One UPDATE is one transaction in SQLite: the new hash and the cleared token are written together or not at
  // all. Its WHERE checks the token again, so when two requests race with one token only the first one matches.
  const user = await inDatabase('resetPassword', () =>
    db
      .update(users)
      .set({ passwordHash, passwordResetToken: null, passwordResetExpires: null })
      .where(and(eq(users.id, found.id), unexpiredToken(tokenHash)))
      .returning(publicColumns)
      .get(),
  );
  if (!user) throw new InvalidResetTokenError();
  return user;
}

/**
 * Deletes a user. Their id is never reused (the table is AUTOINCREMENT).
 * @returns whether a user was deleted.
 */
export async function deleteUser(db: DbOrTx, userId: number): Promise<boolean> {
  const deleted = await inDatabase('deleteUser', () => db.delete(users).where(eq(users.id, userId)).returning({ id: users.id }).get());
  return deleted !== undefined;
}
