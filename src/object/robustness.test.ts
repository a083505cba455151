/**
 * Robustness: thousands of truncated and mutated versions of the committed objects. Every one
 * must parse or fail with a BadObjectError (EBPF_BAD_OBJECT) — never a RangeError/TypeError, never
 * an internal error wrapped as a bad object, never a hang. A mutation that happens to produce a
 * well-formed CO-RE relocation inside a program may fail with EBPF_NOTSUP (counted separately).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BpfpipeError } from '../errors.js';
import { compileDecoder } from '../btf/decoder.js';
import { ObjectSpec } from './object-spec.js';
import { objectNames, readelf, readObject } from '../elf/test-support/fixtures.js';

/** mulberry32: a small seeded PRNG so every run tries the same inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  what: string;
  bytes: Uint8Array;
}

const EXTREMES_32 = [0, 1, 2, 3, 7, 8, 0x18, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];
const EXTREMES_64 = [0n, 1n, 8n, 0x7fffffffn, 0xffffffffn, 0x100000000n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

function* cases(name: string, seed: number): Generator<Case> {
  const orig = readObject(name);
  const re = readelf(name);
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (n: number): number => Math.floor(rnd() * n);
  const mutate = (what: string, f: (v: DataView, b: Uint8Array) => void): Case => {
    const b = orig.slice();
    f(new DataView(b.buffer), b);
    return { what, bytes: b };
  };
  const shoff = Number(new DataView(orig.buffer, orig.byteOffset).getBigUint64(40, true));
  const sec = (n: string) => re.sections.find((s) => s.name === n);

  // 1. Truncation at every interesting offset: header fields, section boundaries, section headers.
  const cuts = new Set<number>([0, 1, 3, 4, 5, 6, 16, 18, 20, 24, 40, 48, 58, 60, 62, 63, 64, orig.length - 1]);
  for (const s of re.sections) for (const d of [-1, 0, 1, 4, 12, 24]) cuts.add(s.offset + d), cuts.add(s.offset + s.size + d);
  for (let i = 0; i <= re.sections.length; i++) cuts.add(shoff + i * 64), cuts.add(shoff + i * 64 + 32);
  for (const c of cuts) if (c >= 0 && c < orig.length) yield { what: `truncated at ${c}`, bytes: orig.subarray(0, c) };

  // 2. Section header fields set to extremes (every section, every field).
  const fields: [string, number, 4 | 8][] = [['sh_name', 0, 4], ['sh_type', 4, 4], ['sh_offset', 24, 8], ['sh_size', 32, 8], ['sh_link', 40, 4], ['sh_info', 44, 4], ['sh_entsize', 56, 8]];
  for (const s of re.sections) {
    for (const [f, off, width] of fields) {
      const at = shoff + s.index * 64 + off;
      if (width === 4) yield mutate(`${s.name}.${f}`, (v) => v.setUint32(at, pick(EXTREMES_32), true));
      else yield mutate(`${s.name}.${f}`, (v) => v.setBigUint64(at, pick(EXTREMES_64), true));
    }
    // Shrink a section (contents cut short from the reader's point of view).
    for (const frac of [0, 0.25, 0.5, 0.9]) {
      const size = Math.floor(s.size * frac) & ~3;
      yield mutate(`${s.name} size ${size}`, (v) => v.setBigUint64(shoff + s.index * 64 + 32, BigInt(size), true));
    }
  }

  // 3. ELF header fields set to extremes.
  for (const [f, at, width] of [['e_shoff', 40, 8], ['e_shentsize', 58, 2], ['e_shnum', 60, 2], ['e_shstrndx', 62, 2], ['e_type', 16, 2], ['e_machine', 18, 2]] as const) {
    for (let i = 0; i < 3; i++) {
      yield mutate(f, (v) => {
        if (width === 8) v.setBigUint64(at, pick(EXTREMES_64), true);
        else v.setUint16(at, pick([0, 1, 2, 0xff00, 0xfff1, 0xffff, 64, 247]), true);
      });
    }
  }

  // 4. BTF and .BTF.ext headers and records, symbols and relocations: u32 fields set to extremes.
  for (const target of ['.BTF', '.BTF.ext', '.symtab', '.maps', 'maps']) {
    const s = sec(target);
    if (!s || s.size < 8) continue;
    const header = target.startsWith('.BTF') ? Array.from({ length: 8 }, (_, i) => 4 + i * 4) : [];
    for (const at of header) for (let i = 0; i < 2; i++) yield mutate(`${target} header +${at}`, (v) => v.setUint32(s.offset + at, pick(EXTREMES_32), true));
    for (let i = 0; i < 60; i++) {
      const at = s.offset + (int(s.size - 4) & ~3);
      yield mutate(`${target} u32 at +${at - s.offset}`, (v) => v.setUint32(at, pick(EXTREMES_32), true));
    }
  }
  for (const s of re.sections.filter((x) => x.type === 9)) {
    for (let i = 0; i < 12; i++) {
      const at = s.offset + 16 * int(s.size / 16) + pick([0, 8, 12]);
      yield mutate(`${s.name} reloc field`, (v) => v.setUint32(at, pick(EXTREMES_32), true));
    }
  }
  // Instructions: calls and ld_imm64 immediates and registers.
  for (const s of re.sections.filter((x) => x.flags & 4 && x.size > 0)) {
    for (let i = 0; i < 20; i++) {
      const at = s.offset + 8 * int(s.size / 8);
      yield mutate(`${s.name} insn`, (v) => {
        if (rnd() < 0.5) v.setInt32(at + 4, pick([-1, 0, 1, 2, 1000, -1000, 0x7fffffff, -0x80000000]), true);
        else v.setUint8(at + pick([0, 1]), pick([0x85, 0x18, 0x10, 0x20, 0x40, 0xff]));
      });
    }
  }

  // 5. Random bit flips and random byte runs anywhere.
  for (let i = 0; i < 50; i++) {
    yield mutate('bit flips', (_v, b) => {
      for (let k = 1 + int(8); k > 0; k--) b[int(b.length)]! ^= 1 << int(8);
    });
  }
  for (let i = 0; i < 25; i++) {
    yield mutate('random bytes', (_v, b) => {
      const at = int(b.length);
      for (let k = 0, n = 1 + int(32); k < n && at + k < b.length; k++) b[at + k] = int(256);
    });
  }
}

describe('robustness: mutated and truncated objects', () => {
  it('every input parses or fails with EBPF_BAD_OBJECT, quickly', () => {
    const outcome = { parsed: 0, bad: 0, notsup: 0 };
    let total = 0;
    let slowest = { ms: 0, what: '' };
    const started = performance.now();
    let seed = 1;
    for (const name of objectNames()) {
      for (const c of cases(name, seed++)) {
        total++;
        const t0 = performance.now();
        try {
          const spec = ObjectSpec.parse(c.bytes);
          // Use what the parse produced: decoders for the event structs, BTF lookups.
          for (const m of spec.maps) {
            const id = spec.eventType(m.name);
            if (id !== undefined) {
              const dec = compileDecoder(spec.btf!, id);
              dec.decode(new DataView(new ArrayBuffer(dec.size)));
            }
          }
          outcome.parsed++;
        } catch (e) {
          const where = `${name}: ${c.what}`;
          assert.ok(e instanceof BpfpipeError, `${where}: ${String((e as Error)?.stack ?? e)}`);
          assert.equal(e.cause, undefined, `${where}: internal error ${String((e.cause as Error)?.stack)}`);
          if (e.code === 'EBPF_NOTSUP') {
            assert.match(e.message, /CO-RE|cannot be decoded|more than \d+ fields/, where);
            outcome.notsup++;
          } else {
            assert.equal(e.code, 'EBPF_BAD_OBJECT', `${where}: ${e.message}`);
            assert.ok(e.message.length > 0 && !e.message.includes('\n'), `${where}: one-line message`);
            outcome.bad++;
          }
        }
        const ms = performance.now() - t0;
        if (ms > slowest.ms) slowest = { ms, what: `${name}: ${c.what}` };
        assert.ok(ms < 2000, `${name}: ${c.what} took ${ms.toFixed(0)} ms`);
      }
    }
    const elapsed = performance.now() - started;
    console.log(`robustness: ${total} inputs in ${(elapsed / 1000).toFixed(2)} s: ${outcome.parsed} parsed, ${outcome.bad} EBPF_BAD_OBJECT, ${outcome.notsup} EBPF_NOTSUP; slowest ${slowest.ms.toFixed(1)} ms (${slowest.what})`);
    assert.ok(total >= 1000, `${total} inputs`);
    assert.ok(outcome.bad > total / 4, 'most mutations are detected');
    assert.ok(elapsed < 15000, `took ${elapsed.toFixed(0)} ms`);
  });
});
