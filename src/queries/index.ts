// The app's typed queries, one file per table; every function takes the database (or a transaction) first.
export * from './errors.js';
export * from './users.js';
