/** Pins are access control: they stay inside bpffs, are created 0600 (or as asked), and symlinks cannot escape. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { loadObjectSync, BpfpipeError } from '../../src/index.js';
import { fdSnapshot, assertNoFdLeak, uniquePinDir, removeTree } from '../support/leaks.js';

const fds = fdSnapshot();
const made: string[] = [];
after(async () => {
  for (const p of made) removeTree(p);
  await assertNoFdLeak(fds, 'pin security tests');
});

const isPinError = (re: RegExp) => (e: unknown) => e instanceof BpfpipeError && e.code === 'EBPF_PIN' && re.test(e.message);

test("pin paths with '..' or relative paths are refused", () => {
  assert.throws(() => loadObjectSync('bpf/tc_events.bpf.o', { pinDir: '/sys/fs/bpf/../../tmp/x' }), isPinError(/contains '\.\.'/));
  assert.throws(() => loadObjectSync('bpf/tc_events.bpf.o', { pinDir: 'relative/dir' }), isPinError(/must be absolute/));
});

test('a symlink inside bpffs that points out of it is refused', () => {
  const outside = fs.mkdtempSync('/tmp/bpfpipe-escape-');
  const link = uniquePinDir('symlink');
  made.push(outside, link);
  fs.symlinkSync(outside, link);
  assert.throws(() => loadObjectSync('bpf/tc_events.bpf.o', { pinDir: link }), isPinError(/is not on bpffs \(resolves to \/tmp\//));
  assert.deepEqual(fs.readdirSync(outside), [], 'nothing was pinned through the link');
});

test('pins are 0600 by default and take the mode asked for', () => {
  for (const [mode, want] of [[undefined, 0o600], [0o640, 0o640]] as const) {
    const dir = uniquePinDir('mode');
    made.push(dir);
    const obj = loadObjectSync('bpf/tc_events.bpf.o', { pinDir: dir, pinMode: mode });
    try {
      for (const p of obj.createdPins) assert.equal(fs.statSync(p).mode & 0o777, want, p);
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700, 'directories bpfpipe creates are 0700');
    } finally {
      obj.close();
    }
  }
});
