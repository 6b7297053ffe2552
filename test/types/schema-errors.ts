// Type-level test, checked by `tsc --noEmit` (tsconfig includes test/) and never run.
// Each `@ts-expect-error <name>` marks a line that must not compile: if a schema change makes it compile, the
// directive is unused and tsc fails. test/queries-types.test.ts checks that each of these lines fails for the
// reason named after the directive, not for another one (a typo would satisfy a bare @ts-expect-error too).
import { eq } from 'drizzle-orm';
import type { Db } from '../../src/db.js';
import { getUserByEmail, type PublicUser } from '../../src/queries/index.js';
import { users } from '../../src/schema/index.js';

export async function schemaErrors(db: Db): Promise<unknown[]> {
  return [
    // Selecting, filtering and ordering by a column the schema does not have.
    // @ts-expect-error phone
    await db.select({ phone: users.phone }).from(users),
    // @ts-expect-error phone
    await db.select().from(users).where(eq(users.phone, '+3312345678')),
    // @ts-expect-error phone
    await db.select().from(users).orderBy(users.phone),
    // @ts-expect-error phone
    await db.query.users.findFirst({ columns: { phone: true } }),
    // @ts-expect-error phone
    await db.query.users.findFirst({ where: (u, { eq }) => eq(u.phone, '+3312345678') }),

    // Writing a field the schema does not have, or leaving out a required one.
    // @ts-expect-error phone
    await db.insert(users).values({ email: 'a@example.com', passwordHash: 'h', phone: '+3312345678' }),
    // @ts-expect-error phone
    await db.update(users).set({ phone: '+3312345678' }),
    // @ts-expect-error passwordHash
    await db.insert(users).values({ email: 'a@example.com' }),
    // A value of the wrong type for a column.
    // @ts-expect-error emailVerifiedAt
    await db.update(users).set({ emailVerifiedAt: 'yesterday' }),
  ];
}

export async function publicUserHasNoSecrets(db: Db): Promise<unknown[]> {
  const user: PublicUser | undefined = await getUserByEmail(db, 'a@example.com');
  return [
    user?.email,
    // @ts-expect-error passwordHash
    user?.passwordHash,
    // @ts-expect-error passwordResetToken
    user?.passwordResetToken,
  ];
}
