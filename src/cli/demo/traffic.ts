/** The demo's traffic: UDP datagrams from namespace a to namespace b, spread over four ports (channels). */
import * as dgram from 'node:dgram';
import { enterNetns } from '../../index.js';

export interface Traffic {
  sent: number;
  stop(): void;
}

/** Send `rate` datagrams per second from `fromNs` to `to`:9000..9003, sizes 32..512 bytes. */
export async function startTraffic(fromNs: string, from: string, to: string, rate = 200): Promise<Traffic> {
  // A socket belongs to the network namespace it was created in: create it inside `fromNs`.
  const back = enterNetns(fromNs);
  let sock: dgram.Socket;
  try {
    sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: from, port: 40000 }, () => resolve());
    });
  } finally {
    back();
  }
  sock.on('error', () => {});
  const t: Traffic = {
    sent: 0,
    stop: () => {
      clearInterval(timer);
      sock.close();
    },
  };
  const payload = Buffer.alloc(512, 0x61);
  const tickMs = Math.max(20, Math.round(1000 / rate));
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const timer = setInterval(() => {
    for (let i = 0; i < perTick; i++) {
      const n = t.sent++;
      sock.send(payload, 0, 32 + ((n * 37) % 480), 9000 + (n % 4), to);
    }
  }, tickMs);
  return t;
}
