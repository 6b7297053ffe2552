-- Down migration for 0000_initial_migration: reverses 0000_initial_migration.sql.
-- Generated from drizzle-kit's diff of 0000_snapshot.json back to the previous snapshot; review it like the up file.
-- data-loss: drops table users and every row in it
DROP TABLE `users`;
