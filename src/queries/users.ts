import { randomBytes } from 'node:crypto';
import { and, asc, eq, getTableColumns, gt, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db.js';
import { users } from '../schema/index.js';
import { EmailTakenError, InvalidCredentialsError, InvalidResetTokenError } from './errors.js';
import { DUMMY_HASH, hashPassword, passwordMatches, sha256Hex } from './password.js';

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

/** The stored form of an email: trimmed and lower-cased, so `Ann@Example.com ` and `ann@example.com` are one account. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
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
  const user = await db
    .insert(users)
    .values({ email, passwordHash })
    .onConflictDoNothing({ target: users.email })
    .returning(publicColumns)
    .get();
  if (!user) throw new EmailTakenError(email);
  return user;
}

/** The user with this id, or undefined. */
export async function getUserById(db: DbOrTx, id: number): Promise<PublicUser | undefined> {
  return statements(db).byId.get({ id });
}

/** The user with this email (normalized first, so any case or spacing finds it), or undefined. */
export async function getUserByEmail(db: DbOrTx, email: string): Promise<PublicUser | undefined> {
  return statements(db).byEmail.get({ email: normalizeEmail(email) });
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
  const rows = await db
    .select(publicColumns)
    .from(users)
    .where(cursor === undefined ? undefined : gt(users.id, cursor))
    .orderBy(asc(users.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  return { users: page, nextCursor: rows.length > limit ? page[page.length - 1]?.id : undefined };
}

/**
 * Checks a login. An unknown email and a wrong password give the same error after the same work (one scrypt
 * each), so neither the answer nor its timing tells which emails have accounts.
 * @returns the user, without its hash.
 * @throws {InvalidCredentialsError} when the email is unknown or the password wrong.
 */
export async function verifyPassword(db: DbOrTx, email: string, password: string): Promise<PublicUser> {
  const row = await statements(db).credentialsByEmail.get({ email: normalizeEmail(email) });
  const matches = await passwordMatches(password, row?.passwordHash ?? DUMMY_HASH);
  if (!row || !matches) throw new InvalidCredentialsError();
  const { passwordHash: _hash, ...user } = row;
  return user;
}

/**
 * Records that the user proved they own their email. The first verification time is kept on repeated calls.
 * @returns the user, or undefined when there is no user with this id.
 */
export async function markEmailVerified(db: DbOrTx, userId: number): Promise<PublicUser | undefined> {
  const updated = await db
    .update(users)
    .set({ emailVerifiedAt: new Date() })
    .where(and(eq(users.id, userId), isNull(users.emailVerifiedAt)))
    .returning(publicColumns)
    .get();
  return updated ?? getUserById(db, userId);
}

/**
 * Starts a password reset: makes a random token (32 bytes, base64url) to send by mail and stores only its SHA-256
 * and its expiry (to the second: the column holds seconds). A new request replaces the previous token.
 * @param options.ttlMs how long the token stays valid, in milliseconds (default one hour).
 * @returns the token, or undefined for an unknown email — the caller should answer the same either way.
 * @throws {RangeError} when ttlMs is not a positive number.
 */
export async function requestPasswordReset(
  db: DbOrTx,
  email: string,
  options: { ttlMs?: number } = {},
): Promise<string | undefined> {
  const { ttlMs = DEFAULT_RESET_TTL_MS } = options;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number, not ${ttlMs}`);
  const token = randomBytes(32).toString('base64url');
  const updated = await db
    .update(users)
    .set({ passwordResetToken: sha256Hex(token), passwordResetExpires: new Date(Date.now() + ttlMs) })
    .where(eq(users.email, normalizeEmail(email)))
    .returning({ id: users.id })
    .get();
  return updated ? token : undefined;
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
  const found = await db.select({ id: users.id }).from(users).where(unexpiredToken(tokenHash)).get();
  if (!found) throw new InvalidResetTokenError();
  const passwordHash = await hashPassword(newPassword);
  // One UPDATE is one transaction in SQLite: the new hash and the cleared token are written together or not at
  // all. Its WHERE checks the token again, so when two requests race with one token only the first one matches.
  const user = await db
    .update(users)
    .set({ passwordHash, passwordResetToken: null, passwordResetExpires: null })
    .where(and(eq(users.id, found.id), unexpiredToken(tokenHash)))
    .returning(publicColumns)
    .get();
  if (!user) throw new InvalidResetTokenError();
  return user;
}

/**
 * Deletes a user. Their id is never reused (the table is AUTOINCREMENT).
 * @returns whether a user was deleted.
 */
export async function deleteUser(db: DbOrTx, userId: number): Promise<boolean> {
  const deleted = await db.delete(users).where(eq(users.id, userId)).returning({ id: users.id }).get();
  return deleted !== undefined;
}
