// drizzle-orm's better-sqlite3 migrator as an app calls it. Usage: node bench/contenders/drizzle-better-sqlite3.mjs <db file> <migrations folder>
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';

const [file, migrationsFolder] = process.argv.slice(2);
const sqlite = new Database(file);
migrate(drizzle(sqlite), { migrationsFolder });
sqlite.close();
