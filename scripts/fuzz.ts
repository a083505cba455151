/**
 * The long fuzz run (`npm run fuzz [-- --runs N]`, default 100,000 cases per target) over the targets
 * in test/support/fuzz-targets.ts. Prints one JSON line per target and exits 1 on the first
 * counterexample (fast-check shrinks it). FUZZ_SEED fixes the seed; FUZZ_TARGET=substring selects.
 */
import fc from 'fast-check';
import { targets } from '../test/support/fuzz-targets.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 100_000;
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const only = process.env.FUZZ_TARGET;

let failed = false;
for (const t of targets) {
  if (only && !t.name.includes(only)) continue;
  const started = Date.now();
  const r = fc.check(t.property, { numRuns: runs, seed, interruptAfterTimeLimit: 15 * 60 * 1000 });
  const line = { target: t.name, cases: r.numRuns, failed: r.failed, seed, seconds: (Date.now() - started) / 1000 };
  console.log(JSON.stringify(line));
  if (r.failed) {
    failed = true;
    console.error(fc.defaultReportMessage(r));
  }
}
process.exit(failed ? 1 : 0);
