// SQLite's own backup of a database file, alone: `VACUUM INTO` or better-sqlite3's online backup API (what the runner uses).
// backup API. Prints {"ms": <time of the copy itself, without process start-up>} on stdout.
// Usage: node bench/contenders/sqlite-backup.mjs <db file> <target file> <vacuum-into|backup-api>
import Database from 'better-sqlite3';

const [file, target, method] = process.argv.slice(2);
const db = new Database(file, { fileMustExist: true });
const started = performance.now();
if (method === 'vacuum-into') db.exec(`VACUUM INTO '${target.replace(/'/g, "''")}'`);
else if (method === 'backup-api') await db.backup(target, { progress: () => 1 << 30 });
else throw new Error(`unknown method ${method}`);
const ms = performance.now() - started;
db.close();
console.log(JSON.stringify({ ms }));
