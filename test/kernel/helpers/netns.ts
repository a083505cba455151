/**
 * Throwaway network namespaces for kernel tests. withNetns() creates two uniquely named namespaces
 * joined by a veth pair — `dev` (198.18.x.1/30) in `name`, `peerDev` (198.18.x.2/30) in `peerName` —
 * runs the test, and deletes both namespaces (and so the pair) in a finally, whatever happened,
 * together with any bpfpipe marker or link pin a failed test left for them. Nothing outside these
 * namespaces is touched.
 *
 * Commands run with `nsenter --net=…`: only the network namespace changes, so tools see the host's
 * bpffs (`ip netns exec` and `tc -n` would remount /sys and hide or drop pins).
 *
 *   await withNetns(async (ns) => {
 *     await ns.inside(async () => { await using a = await attachTc(prog, { iface: ns.dev, direction: 'ingress' }); ns.sendUdp(5); });
 *     ns.run('tc', ['-j', 'filter', 'show', 'dev', ns.dev, 'ingress']);
 *   });
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { enterNetns } from '../../../src/sys/index.js';
import { netnsKey } from '../../../src/sys/netns.js';
import { CLSACT_MARKER_DIR, LINK_PIN_DIR } from '../../../src/attach/index.js';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface TestNetns {
  /** Namespace holding `dev` (the interface under test) and its path under /run/netns. */
  readonly name: string;
  readonly path: string;
  /** Namespace holding the other end of the pair. */
  readonly peerName: string;
  readonly peerPath: string;
  readonly dev: string;
  readonly peerDev: string;
  readonly addr: string;
  readonly peerAddr: string;
  /** bpfpipe's key for `name` (its namespace cookie), as in clsact markers and tcx link pins. */
  readonly key: string;
  /** Run a command in `name` (network namespace only); throws with its stderr when it fails. */
  run(cmd: string, args: string[], input?: string): string;
  /** The same in `peerName`. */
  runPeer(cmd: string, args: string[], input?: string): string;
  /** Run in `name` without throwing. */
  tryRun(cmd: string, args: string[]): RunResult;
  /** Move this (JS) thread into `name` while `fn` runs; sync or async. */
  inside<T>(fn: () => T): T;
  /** Send `count` UDP datagrams to `port`, from the peer to `addr` (ingress of dev) or the reverse. */
  sendUdp(count: number, options?: { port?: number; from?: 'peer' | 'dev' }): void;
  /** Delete the veth pair now (both ends go). */
  deleteDev(): void;
}

let counter = 0;

function exec(args: string[], input?: string): RunResult {
  const r: SpawnSyncReturns<string> = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', input, timeout: 20_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function must(args: string[], input?: string): string {
  const r = exec(args, input);
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Unique names and a /30 in 198.18.0.0/15 for this process's n-th namespace pair. */
function allocate() {
  const n = ++counter;
  const id = `${process.pid.toString(36)}${n.toString(36)}`;
  const block = ((process.pid * 64 + n) % 32768) * 4;
  const ip = (host: number) => `198.${18 + (block >> 16)}.${(block >> 8) & 255}.${(block & 255) + host}`;
  // (bpt-PID-N, PID in base 36: scripts/test-leftovers.mjs finds those of killed test processes)
  const name = `bpt-${process.pid.toString(36)}-${n.toString(36)}`;
  return {
    name, peerName: `${name}-p`, dev: `bt${id}a`, peerDev: `bt${id}b`, addr: ip(1), peerAddr: ip(2),
  };
}

/** Create the namespaces and the pair; call destroy() when done (withNetns does both). */
export function createNetns(): TestNetns & { destroy(): void } {
  const a = allocate();
  const path = `/run/netns/${a.name}`;
  const peerPath = `/run/netns/${a.peerName}`;
  const inNs = (p: string, cmd: string, args: string[]) => ['nsenter', `--net=${p}`, cmd, ...args];
  let key = '';
  const destroy = () => {
    exec(['ip', '-n', a.name, 'link', 'del', a.dev]);
    exec(['ip', 'netns', 'del', a.name]);
    exec(['ip', 'netns', 'del', a.peerName]);
    if (key) removeBpfpipeState(key);
  };
  try {
    must(['ip', 'netns', 'add', a.name]);
    must(['ip', 'netns', 'add', a.peerName]);
    must(['ip', 'link', 'add', a.dev, 'netns', a.name, 'type', 'veth', 'peer', 'name', a.peerDev, 'netns', a.peerName]);
    for (const [ns, dev, addr] of [[a.name, a.dev, a.addr], [a.peerName, a.peerDev, a.peerAddr]] as const) {
      must(['ip', '-n', ns, 'addr', 'add', `${addr}/30`, 'dev', dev]);
      must(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const restore = enterNetns(path);
    try {
      key = netnsKey();
    } finally {
      restore();
    }
  } catch (err) {
    destroy();
    throw err;
  }
  const ns: TestNetns & { destroy(): void } = {
    ...a,
    key,
    path,
    peerPath,
    run: (cmd, args, input) => must(inNs(path, cmd, args), input),
    runPeer: (cmd, args, input) => must(inNs(peerPath, cmd, args), input),
    tryRun: (cmd, args) => exec(inNs(path, cmd, args)),
    inside<T>(fn: () => T): T {
      const restore = enterNetns(path);
      let result: T;
      try {
        result = fn();
      } catch (err) {
        restore();
        throw err;
      }
      if (result instanceof Promise) return result.finally(restore) as T;
      restore();
      return result;
    },
    sendUdp(count, options = {}) {
      const port = options.port ?? 9000;
      const [p, to] = options.from === 'dev' ? [path, a.peerAddr] : [peerPath, a.addr];
      // bash's /dev/udp: one datagram per redirection, no extra tools needed.
      must(inNs(p, 'bash', ['-c', `for i in $(seq ${count}); do echo "bpfpipe $i" > /dev/udp/${to}/${port}; done`]));
    },
    deleteDev() {
      must(['ip', '-n', a.name, 'link', 'del', a.dev]);
    },
    destroy,
  };
  return ns;
}

/** bpfpipe's markers and tcx link pins for the namespace with this key (a failed test may leave them). */
export function bpfpipeStateOf(key: string): string[] {
  const list = (dir: string) => {
    try {
      return fs.readdirSync(dir).map((n) => path.join(dir, n));
    } catch {
      return [];
    }
  };
  return [
    ...list(CLSACT_MARKER_DIR).filter((p) => path.basename(p).startsWith(`${key}-`)),
    ...list(LINK_PIN_DIR).filter((p) => path.basename(p).startsWith(`tcx-${key}-`)),
  ];
}

function removeBpfpipeState(key: string): void {
  for (const p of bpfpipeStateOf(key)) fs.rmSync(p, { force: true });
  for (const d of [CLSACT_MARKER_DIR, LINK_PIN_DIR, path.dirname(LINK_PIN_DIR)]) {
    try {
      fs.rmdirSync(d);
    } catch {
      /* not empty or absent */
    }
  }
}

/** Run `fn` with a fresh namespace pair; both namespaces are deleted afterwards, also on failure. */
export async function withNetns<T>(fn: (ns: TestNetns) => Promise<T> | T): Promise<T> {
  const ns = createNetns();
  try {
    return await fn(ns);
  } finally {
    ns.destroy();
  }
}
