import { sql } from 'drizzle-orm';
import { integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * The app's accounts: email + password login, email verification and password reset.
 * Timestamps are Drizzle `timestamp` mode integers (seconds since the epoch).
 */
export const users = sqliteTable('users', {
  // AUTOINCREMENT so that the id of a deleted account is never handed to a new one.
  id: integer('id').primaryKey({ autoIncrement: true }),
  email: text('email').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  emailVerifiedAt: integer('email_verified_at', { mode: 'timestamp' }),
  passwordResetToken: text('password_reset_token'),
  passwordResetExpires: integer('password_reset_expires', { mode: 'timestamp' }),
  createdAt: integer('created_at', { mode: 'timestamp' })
    .notNull()
    .default(sql`(unixepoch())`),
  updatedAt: integer('updated_at', { mode: 'timestamp' })
    .notNull()
    .default(sql`(unixepoch())`)
    .$onUpdate(() => new Date()),
}, (table) => [
  // A reset looks the user up by the token's hash; unique, and NULLs (no reset pending) do not collide.
  uniqueIndex('users_password_reset_token_unique').on(table.passwordResetToken),
]);

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
