/**
 * A ring buffer without room: bpf_ringbuf_reserve gets NULL and bpf_ringbuf_output -EAGAIN, each
 * counted lost and waking a waiting reader, and only after the helper's earlier checks (flags, sizes,
 * the output's bytes). The compiled path writes this failure inline (codegen-maps.ts ringbufFullCode):
 * both modes must give the same results, losses and faults. Hand-built ELFs (iproute2 legacy maps).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MapType } from '../index.js';
import { Runtime } from './runtime.js';
import { RuntimeFault } from '../errors.js';
import { packetCorpus } from '../../test/support/packets.js';
import { I, legacyMapClassifier, type Insn } from '../elf/test-support/elf-builder.js';

const RB_SIZE = 4096;
const RUNS = 20;
const packet = packetCorpus()[0]!.data;

/** One classifier 'cls' over ring buffer 'rb' (RB_SIZE bytes); `ldMap` is the index of its ld_imm64 of the map. */
const elf = (code: Insn[], ldMap: number): Uint8Array => legacyMapClassifier(code, { name: 'rb', type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: RB_SIZE }, ldMap);

/** Reserve `size` bytes with `flags`; a record is submitted at once. Returns 1 for a record, 0 for NULL. */
function reserve(size: bigint, flags: bigint): Uint8Array {
  return elf([
    ...I.ldImm64(1, 0), // r1 = &rb
    ...I.ld64(2, size),
    ...I.ld64(3, flags),
    I.call(131), // bpf_ringbuf_reserve
    [0x15, 0, 0, 4, 0], // if r0 == 0 goto exit (r0 = 0)
    [0xbf, 1, 0, 0, 0], // r1 = r0
    I.movImm(2, 0),
    I.call(132), // bpf_ringbuf_submit
    I.movImm(0, 1),
    I.exit(),
  ], 0);
}

/** Output `size` bytes from r10-16 (16 zeroed bytes), or from a scalar that is no pointer; returns the helper's result. */
const OUTPUT_CALL = 10;
function output(size: bigint, flags: bigint, from: 'stack' | 'scalar'): Uint8Array {
  return elf([
    [0x7a, 10, 0, -16, 0], // *(u64 *)(r10 - 16) = 0
    [0x7a, 10, 0, -8, 0],
    ...I.ldImm64(1, 0), // r1 = &rb
    ...(from === 'stack' ? [[0xbf, 2, 10, 0, 0], [0x07, 2, 0, 0, -16]] as Insn[] : [I.movImm(2, 0x1234), I.movImm(0, 0)]),
    ...I.ld64(3, size),
    ...I.ld64(4, flags),
    I.call(130), // bpf_ringbuf_output (instruction OUTPUT_CALL)
    I.exit(),
  ], 2);
}

interface Outcome {
  results: (number | 'fault')[];
  received: number;
  lost: number;
  /** A reader waiting before the runs was woken by them (before close). */
  woke: boolean;
}

/** RUNS runs of the object with a reader waiting, whose ring holds `ringBytes`; then what it got. */
async function runWithReader(obj: Uint8Array, mode: 'compiled' | 'interpreter', ringBytes: number): Promise<Outcome> {
  const rt = Runtime.load(obj, { mode });
  const r = rt.openEvents('rb', { ringBytes });
  const it = r.batches()[Symbol.asyncIterator]();
  let woke = false;
  const first = it.next().then((x) => ((woke = true), x));
  const results: (number | 'fault')[] = [];
  for (let i = 0; i < RUNS; i++) {
    try {
      results.push(rt.program('cls').run(packet).retval);
    } catch (e) {
      assert.ok(e instanceof RuntimeFault && e.insn === OUTPUT_CALL && new RegExp(`instruction ${OUTPUT_CALL}`).test(e.message), String(e));
      results.push('fault');
    }
  }
  await new Promise((res) => setTimeout(res, 20));
  const wokeBeforeClose = woke;
  await r.close();
  let received = 0;
  let lost = 0;
  for (let x = await first; !x.done; x = await it.next()) {
    received += x.value.length;
    lost += x.value.lostCount;
  }
  return { results, received, lost, woke: wokeBeforeClose };
}

const times = <T>(n: number, v: T): T[] => Array.from({ length: n }, () => v);
const outcome = (results: (number | 'fault')[], received: number, lost: number): Outcome => ({ results, received, lost, woke: received + lost > 0 });

for (const mode of ['compiled', 'interpreter'] as const) {
  test(`${mode}: bpf_ringbuf_reserve without room is NULL, counted lost and wakes the reader, after the helper's checks`, async () => {
    const cases: [string, Uint8Array, number, Outcome][] = [
      ['no room at all', reserve(16n, 0n), 8, outcome(times(RUNS, 0), 0, RUNS)],
      // 17 bytes take 32 with the header, rounded up: 3 fit in 96
      ['room for three', reserve(17n, 0n), 96, outcome([1, 1, 1, ...times(RUNS - 3, 0)], 3, RUNS - 3)],
      ['room for all', reserve(16n, 0n), RB_SIZE, outcome(times(RUNS, 1), RUNS, 0)],
      ['flags', reserve(16n, 1n), 8, outcome(times(RUNS, 0), 0, 0)],
      ['more than the map holds', reserve(BigInt(RB_SIZE - 7), 0n), 8, outcome(times(RUNS, 0), 0, 0)],
      ['a size of 2^32 and more', reserve((1n << 32n) + 16n, 0n), 8, outcome(times(RUNS, 0), 0, 0)],
    ];
    for (const [what, obj, ringBytes, want] of cases) assert.deepEqual(await runWithReader(obj, mode, ringBytes), want, what);
  });

  test(`${mode}: bpf_ringbuf_output without room is -EAGAIN, counted lost and wakes the reader, after the helper's checks (a bad pointer faults first)`, async () => {
    const cases: [string, Uint8Array, number, Outcome][] = [
      ['no room at all', output(16n, 0n, 'stack'), 8, outcome(times(RUNS, -11), 0, RUNS)],
      ['wake-up flags', output(16n, 3n, 'stack'), 8, outcome(times(RUNS, -11), 0, RUNS)],
      ['room for three', output(9n, 0n, 'stack'), 72, outcome([0, 0, 0, ...times(RUNS - 3, -11)], 3, RUNS - 3)],
      ['other flags', output(16n, 4n, 'stack'), 8, outcome(times(RUNS, -22), 0, 0)],
      ['flags in the high half', output(16n, 1n << 32n, 'stack'), 8, outcome(times(RUNS, -22), 0, 0)],
      ['bytes past the stack', output(17n, 0n, 'stack'), 8, outcome(times(RUNS, 'fault'), 0, 0)],
      ['bytes from no pointer', output(16n, 0n, 'scalar'), 8, outcome(times(RUNS, 'fault'), 0, 0)],
      ['a size of 2^32 and more', output((1n << 32n) + 16n, 0n, 'stack'), 8, outcome(times(RUNS, 'fault'), 0, 0)],
    ];
    for (const [what, obj, ringBytes, want] of cases) assert.deepEqual(await runWithReader(obj, mode, ringBytes), want, what);
  });
}
