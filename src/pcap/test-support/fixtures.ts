/** Test fixtures for packets and captures, built independently of the code under test. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Bytes from hex with spaces. */
export function h(hex: string): number[] {
  return hex.replace(/\s+/g, '').match(/../g)!.map((x) => parseInt(x, 16));
}

const ETH = (type: string) => h(`02 00 00 00 00 02  02 00 00 00 00 01 ${type}`);

/** A set of frames covering the layers, each with what tshark must say about it. */
export const FRAMES: { name: string; bytes: number[] }[] = [
  {
    name: 'ipv4-udp',
    bytes: [...ETH('08 00'), ...h('45 00 00 24 12 34 40 00 40 11 00 00 c6 12 00 01 c6 12 00 02'), ...h('9c 40 23 28 00 10 ab cd'), ...h('de ad be ef 01 02 03 04')],
  },
  {
    name: 'ipv4-tcp-syn',
    bytes: [...ETH('08 00'), ...h('45 10 00 28 00 01 00 00 3f 06 00 00 c6 12 00 01 c6 12 00 02'), ...h('c3 50 00 50 00 00 00 64 00 00 00 00 50 02 fa f0 00 00 00 00')],
  },
  {
    name: 'vlan-ipv4-icmp',
    bytes: [...ETH('81 00'), ...h('20 64 08 00'), ...h('45 00 00 1c 00 02 00 00 40 01 00 00 c6 12 00 01 c6 12 00 02'), ...h('08 00 f7 ff 00 00 00 00')],
  },
  {
    name: 'ipv6-hbh-udp',
    bytes: [
      ...ETH('86 dd'),
      ...h('60 0a bc de 00 18 00 40 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02'),
      ...h('11 00 01 04 00 00 00 00'),
      ...h('00 35 00 35 00 10 00 00 01 02 03 04 05 06 07 08'),
    ],
  },
  {
    name: 'ipv6-icmpv6',
    bytes: [...ETH('86 dd'), ...h('60 00 00 00 00 08 3a ff fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01 ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 01'), ...h('87 00 12 34 00 00 00 00')],
  },
  {
    name: 'arp',
    bytes: [...ETH('08 06'), ...h('00 01 08 00 06 04 00 01 02 00 00 00 00 01 c6 12 00 01 00 00 00 00 00 00 c6 12 00 02')],
  },
];

/** A text2pcap input: one frame per block of "offset hex..." lines. */
export function text2pcapInput(frames: number[][]): string {
  let s = '';
  frames.forEach((f) => {
    for (let o = 0; o < f.length; o += 16) {
      s += `${o.toString(16).padStart(6, '0')} ${f.slice(o, o + 16).map((b) => b.toString(16).padStart(2, '0')).join(' ')}\n`;
    }
  });
  return s;
}

export function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'bpfpipe-pcap-'));
}

/** Run text2pcap on frames; returns the capture bytes. */
export function text2pcap(frames: number[][], pcapng: boolean): Uint8Array {
  const dir = tmpdir();
  try {
    fs.writeFileSync(path.join(dir, 'in.txt'), text2pcapInput(frames));
    const out = path.join(dir, pcapng ? 'out.pcapng' : 'out.pcap');
    execFileSync('text2pcap', ['-F', pcapng ? 'pcapng' : 'pcap', '-q', path.join(dir, 'in.txt'), out], { stdio: 'ignore' });
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** tshark's reading of each frame: epoch time (ns), length on the wire, captured length. */
export function tsharkFrames(file: string): { ns: bigint; len: number; cap: number }[] {
  return execFileSync('tshark', ['-r', file, '-n', '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [epoch, len, cap] = l.split('\t');
      const [sec, frac = ''] = epoch!.split('.');
      return { ns: BigInt(sec!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9)), len: Number(len), cap: Number(cap) };
    });
}

/** tshark's JSON dissection of a capture file. */
export function tshark(file: string, extra: string[] = []): { _source: { layers: Record<string, unknown> } }[] {
  return JSON.parse(execFileSync('tshark', ['-r', file, '-T', 'json', '-n', ...extra], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString());
}
