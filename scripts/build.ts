// `npm run build [-- --out-dir <folder>]`: what a server runs, in dist/ (or the given folder).
//   1. tsc compiles src/ module by module: the app's query layer (db.js, queries/) and the runner as a library.
//   2. esbuild then replaces migrate.js, the runner's command line, with one bundle of the runner's own modules and
//      commander. Every command starts by loading its code, and resolving, reading and linking some fifty files was
//      most of the start-up of `current` (npm run bench, W2). Code only some commands load (making migrations,
//      checks, the libSQL driver) stays behind dynamic imports, in chunks of its own under cli-chunks/. Packages
//      with native addons or that production does not install (better-sqlite3, @libsql/client, drizzle-orm,
//      drizzle-kit) stay imports of node_modules.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: join(root, 'dist') } } });
const outDir = resolve(values['out-dir']);

rmSync(outDir, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

await build({
  absWorkingDir: root,
  entryPoints: { migrate: join(root, 'src', 'migrate.ts') },
  outdir: outDir,
  chunkNames: 'cli-chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', '@libsql/client', 'drizzle-orm', 'drizzle-orm/*', 'drizzle-kit', 'drizzle-kit/*'],
  // commander is CommonJS: inside an ES module bundle its require() calls need a require function.
  banner: { js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
