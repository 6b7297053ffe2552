import { spawnSync } from 'node:child_process';

/**
 * The python3 that imports every one of `modules` (Debian's packages live under /usr/bin/python3, which another
 * python3 on the PATH may shadow), or why there is none, naming the Debian packages that give them.
 */
export function findPython(modules: readonly string[], debianPackages: readonly string[]): { python: string } | { missing: string } {
  const tried: string[] = [];
  for (const python of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(python, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
    if (probe.status === 0) return { python };
    tried.push(python);
  }
  return { missing: `no python3 imports ${modules.join(', ')} (tried ${tried.join(', ')}): apt-get install ${debianPackages.join(' ')} (.ci/run installs them)` };
}
