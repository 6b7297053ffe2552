-- Down migration for 0001_password_reset_token_index: reverses 0001_password_reset_token_index.sql.
-- Generated from drizzle-kit's diff of 0001_snapshot.json back to the previous snapshot; review it like the up file.
DROP INDEX `users_password_reset_token_unique`;
