// Alembic as a contender of `npm run bench` (bench/migrations.ts): the tool the app's users come from, run as they
// ran it (`python3 -m alembic upgrade head`), on the same SQL as the drizzle-kit history. Alembic comes from
// Debian's python3-alembic (PyPI is out of reach here): the first python3 that can import it is used.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A revision as the benchmark writes it: drizzle-kit's statements, up and down. */
export interface AlembicRevision {
  up: string[];
  down: string[];
}

/** The python3 that imports alembic, or why there is none. */
export function findAlembicPython(): { python: string; version: string } | { missing: string } {
  const tried: string[] = [];
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(python, ['-c', 'import alembic, sqlalchemy; print(alembic.__version__, sqlalchemy.__version__)'], { encoding: 'utf8' });
    if (probe.status === 0) {
      const [alembic, sqlalchemy] = probe.stdout.trim().split(' ');
      return { python, version: `Alembic ${alembic}, SQLAlchemy ${sqlalchemy}` };
    }
    tried.push(python);
  }
  return { missing: `no python3 that imports alembic (tried ${tried.join(', ')}): apt-get install python3-alembic` };
}

export const revisionId = (i: number) => `r${String(i).padStart(4, '0')}`;

/** The migration environment: the database URL comes with each command (`-x url=sqlite:////abs/file.db`). */
const ENV_PY = `from alembic import context
from sqlalchemy import create_engine

url = context.get_x_argument(as_dictionary=True)["url"]
with create_engine(url).connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
`;

/**
 * Writes an Alembic project (alembic.ini, env.py, one revision file per migration, each running the same statements
 * through op.execute) and returns the path of its alembic.ini.
 */
export function writeAlembicProject(dir: string, revisions: readonly AlembicRevision[]): string {
  const versions = join(dir, 'versions');
  mkdirSync(versions, { recursive: true });
  const ini = join(dir, 'alembic.ini');
  writeFileSync(ini, `[alembic]\nscript_location = ${dir}\n`);
  writeFileSync(join(dir, 'env.py'), ENV_PY);
  // A JSON string is a Python string literal: the SQL goes in as it is.
  const body = (statements: string[]) => (statements.length === 0 ? '    pass' : statements.map((s) => `    op.execute(${JSON.stringify(s)})`).join('\n'));
  revisions.forEach((revision, i) => {
    writeFileSync(
      join(versions, `${revisionId(i)}.py`),
      [
        'from alembic import op',
        '',
        `revision = ${JSON.stringify(revisionId(i))}`,
        `down_revision = ${i === 0 ? 'None' : JSON.stringify(revisionId(i - 1))}`,
        'branch_labels = None',
        'depends_on = None',
        '',
        '',
        'def upgrade():',
        body(revision.up),
        '',
        '',
        'def downgrade():',
        body(revision.down),
        '',
      ].join('\n'),
    );
  });
  return ini;
}

/** The arguments of an Alembic command on a database file. */
export function alembicArgs(ini: string, database: string, command: string[]): string[] {
  return ['-m', 'alembic', '-c', ini, '-x', `url=sqlite:///${database}`, ...command];
}
