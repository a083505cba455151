/**
 * Fuzz targets: property-based mutation of every parser that reads untrusted bytes. Each case must
 * end in a result or in the parser's typed error — never another exception, a hang, or a result
 * larger than its input. Used by the long run (`npm run fuzz`, scripts/fuzz.ts) and by a fast sample
 * in the test suite (test/fuzz/sample.test.ts).
 */
import * as fs from 'node:fs';
import fc from 'fast-check';
import { ObjectSpec } from '../../src/object/object-spec.js';
import { BpfpipeError } from '../../src/errors.js';
import { parsePerfRecords, linearize } from '../../src/ring/perf-records.js';
import { scanRingbuf, copyRingbuf, parseRingbufRecords } from '../../src/ring/ringbuf-records.js';
import { NetlinkStreamDecoder, decodeFilter, decodeQdisc, decodeAck } from '../../src/netlink/index.js';
import { readCapture } from '../../src/pcap/index.js';
import { decodePacket } from '../../src/decode/packet.js';
import { rawProgramArb, rawOutcome, disassemble, encode } from './fuzz-programs.js';

function typed(codes: string[]) {
  return (e: unknown) => {
    if (e instanceof BpfpipeError && codes.includes(e.code)) return;
    throw e;
  };
}

const objects = fs.readdirSync('bpf').filter((f) => f.endsWith('.o')).map((f) => new Uint8Array(fs.readFileSync(`bpf/${f}`)));
const captures = fs.readdirSync('src/pcap/testdata').filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => new Uint8Array(fs.readFileSync(`src/pcap/testdata/${f}`)));
const netlinkReplies = (() => {
  const dir = 'src/netlink/testdata';
  const out: Uint8Array[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const j = JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8')) as unknown;
    const walk = (v: unknown) => {
      if (typeof v === 'string' && /^[0-9a-f]{32,}$/.test(v)) out.push(Uint8Array.from(v.match(/../g)!.map((x) => parseInt(x, 16))));
      else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
    };
    walk(j);
  }
  return out;
})();

/** A mutation of one of `seeds`: bit flips, byte sets, a truncation, an insertion. */
function mutated(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.option(fc.uint8Array({ maxLength: 16 }), { nil: undefined }),
    )
    .map(([i, edits, cut, insert]) => {
      let b = seeds[i]!.slice();
      for (const [at, v] of edits) b[at % b.byteLength] = v;
      if (insert) {
        const at = (edits[0]?.[0] ?? 0) % b.byteLength;
        b = new Uint8Array([...b.subarray(0, at), ...insert, ...b.subarray(at)]);
      }
      if (cut !== undefined) b = b.subarray(0, cut % (b.byteLength + 1));
      return b;
    });
}

// ---- runtime: random well-formed eBPF programs, interpreter vs compiled ----

export const targets: { name: string; property: fc.IProperty<never> | fc.IPropertyWithHooks<never> }[] = [
  {
    name: 'ELF/BTF/object parser',
    property: fc.property(mutated(objects), (b) => {
      try {
        const spec = ObjectSpec.parse(b);
        for (const p of spec.programs) if (p.instructions.byteLength > b.byteLength * 8) throw new Error('instructions larger than the input');
      } catch (e) {
        typed(['EBPF_BAD_OBJECT', 'EBPF_NOTSUP'])(e);
      }
    }) as never,
  },
  {
    name: 'perf ring records',
    property: fc.property(fc.uint8Array({ minLength: 0, maxLength: 512 }), fc.nat(4096), (ring, tail) => {
      const size = 256;
      const r = new Uint8Array(size);
      r.set(ring.subarray(0, size));
      try {
        const head = tail + (ring.byteLength % (size + 1));
        parsePerfRecords(linearize(r, tail, head), tail % 2 === 0, {
          sample: (_ts, d) => {
            if (d.byteLength > size) throw new Error('sample larger than the ring');
          },
          lost: () => {},
        });
      } catch (e) {
        typed(['EBPF_BAD_INPUT'])(e);
      }
    }) as never,
  },
  {
    name: 'ring buffer records',
    property: fc.property(fc.uint8Array({ minLength: 8, maxLength: 512 }), fc.nat(1 << 20), fc.nat(512), (bytes, cons, span) => {
      const size = 256;
      const data = new Uint8Array(size);
      data.set(bytes.subarray(0, size));
      const dv = new DataView(data.buffer);
      try {
        const s = scanRingbuf(cons, cons + span, size - 1, (o) => (o + 4 <= size ? dv.getUint32(o, true) : 0));
        parseRingbufRecords(copyRingbuf(data, size, cons, s.end), () => {});
      } catch (e) {
        typed(['EBPF_BAD_INPUT'])(e);
      }
    }) as never,
  },
  {
    name: 'netlink replies',
    property: fc.property(netlinkReplies.length ? mutated(netlinkReplies) : fc.uint8Array({ maxLength: 256 }), fc.integer({ min: 1, max: 64 }), (b, chunk) => {
      try {
        const d = new NetlinkStreamDecoder();
        for (let o = 0; o < b.byteLength; o += chunk) {
          for (const m of d.push(b.subarray(o, o + chunk))) {
            try {
              decodeFilter(m);
            } catch (e) {
              typed(['EBPF_NETLINK'])(e);
            }
            try {
              decodeQdisc(m);
            } catch (e) {
              typed(['EBPF_NETLINK'])(e);
            }
            try {
              decodeAck(m);
            } catch (e) {
              typed(['EBPF_NETLINK'])(e);
            }
          }
        }
      } catch (e) {
        typed(['EBPF_NETLINK'])(e);
      }
    }) as never,
  },
  {
    name: 'pcap/pcapng reader',
    property: fc.property(mutated(captures), (b) => {
      try {
        for (const r of readCapture(b)) if (r.data.byteLength > b.byteLength) throw new Error('record larger than the input');
      } catch (e) {
        typed(['EBPF_BAD_INPUT'])(e);
      }
    }) as never,
  },
  {
    name: 'packet decoder',
    property: fc.property(fc.uint8Array({ maxLength: 256 }), fc.boolean(), (b, raw) => {
      decodePacket(b, raw ? 'raw' : 'ethernet');
    }) as never,
  },
  {
    name: 'runtime: interpreter vs compiled',
    property: fc.property(rawProgramArb, ({ code, packet }) => {
      const bytes = encode(code);
      const a = rawOutcome(bytes, 'interpreter', packet);
      const b = rawOutcome(bytes, 'compiled', packet);
      for (const k of Object.keys(a) as (keyof typeof a)[]) {
        if (a[k] !== b[k]) throw new Error(`interpreter and compiled differ in ${k}:\n  interpreter: ${a[k]}\n  compiled:    ${b[k]}\n${disassemble(code)}`);
      }
    }) as never,
  },
];

