// Every table of the app. A new table goes in its own file and is exported here,
// which is what drizzle-kit reads (drizzle.config.ts) and what the query layer is typed by.
export * from './users.js';
