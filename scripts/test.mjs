#!/usr/bin/env node
// Runs the test suite with node:test: unit tests (src/**/*.test.ts) and a fast fuzz sample (test/fuzz),
// neither needing root, then kernel and
// CLI tests (test/kernel, test/cli: root, each in its own network namespace). Kernel and CLI tests run
// one file at a time: they share the machine's bpffs and tc.
//   node scripts/test.mjs            everything
//   node scripts/test.mjs --unit     unit tests only
//   node scripts/test.mjs FILE...    these files
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sweepLeftovers } from './test-leftovers.mjs';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);

function find(dir, out = []) {
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names.sort()) {
    const p = join(dir, n);
    if (n === 'node_modules' || n.startsWith('.')) continue;
    if (statSync(p).isDirectory()) find(p, out);
    else if (n.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const files = args.filter((a) => !a.startsWith('--'));
const groups = files.length
  ? [{ name: 'selected', files, concurrency: 1 }]
  : [
      { name: 'unit', files: find('src'), concurrency: 2 },
      { name: 'fuzz sample', files: find('test/fuzz'), concurrency: 1 },
      ...(unitOnly ? [] : [
        { name: 'kernel', files: find('test/kernel'), concurrency: 1 },
        { name: 'cli', files: find('test/cli'), concurrency: 1 },
        // Sinks: real nats-server, prometheus and headless Chromium, started by the tests on 127.0.0.1.
        { name: 'sinks', files: find('test/sinks'), concurrency: 1 },
      ]),
    ];

if (!unitOnly && !files.length && process.getuid?.() !== 0) {
  console.error('test: kernel and CLI tests need root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN); run as root, or use --unit');
  process.exit(2);
}

if (!unitOnly && process.getuid?.() === 0) {
  const r = spawnSync('bash', [join(root, 'scripts/ensure-tools.sh')], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('test: could not install the tools the kernel tests need (see above)');
    process.exit(1);
  }
}

// Pins and namespaces of earlier test processes killed before their cleanup (not of live ones).
const sweep = (when) => {
  if (unitOnly || process.getuid?.() !== 0) return;
  const removed = sweepLeftovers();
  if (removed.length) console.log(`test: removed ${removed.length} leftovers of killed test processes ${when}: ${removed.join(', ')}`);
};
sweep('(an earlier run)');

let failed = false;
for (const g of groups) {
  if (g.files.length === 0) continue;
  const started = Date.now();
  console.log(`\n== ${g.name} tests (${g.files.length} files)`);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${g.concurrency}`, '--test-reporter=spec', ...g.files],
    { stdio: 'inherit', env: { ...process.env, BPFPIPE_TEST: '1' } },
  );
  console.log(`== ${g.name}: ${r.status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (r.status !== 0) failed = true;
  sweep(`(${g.name} tests)`);
}
process.exit(failed ? 1 : 0);
