import { MigrateError } from '../engine/errors.js';

/**
 * True when the CLI runs compiled (`node dist/migrate.js`) rather than from the TypeScript sources through tsx.
 * The built runner ships without the models' sources and without drizzle-kit (a devDependency).
 */
export const RUNNING_COMPILED = import.meta.url.endsWith('.js');

/** Refuses, in one line, a command that needs the TypeScript models or drizzle-kit when running compiled. */
export function requireSourceCheckout(command: string): void {
  if (RUNNING_COMPILED) {
    throw new MigrateError(
      'SOURCE_ONLY',
      `'${command}' needs the TypeScript models and drizzle-kit, which the built runner does not include: run it from the source checkout with npm run db -- ${command}`,
    );
  }
}
