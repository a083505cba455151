/**
 * Faults while running: the network namespace or the interface goes away under `bpfpipe run`, and a
 * pin is removed while `bpfpipe listen` reads from it. Each ends cleanly on SIGINT, exit 0, nothing left.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { withNetns, BpffsGuard } from '../kernel/helpers/index.js';
import { cli, startCli, waitAttached, ROOT, type RunningCli } from './support.js';

const guard = new BpffsGuard();
after(() => assert.deepEqual(guard.restore(), [], 'bpffs entries left behind'));
const OBJ = `${ROOT}/bpf/tc_events.bpf.o`;

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(run: RunningCli): Promise<void> {
  const t0 = Date.now();
  run.child.kill('SIGINT');
  assert.equal(await run.exitWithin(5000), 0, run.stderr());
  assert.ok(Date.now() - t0 < 1000);
  assert.match(run.stderr(), /received \d+, lost 0/);
}

for (const mode of ['tcx', 'clsact']) {
  test(`run (${mode}): the interface is deleted while attached`, async () => {
    await withNetns(async (ns) => {
      const run = startCli(['run', OBJ, '--iface', ns.dev, '--attach', mode, '--format', 'none'], { netns: ns.path });
      await waitAttached(ns, run);
      await new Promise((r) => setTimeout(r, 300));
      ns.deleteDev();
      await new Promise((r) => setTimeout(r, 200));
      await stop(run);
      assert.equal(fs.existsSync('/sys/fs/bpf/tc/globals/events'), false);
    });
  });

  test(`run (${mode}): its network namespace is deleted while attached`, async () => {
    await withNetns(async (ns) => {
      const run = startCli(['run', OBJ, '--iface', ns.dev, '--attach', mode, '--format', 'none'], { netns: ns.path });
      await waitAttached(ns, run);
      await new Promise((r) => setTimeout(r, 300));
      execFileSync('ip', ['netns', 'del', ns.name]); // the process still lives in it
      await stop(run);
      assert.equal(fs.existsSync('/sys/fs/bpf/tc/globals/events'), false);
    });
  });
}

test('listen keeps reading when its pin is removed, and ends cleanly', async () => {
  const pin = `/sys/fs/bpf/bpfpipe-test-unpin-${process.pid}`;
  await withNetns(async (ns) => {
    try {
      assert.equal(cli(['attach', OBJ, '--iface', ns.dev, '--pin', pin], { netns: ns.path }).status, 0);
      const listen = startCli(['listen', `${pin}/events`, '--format', 'json'], { netns: ns.path });
      await new Promise((r) => setTimeout(r, 700));
      fs.unlinkSync(`${pin}/events`);
      ns.sendUdp(5, { port: 9000, from: 'peer' });
      await until(() => listen.stdout().split('\n').filter(Boolean).length >= 5, 'events after the unpin');
      await stop(listen);
      assert.equal(cli(['detach', '--iface', ns.dev], { netns: ns.path }).status, 0);
    } finally {
      // (also when an assertion failed: the attachment's record would show up in later tests' lists)
      cli(['detach', '--iface', ns.dev], { netns: ns.path });
      fs.rmSync(pin, { recursive: true, force: true });
    }
  });
});
