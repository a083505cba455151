/**
 * The demo's network: two network namespaces joined by a veth pair (198.18.0.1/30 ↔ 198.18.0.2/30,
 * the benchmarking range), created with iproute2 and removed (namespaces and interfaces) by close().
 */
import { execFileSync } from 'node:child_process';
import { BpfpipeError } from '../../index.js';

export interface DemoNet {
  /** Namespace paths (/run/netns/NAME) of the sender (a) and the receiver (b). */
  a: string;
  b: string;
  ifaceA: string;
  ifaceB: string;
  addrA: string;
  addrB: string;
  close(): void;
}

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; code?: string };
    if (e.code === 'ENOENT') throw new BpfpipeError('EBPF_NOTSUP', 'the demo needs iproute2 (`ip`); install it with apt-get install -y iproute2');
    throw new BpfpipeError('EBPF_SYSCALL', `ip ${args.join(' ')} failed: ${e.stderr?.toString().trim() || String(err)}`);
  }
}

export function createDemoNet(): DemoNet {
  const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-3)}`;
  const nsA = `bpfpipe-demo-${tag}-a`;
  const nsB = `bpfpipe-demo-${tag}-b`;
  const ifaceA = `bpd${tag}a`.slice(0, 15);
  const ifaceB = `bpd${tag}b`.slice(0, 15);
  const created: string[] = [];
  const close = () => {
    for (const ns of created.splice(0).reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  };
  try {
    ip('netns', 'add', nsA);
    created.push(nsA);
    ip('netns', 'add', nsB);
    created.push(nsB);
    ip('link', 'add', ifaceA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifaceB, 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', '198.18.0.1/30', 'dev', ifaceA);
    ip('-n', nsB, 'addr', 'add', '198.18.0.2/30', 'dev', ifaceB);
    ip('-n', nsA, 'link', 'set', ifaceA, 'up');
    ip('-n', nsB, 'link', 'set', ifaceB, 'up');
    ip('-n', nsA, 'link', 'set', 'lo', 'up');
    ip('-n', nsB, 'link', 'set', 'lo', 'up');
  } catch (err) {
    close();
    throw err;
  }
  return { a: `/run/netns/${nsA}`, b: `/run/netns/${nsB}`, ifaceA, ifaceB, addrA: '198.18.0.1', addrB: '198.18.0.2', close };
}
