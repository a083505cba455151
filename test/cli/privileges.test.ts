/**
 * Without privileges, each command fails with one line naming what is missing, and exit code 2:
 * an unprivileged user, and root with single capabilities dropped (setpriv).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { withNetns, assertTcClean, BpffsGuard } from '../kernel/helpers/index.js';
import { CLI, ROOT } from './support.js';

const guard = new BpffsGuard([...['/sys/fs/bpf/tc', '/sys/fs/bpf/ip', '/sys/fs/bpf/xdp', '/sys/fs/bpf/bpfpipe']]);
after(() => assert.deepEqual(guard.restore(), [], 'bpffs entries left behind'));

function as(setpriv: string[], args: string[], netns?: string) {
  const cmd = [...(netns ? ['nsenter', `--net=${netns}`] : []), 'setpriv', ...setpriv, process.execPath, CLI, ...args];
  return spawnSync(cmd[0]!, cmd.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
}

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'];
const drop = (...caps: string[]) => ['--inh-caps=-all', `--bounding-set=${caps.map((c) => `-${c}`).join(',')}`];

const canRunAsNobody = (() => {
  const r = spawnSync('setpriv', [...NOBODY, process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(CLI)})`]);
  return r.status === 0;
})();

test('an unprivileged user: one line naming CAP_BPF, exit 2, nothing left', { skip: canRunAsNobody ? false : 'the checkout is not readable by user nobody' }, async () => {
  await withNetns(async (ns) => {
    const r = as(NOBODY, ['run', `${ROOT}/bpf/tc_events.bpf.o`, '--iface', ns.dev], ns.path);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /CAP_BPF/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assertTcClean(ns);
  });
});

test('listen as an unprivileged user on a root-only pin: permission named, exit 2', { skip: canRunAsNobody ? false : 'checkout not readable by nobody' }, async () => {
  const dir = `/sys/fs/bpf/bpfpipe-test-priv-${process.pid}`;
  const load = spawnSync(process.execPath, ['--import', 'tsx', '-e', `
    const { loadObjectSync } = await import('${ROOT}/src/index.ts');
    loadObjectSync('${ROOT}/bpf/tc_events.bpf.o', { pinDir: '${dir}', keepPins: true }).close();`], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(load.status, 0, load.stderr);
  try {
    const r = as(NOBODY, ['listen', `${dir}/events`]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /permission denied|not permitted/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const cases: { name: string; drop: string[]; needs: RegExp }[] = [
  { name: 'without CAP_BPF (and CAP_SYS_ADMIN)', drop: ['bpf', 'sys_admin'], needs: /CAP_BPF/ },
  { name: 'without CAP_NET_ADMIN (and CAP_SYS_ADMIN)', drop: ['net_admin', 'sys_admin'], needs: /CAP_NET_ADMIN/ },
  { name: 'without CAP_PERFMON (and CAP_SYS_ADMIN)', drop: ['perfmon', 'sys_admin'], needs: /CAP_PERFMON/ },
];

for (const c of cases) {
  test(`root ${c.name}: run fails with one line naming it, exit 2, nothing left`, async () => {
    await withNetns(async (ns) => {
      const r = as(drop(...c.drop), ['run', `${ROOT}/bpf/tc_events.bpf.o`, '--iface', ns.dev, '--count', '1'], ns.path);
      assert.equal(r.status, 2, `${r.status}: ${r.stderr}`);
      assert.match(r.stderr, c.needs);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assertTcClean(ns);
    });
  });
}

test('bpffs mounted read-only (a private mount namespace): one line saying so, exit 2, nothing left', async () => {
  await withNetns(async (ns) => {
    const script = `mount --make-rprivate / && mount -o remount,bind,ro /sys/fs/bpf && exec "$@"`;
    const r = spawnSync('nsenter', [`--net=${ns.path}`, 'unshare', '-m', 'sh', '-c', script, 'sh', process.execPath, CLI, 'run', `${ROOT}/bpf/tc_events.bpf.o`, '--iface', ns.dev, '--pin', '/sys/fs/bpf/bpfpipe-test-ro'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /bpffs is mounted read-only/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assertTcClean(ns);
    assert.equal(fs.existsSync('/sys/fs/bpf/bpfpipe-test-ro'), false);
  });
});
