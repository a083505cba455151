/** Tests that ask V8 itself whether code stays optimised: a child process with V8's natives. */
import { execFileSync } from 'node:child_process';

/**
 * Run `script` (an ES module that may use %-natives and imports TypeScript through tsx) in a child
 * node with `--allow-natives-syntax` and `flags`, `args` after it; returns the JSON of its last line.
 */
export function runV8Child<T>(script: string, args: string[], flags: string[] = []): T {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', ...flags, '--import', 'tsx', '--input-type=module', '-e', script, ...args], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}
