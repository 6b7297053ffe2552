import { MigrateError } from './errors.js';

/** What the resolver needs to know of a migration. */
export interface RevisionInfo {
  position: number;
  idx: number;
  tag: string;
}

/** `base` (before the first migration) is position -1. */
export const BASE = -1;

const MAX_LISTED = 12;

function list(tags: string[]): string {
  const shown = tags.slice(0, MAX_LISTED).join(', ');
  return tags.length > MAX_LISTED ? `${shown}, … (${tags.length} in all)` : shown;
}

/**
 * Resolves a revision name to a journal position: `head`, `base`, a journal index (`3`, `0003`),
 * a full tag (`0003_add_phone`) or a unique part of a tag (`add_phone`). Pure.
 */
export function resolveRevision(name: string, migrations: readonly RevisionInfo[]): number {
  const wanted = name.trim();
  if (wanted === '') throw new MigrateError('UNKNOWN_REVISION', 'empty revision name: name a revision, head or base');
  if (wanted === 'base') return BASE;
  if (wanted === 'head') return migrations.length - 1;

  if (/^\d+$/.test(wanted)) {
    const idx = Number(wanted);
    const byIdx = migrations.find((m) => m.idx === idx);
    if (byIdx) return byIdx.position;
  }

  const exact = migrations.find((m) => m.tag === wanted);
  if (exact) return exact.position;

  const partial = migrations.filter((m) => m.tag.includes(wanted));
  if (partial.length === 1) return partial[0]!.position;
  if (partial.length > 1) {
    throw new MigrateError('AMBIGUOUS_REVISION', `revision '${wanted}' is ambiguous: it matches ${list(partial.map((m) => m.tag))}`);
  }
  const known = migrations.length === 0 ? 'there are no migrations' : `known: ${list(migrations.map((m) => m.tag))}`;
  throw new MigrateError('UNKNOWN_REVISION', `unknown revision '${wanted}' (${known}; or head, base)`);
}

/** Name of a position for messages: the tag, or `base`. */
export function revisionLabel(position: number, migrations: readonly RevisionInfo[]): string {
  return position === BASE ? 'base' : migrations[position]?.tag ?? `#${position}`;
}
