/** A fast sample of the fuzz targets (the long run is `npm run fuzz`): every parser of untrusted bytes. */
import { test } from 'node:test';
import fc from 'fast-check';
import { targets } from '../support/fuzz-targets.js';

const RUNS = Number(process.env.BPFPIPE_FUZZ_RUNS ?? 3000);

for (const t of targets) {
  test(`fuzz sample: ${t.name} (${RUNS} cases)`, () => {
    fc.assert(t.property, { numRuns: RUNS });
  });
}
