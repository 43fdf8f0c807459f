// Small C programs of the benches (load generators, a minimal client): compiled with the system's
// cc when the binary is missing or older than its source; or why that failed.
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, statSync } from 'node:fs';

export function compileC(source: string, binary: string): { binary: string } | { error: string } {
  try {
    if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
      const tmp = `${binary}.${process.pid}.tmp`; // renamed into place: a concurrent build never runs half a file
      execFileSync('cc', ['-O2', '-Wall', '-o', tmp, source], { stdio: ['ignore', 'ignore', 'pipe'] });
      renameSync(tmp, binary);
    }
    return { binary };
  } catch (err) {
    const e = err as Error & { stderr?: Buffer };
    return { error: `${e.message.split('\n')[0]}${e.stderr?.length ? `: ${e.stderr.toString().trim().slice(0, 500)}` : ''}` };
  }
}
