/**
 * bpfpipe run --userspace: the interface's frames (an AF_PACKET socket, CAP_NET_RAW) run through the
 * object's program in the userspace runtime; nothing is loaded into or attached to the kernel.
 */
import { PacketSocket, PACKET_OUTGOING, ifaceIndex, UsageError, type ObjectSpec } from '../../index.js';
import { Session } from '../session.js';
import { runUserspace, type UserspaceFlags } from '../userspace.js';
import type { Direction } from '../../index.js';

export interface RunUserspaceFlags extends UserspaceFlags {
  iface: string;
  attach: string;
  pin?: string;
  pages?: number;
}

export async function runOnInterfaceInUserspace(spec: ObjectSpec, flags: RunUserspaceFlags, dir: Direction): Promise<void> {
  if (flags.pin) throw new UsageError('--pin pins kernel maps; the userspace runtime has none (drop --pin or --userspace)');
  if (flags.attach !== 'auto') throw new UsageError('--attach chooses how to attach in the kernel; --userspace attaches nothing');
  const ifindex = ifaceIndex(flags.iface);
  const session = new Session();
  try {
    const sock = session.own('packet socket', new PacketSocket(ifindex, flags.iface), (s) => s.close());
    const wantOutgoing = dir === 'egress';
    await runUserspace(spec, flags, {
      ifindex,
      describe: `the frames of ${flags.iface} ${dir} (AF_PACKET)`,
      announce: true,
      stop: () => sock.close(),
      async *frames(stopped) {
        // The poller does not keep Node alive: this handle does, while frames are awaited.
        const alive = setInterval(() => {}, 1 << 30);
        try {
          while (!stopped()) {
            for (let f = sock.receive(); f; f = stopped() ? undefined : sock.receive()) {
              if ((f.pktType === PACKET_OUTGOING) === wantOutgoing) yield { data: f.data };
            }
            if (!stopped()) await sock.readable();
          }
        } finally {
          clearInterval(alive);
        }
      },
    }, session);
  } finally {
    await session.close();
  }
}
