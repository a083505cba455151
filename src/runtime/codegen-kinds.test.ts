/** The kinds of region each access of the project's programs goes through, as codegen-kinds finds them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Runtime } from './runtime.js';
import { baseKinds, type Kind } from './codegen-kinds.js';
import type { Linked } from './interpreter.js';
import { Cls } from './insn.js';
import { jumpTarget } from './codegen-flow.js';
import { assemble, insn, loadRaw } from './raw.js';

function kindsOf(file: string, prog: string): { kinds: Kind[]; linked: Linked } {
  const rt = Runtime.load(fs.readFileSync(file), { programs: [prog] });
  const linked = (rt.program(prog) as unknown as { linked: Linked }).linked;
  const c = linked.code;
  const jt = (i: number) => jumpTarget(c, i);
  return { kinds: baseKinds(linked, [0], () => c.count, jt), linked };
}

test('rb_reserve: counters through the lookup result, the record through the reservation, skb fields through the context', () => {
  const { kinds, linked } = kindsOf('bpf/ringbuf_events.bpf.o', 'rb_reserve');
  const at = (i: number) => kinds[i];
  assert.equal(at(2), 'stack', 'the key stored through r10');
  assert.equal(at(9), 'other', 'the counter read through bpf_map_lookup_elem\'s r0');
  assert.equal(at(11), 'other', 'and written back');
  assert.equal(at(39), 'ctx', 'skb->len through r6 = r1 (the context)');
  for (let i = 45; i <= 64; i++) {
    const op = linked.code.op[i]! & 7;
    if ((op === Cls.STX || op === Cls.ST) && linked.code.dst[i] === 7) assert.equal(at(i), 'other', `store ${i} into the reserved record`);
  }
  assert.equal(at(76), 'other', 'e->caplen through r1 = r7 + 24');
  assert.equal(at(53), 'other', 'the atomic add on the global rb_seq (ld_imm64 of a map value)');
});

test('a register that is the context on one path and the stack on the other is unknown where they meet; a helper call forgets r1-r5', () => {
  const code = assemble([
    insn(0xbf, 2, 10, 0, 0), // 0: r2 = r10
    insn(0x15, 1, 0, 1, 0), // 1: if r1 == 0 goto 3
    insn(0xbf, 2, 1, 0, 0), // 2: r2 = r1 (the context)
    insn(0x62, 2, 0, -4, 0), // 3: *(u32 *)(r2 - 4) = 0: stack or context
    insn(0xbf, 3, 1, 0, 0), // 4: r3 = r1
    insn(0x61, 4, 3, 0, 0), // 5: r4 = *(u32 *)(r3 + 0): the context
    insn(0x07, 3, 0, 0, 8), // 6: r3 += 8
    insn(0x61, 4, 3, 0, 0), // 7: r4 = *(u32 *)(r3 + 0): still the context
    insn(0x85, 0, 0, 0, 5), // 8: call bpf_ktime_get_ns
    insn(0x61, 4, 3, 0, 0), // 9: r4 = *(u32 *)(r3 + 0): r3 is gone
    insn(0xb7, 0, 0, 0, 0), // 10: r0 = 0
    insn(0x95, 0, 0, 0, 0), // 11: exit
  ]);
  const linked = (loadRaw(code) as unknown as { linked: Linked }).linked;
  const kinds = baseKinds(linked, [0], () => linked.code.count, (i) => (i === 1 ? 3 : undefined));
  assert.deepEqual([kinds[3], kinds[5], kinds[7], kinds[9]], ['any', 'ctx', 'ctx', 'any']);
});
