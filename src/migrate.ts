#!/usr/bin/env node
// The migration runner: `npx tsx src/migrate.ts <command>` (see `--help`).
import { runCli } from './cli/program.js';

process.exitCode = await runCli(process.argv.slice(2));
