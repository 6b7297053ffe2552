// drizzle-orm's libSQL migrator over @libsql/client as an app calls it. Usage: node bench/contenders/drizzle-libsql.mjs <db file> <migrations folder>
import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';

const [file, migrationsFolder] = process.argv.slice(2);
const client = createClient({ url: `file:${file}` });
await migrate(drizzle(client), { migrationsFolder });
client.close();
