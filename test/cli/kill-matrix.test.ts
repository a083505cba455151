/**
 * The kill matrix: `bpfpipe run` and `bpfpipe attach`, in tcx and clsact mode, ended by SIGINT,
 * SIGTERM, an injected error (run: writes to /dev/full fail; attach: its program pin already exists),
 * and SIGKILL followed by `bpfpipe detach` — ROUNDS rounds each. After every round: no qdisc, filter,
 * link, pin or marker of bpfpipe, and a foreign filter (added with tc) and its qdisc untouched.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { withNetns, BpffsGuard, bpfpipeStateOf, type TestNetns } from '../kernel/helpers/index.js';
import { cli, startCli, waitAttached, ROOT } from './support.js';

const ROUNDS = Number(process.env.BPFPIPE_KILL_ROUNDS ?? 20);
const OBJ = `${ROOT}/bpf/tc_events.bpf.o`;
const guard = new BpffsGuard();
after(() => assert.deepEqual(guard.restore(), [], 'bpffs entries left behind'));

/** The foreign filter (classic BPF bytecode, "accept all") on egress, with tc's own clsact. */
function addForeign(ns: TestNetns): string {
  ns.run('tc', ['qdisc', 'add', 'dev', ns.dev, 'clsact']);
  ns.run('tc', ['filter', 'add', 'dev', ns.dev, 'egress', 'pref', '7', 'bpf', 'bytecode', '1,6 0 0 4294967295,', 'flowid', '1:1']);
  return ns.run('tc', ['filter', 'show', 'dev', ns.dev, 'egress']);
}

function assertOnlyForeign(ns: TestNetns, foreign: string, what: string): void {
  assert.equal(ns.run('tc', ['filter', 'show', 'dev', ns.dev, 'egress']), foreign, `${what}: foreign filter`);
  assert.equal(ns.run('tc', ['filter', 'show', 'dev', ns.dev, 'ingress']), '', `${what}: ingress filters`);
  assert.match(ns.run('tc', ['qdisc', 'show', 'dev', ns.dev]), /clsact/, `${what}: the foreign clsact stays`);
  const ifindex = (JSON.parse(ns.run('ip', ['-j', 'link', 'show', 'dev', ns.dev])) as { ifindex: number }[])[0]!.ifindex;
  const links = JSON.parse(ns.tryRun('bpftool', ['-j', 'link', 'show']).stdout || '[]') as { type: string; ifindex?: number }[];
  assert.deepEqual(links.filter((l) => l.type === 'tcx' && l.ifindex === ifindex), [], `${what}: tcx links`);
  assert.deepEqual(bpfpipeStateOf(ns.key), [], `${what}: bpfpipe markers or link pins`);
  assert.equal(fs.existsSync('/sys/fs/bpf/tc/globals/events'), false, `${what}: pins`);
}


const endings = ['SIGINT', 'SIGTERM', 'error', 'SIGKILL'] as const;

for (const mode of ['tcx', 'clsact'] as const) {
  test(`run --attach ${mode}: ${ROUNDS} rounds of each ending`, async () => {
    await withNetns(async (ns) => {
      const foreign = addForeign(ns);
      for (let round = 0; round < ROUNDS; round++) {
        for (const end of endings) {
          const what = `run ${mode} ${end} round ${round}`;
          const out = end === 'error' ? '/dev/full' : '/dev/null';
          const run = startCli(['run', OBJ, '--iface', ns.dev, '--attach', mode, '--output', out], { netns: ns.path });
          if (end === 'error') {
            // Stray traffic in the namespace (neighbour discovery) can bring the first event, and so the
            // failed write, before the attachment is seen: that run has ended as it should already.
            const endedEarly = await waitAttached(ns, run).then(
              () => false,
              (e: unknown) => {
                if (run.child.exitCode !== null && /ENOSPC|no space/i.test(run.stderr())) return true;
                throw e;
              },
            );
            if (!endedEarly) ns.sendUdp(5, { from: 'peer' });
            // One batch of events, then no more traffic: the failed write alone must end the run.
            assert.equal(await run.exitWithin(5000), 1, `${what}: ${run.stderr()}`);
            assert.match(run.stderr(), /ENOSPC|no space/i, what);
          } else if (end === 'SIGKILL') {
            await waitAttached(ns, run);
            run.child.kill('SIGKILL');
            await run.exited;
            const d = cli(['detach', '--iface', ns.dev], { netns: ns.path });
            assert.equal(d.status, 0, `${what}: ${d.stderr}`);
          } else {
            await waitAttached(ns, run);
            run.child.kill(end);
            assert.equal(await run.exitWithin(2000), 0, `${what}: exit within 1 s of ${end} (2 s allowed for a loaded machine): ${run.stderr()}`);
          }
          assertOnlyForeign(ns, foreign, what);
        }
      }
    });
  });

  test(`attach --attach ${mode}: ${ROUNDS} rounds of attach + detach, killed attach, failing attach`, async () => {
    const pin = `/sys/fs/bpf/bpfpipe-test-km-${process.pid}`;
    await withNetns(async (ns) => {
      const foreign = addForeign(ns);
      for (let round = 0; round < ROUNDS; round++) {
        const what = `attach ${mode} round ${round}`;
        // Normal: attach, then detach.
        const a = cli(['attach', OBJ, '--iface', ns.dev, '--attach', mode, '--pin', pin], { netns: ns.path });
        assert.equal(a.status, 0, `${what}: ${a.stderr}`);
        // Injected error: a second attach into the same pin directory finds the program pin taken; it
        // must fail at once and leave the first attachment and its pins alone.
        const before = fs.readdirSync(pin).sort();
        const b = cli(['attach', OBJ, '--iface', ns.dev, '--attach', mode, '--pin', pin], { netns: ns.path });
        assert.equal(b.status, 2, `${what} (second attach): ${b.stderr}`);
        assert.match(b.stderr, /already pinned; detach first/);
        assert.deepEqual(fs.readdirSync(pin).sort(), before, `${what}: the first attachment's pins are intact`);
        // Killed while attaching: then detach cleans up everything.
        const k = startCli(['attach', OBJ, '--iface', ns.dev, '--attach', mode, '--pin', `${pin}-k`], { netns: ns.path });
        k.child.kill(round % 2 ? 'SIGTERM' : 'SIGKILL');
        await k.exited;
        const d = cli(['detach', '--iface', ns.dev], { netns: ns.path });
        assert.equal(d.status, 0, `${what}: ${d.stderr}`);
        for (const p of [pin, `${pin}-k`]) assert.equal(fs.existsSync(p), false, `${what}: ${p} removed by detach`);
        assertOnlyForeign(ns, foreign, what);
      }
    });
  });
}
