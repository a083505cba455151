/**
 * The codec against what iproute2 really exchanged with the kernel (src/netlink/testdata/*.json,
 * captured with strace by testdata/capture.sh): our encoders produce tc's bytes exactly, and our
 * decoders read the kernel's replies to the values tc itself printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NetlinkError } from '../errors.js';
import {
  decodeAck, decodeFilter, decodeLink, decodeQdisc, encodeBpfFilterAdd, encodeClsactAdd, encodeClsactDelete,
  encodeFilterDelete, encodeFilterGet, encodeFilterDump, encodeQdiscDump, isClsact, parseMessages, NetlinkStreamDecoder,
  ReplyCollector, clsactParent, formatTcHandle, decodeHeader, NLM_F_ACK, NLM_F_ECHO, NLM_F_REQUEST, NLM_F_EXCL,
  NLM_F_CREATE, NLMSG_ERROR, NLMSG_DONE, RTM_NEWTFILTER, RTM_NEWQDISC, RTM_NEWLINK, ETH_P_ALL,
  type NetlinkMessage,
} from './index.js';

interface Fixture {
  command: string;
  stdout: string;
  stderr: string;
  messages: { dir: 'send' | 'recv'; bytes: Uint8Array }[];
}

const fromHex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function fixture(name: string): Fixture {
  const j = JSON.parse(readFileSync(new URL(`./testdata/${name}.json`, import.meta.url), 'utf8')) as {
    command: string; stdout: string; stderr: string; messages: { dir: 'send' | 'recv'; hex: string }[];
  };
  return { ...j, messages: j.messages.map((m) => ({ dir: m.dir, bytes: fromHex(m.hex) })) };
}

/** tc first dumps the links (RTM_GETLINK); the exchange under test is the last request and its replies. */
function lastExchange(f: Fixture): { request: Uint8Array; replies: Uint8Array[] } {
  let i = f.messages.length - 1;
  while (f.messages[i]!.dir !== 'send') i--;
  return { request: f.messages[i]!.bytes, replies: f.messages.slice(i + 1).map((m) => m.bytes) };
}

const seqOf = (b: Uint8Array) => decodeHeader(b).seq;
const ADD = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE;

/** Collect a reply the way the attach layer does; returns the data messages or throws. */
function collect(replies: Uint8Array[], seq: number, dump: boolean): NetlinkMessage[] {
  const c = new ReplyCollector(seq, dump, 'test request');
  const s = new NetlinkStreamDecoder();
  for (const r of replies) for (const m of s.push(r)) c.feed(m);
  s.end();
  assert.ok(c.done, 'reply complete');
  return c.messages;
}

test('clsact qdisc add: tc\'s request bytes, positive capped ack', () => {
  const { request, replies } = lastExchange(fixture('qdisc-add-clsact'));
  assert.equal(toHex(encodeClsactAdd({ ifindex: 3, seq: seqOf(request) })), toHex(request));
  const [ack] = parseMessages(replies[0]!);
  assert.equal(ack!.type, NLMSG_ERROR);
  const a = decodeAck(ack!);
  assert.deepEqual({ errno: a.errno, capped: a.capped, type: a.request.type, seq: a.request.seq }, { errno: 0, capped: true, type: RTM_NEWQDISC, seq: seqOf(request) });
  assert.deepEqual(collect(replies, seqOf(request), false), []);
});

test('clsact qdisc add again: EEXIST with the full request echoed and the kernel\'s text', () => {
  const f = fixture('qdisc-add-clsact-again');
  const { request, replies } = lastExchange(f);
  const a = decodeAck(parseMessages(replies[0]!)[0]!);
  assert.equal(a.errno, 17);
  assert.equal(a.capped, false); // tc does not set NETLINK_CAP_ACK
  assert.equal(a.request.length, request.byteLength);
  // The kernel's text; tc prints it as "Error: <text>."
  assert.equal(a.extack?.message, 'Exclusivity flag on, cannot modify');
  assert.ok(f.stderr.includes(`Error: ${a.extack!.message!}.`));
  assert.throws(() => collect(replies, seqOf(request), false), (e: unknown) =>
    e instanceof NetlinkError && e.errno === 17 && e.extack === 'Exclusivity flag on, cannot modify' &&
    /EEXIST.*Exclusivity flag on, cannot modify/.test(e.message));
});

test('clsact qdisc delete, and deleting a missing one (EINVAL "Invalid handle")', () => {
  const del = lastExchange(fixture('qdisc-del-clsact'));
  assert.equal(toHex(encodeClsactDelete({ ifindex: 3, seq: seqOf(del.request) })), toHex(del.request));
  assert.deepEqual(collect(del.replies, seqOf(del.request), false), []);
  const f2 = fixture('qdisc-del-missing');
  const missing = lastExchange(f2);
  assert.throws(() => collect(missing.replies, seqOf(missing.request), false), (e: unknown) =>
    e instanceof NetlinkError && e.errno === 22 && e.extack === 'Invalid handle' && f2.stderr.includes('Error: Invalid handle.'));
});

// tc loaded tc_events.o itself; its program fd in the request was 15 (strace decodes it as
// TCA_BPF_FD=15) and it names the filter "<object>:[<section>]".
const TC_PROG_FD = 15;

test('bpf filter add: tc\'s bytes for auto priority/handle (ingress) and prio 7 handle 3 (egress)', () => {
  const ing = lastExchange(fixture('filter-add-ingress'));
  const encodedIng = encodeBpfFilterAdd(
    { ifindex: 3, parent: clsactParent('ingress'), priority: 0, handle: 0, fd: TC_PROG_FD, name: 'tc_events.o:[tc]' },
    { seq: seqOf(ing.request), flags: ADD, nestedFlag: false },
  );
  assert.equal(toHex(encodedIng), toHex(ing.request));
  assert.deepEqual(collect(ing.replies, seqOf(ing.request), false), []);

  const eg = lastExchange(fixture('filter-add-egress'));
  const encodedEg = encodeBpfFilterAdd(
    { ifindex: 3, parent: clsactParent('egress'), priority: 7, handle: 3, protocol: ETH_P_ALL, fd: TC_PROG_FD, name: 'tc_events.o:[tc]', directAction: true },
    { seq: seqOf(eg.request), flags: ADD, nestedFlag: false },
  );
  assert.equal(toHex(encodedEg), toHex(eg.request));
});

test('bpf filter add defaults differ from tc only in NLM_F_ECHO and NLA_F_NESTED on TCA_OPTIONS', () => {
  const { request } = lastExchange(fixture('filter-add-ingress'));
  const expected = request.slice();
  expected[6]! |= NLM_F_ECHO; // nlmsg_flags low byte
  // TCA_OPTIONS follows nlmsghdr (16), tcmsg (20) and TCA_KIND "bpf\0" (8): its type is at 16+20+8+2.
  assert.equal(expected[46], 2);
  expected[47]! |= 0x80;
  const ours = encodeBpfFilterAdd(
    { ifindex: 3, parent: clsactParent('ingress'), priority: 0, handle: 0, fd: TC_PROG_FD, name: 'tc_events.o:[tc]' },
    { seq: seqOf(request) },
  );
  assert.equal(toHex(ours), toHex(expected));
});

test('filter delete by full identity: tc\'s bytes; a missing handle and a missing chain fail with the kernel\'s text', () => {
  const del = lastExchange(fixture('filter-del'));
  const id = { ifindex: 3, parent: clsactParent('egress'), priority: 7, handle: 3 };
  assert.equal(toHex(encodeFilterDelete(id, { seq: seqOf(del.request) })), toHex(del.request));
  assert.deepEqual(collect(del.replies, seqOf(del.request), false), []);

  const missing = lastExchange(fixture('filter-del-missing'));
  assert.equal(toHex(encodeFilterDelete({ ifindex: 3, parent: clsactParent('ingress'), priority: 9, handle: 77 }, { seq: seqOf(missing.request) })), toHex(missing.request));
  assert.throws(() => collect(missing.replies, seqOf(missing.request), false), (e: unknown) =>
    e instanceof NetlinkError && e.errno === 2 && e.message.includes('Specified filter handle not found'));
  const noChain = lastExchange(fixture('filter-del-no-chain'));
  assert.throws(() => collect(noChain.replies, seqOf(noChain.request), false), (e: unknown) =>
    e instanceof NetlinkError && e.errno === 2 && e.extack === 'Cannot find specified filter chain');
  assert.throws(() => encodeFilterDelete({ ...id, handle: 0 }, { seq: 1 }), NetlinkError);
  assert.throws(() => encodeFilterDelete({ ...id, priority: 0 }, { seq: 1 }), NetlinkError);
});

/** "filter … pref 7 bpf chain 0 handle 0x3 tc_events.o:[tc] direct-action … id 919 … tag …" */
function tcPrinted(stdout: string) {
  return [...stdout.matchAll(/pref (\d+) bpf chain (\d+) handle 0x([0-9a-f]+) (\S+) (direct-action )?.*? id (\d+) .*?tag ([0-9a-f]{16})/g)].map((m) => ({
    priority: Number(m[1]), chain: Number(m[2]), handle: parseInt(m[3]!, 16), name: m[4], directAction: m[5] !== undefined, id: Number(m[6]), tag: m[7],
  }));
}

test('filter get: the reply decodes to what tc printed', () => {
  const f = fixture('filter-get');
  const { request, replies } = lastExchange(f);
  const id = { ifindex: 3, parent: clsactParent('egress'), priority: 7, handle: 3 };
  assert.equal(toHex(encodeFilterGet(id, { seq: seqOf(request), flags: NLM_F_REQUEST | NLM_F_ECHO })), toHex(request));
  const msgs = parseMessages(replies[0]!);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0]!.type, RTM_NEWTFILTER);
  const got = decodeFilter(msgs[0]!);
  const [printed] = tcPrinted(f.stdout);
  assert.deepEqual(got, {
    kind: 'bpf', ifindex: 3, parent: clsactParent('egress'), handle: printed!.handle, priority: printed!.priority, protocol: ETH_P_ALL,
    chain: printed!.chain, bpf: { name: printed!.name, id: printed!.id, tag: printed!.tag, directAction: true, flagsGen: 8, classid: undefined },
  });
});

test('filter dump (multipart): entries decode to tc\'s listing, split at every offset', () => {
  const f = fixture('filter-show-ingress');
  const { request, replies } = lastExchange(f);
  assert.equal(toHex(encodeFilterDump({ ifindex: 3, parent: clsactParent('ingress'), seq: seqOf(request) })), toHex(request));
  const whole = collect(replies, seqOf(request), true);
  const filters = whole.map(decodeFilter);
  assert.equal(filters.length, 4);
  // Each priority has an entry without a handle (the classifier instance) and then the filter itself.
  assert.deepEqual(filters.map((x) => [x.priority, x.handle, x.bpf !== undefined]), [[9, 0, false], [9, 5, true], [49152, 0, false], [49152, 1, true]]);
  assert.deepEqual(
    filters.filter((x) => x.bpf).map((x) => ({ priority: x.priority, chain: x.chain, handle: x.handle, name: x.bpf!.name, directAction: x.bpf!.directAction, id: x.bpf!.id, tag: x.bpf!.tag })),
    tcPrinted(f.stdout),
  );
  assert.ok(whole.every((m) => m.flags & 0x2), 'NLM_F_MULTI on every part');

  // The same bytes as one stream, split in two at every offset, and byte by byte.
  const stream = Buffer.concat(replies);
  for (let k = 0; k <= stream.byteLength; k++) {
    const c = new ReplyCollector(seqOf(request), true, 'dump');
    const s = new NetlinkStreamDecoder();
    for (const part of [stream.subarray(0, k), stream.subarray(k)]) for (const m of s.push(part)) c.feed(m);
    s.end();
    assert.ok(c.done, `split at ${k}`);
    assert.deepEqual(c.messages, whole, `split at ${k}`);
  }
  const c = new ReplyCollector(seqOf(request), true, 'dump');
  const s = new NetlinkStreamDecoder();
  for (const byte of stream) for (const m of s.push(Uint8Array.of(byte))) c.feed(m);
  assert.deepEqual(c.messages, whole);
  assert.equal(s.buffered, 0);
});

test('qdisc dump: noqueue roots and the clsact qdisc, as tc printed', () => {
  const f = fixture('qdisc-show');
  const { request, replies } = lastExchange(f);
  assert.equal(toHex(encodeQdiscDump({ seq: seqOf(request), ifindex: 3 })), toHex(request));
  const q = collect(replies, seqOf(request), true).map(decodeQdisc);
  assert.deepEqual(q.map((x) => [x.kind, x.ifindex, formatTcHandle(x.handle), formatTcHandle(x.parent)]), [
    ['noqueue', 2, '0:0', 'ffff:ffff'],
    ['noqueue', 3, '0:0', 'ffff:ffff'],
    ['clsact', 3, 'ffff:0', 'ffff:fff1'],
  ]);
  assert.deepEqual(q.map(isClsact), [false, false, true]);
  assert.match(f.stdout, /qdisc clsact ffff: parent ffff:fff1/);
});

test('link dump: names and indexes as ip printed; ip\'s own probe got ENODEV', () => {
  const f = fixture('link-show');
  const { request, replies } = lastExchange(f);
  const links = collect(replies, seqOf(request), true).filter((m) => m.type === RTM_NEWLINK).map(decodeLink);
  const printed = [...f.stdout.matchAll(/^(\d+): ([^:@]+)(?:@[^:]+)?:/gm)].map((m) => [Number(m[1]), m[2]]);
  assert.deepEqual(links.map((l) => [l.ifindex, l.name]), printed);
  assert.deepEqual(links.map((l) => l.kind), [undefined, 'veth', 'veth']);
  assert.equal(links[0]!.flags & 0x8, 0x8, 'lo is IFF_LOOPBACK');
  // ip first sends an RTM_NEWLINK probe that the kernel refuses.
  const probeReply = f.messages[1]!;
  assert.equal(probeReply.dir, 'recv');
  const a = decodeAck(parseMessages(probeReply.bytes)[0]!);
  assert.equal(a.errno, 19);
  // Every datagram of every fixture parses; every reply of a dump ends with NLMSG_DONE.
  const last = parseMessages(replies[replies.length - 1]!);
  assert.equal(last[last.length - 1]!.type, NLMSG_DONE);
});

test('every captured datagram parses and re-splits identically through the stream decoder', () => {
  for (const name of ['qdisc-add-clsact', 'qdisc-add-clsact-again', 'filter-add-ingress', 'filter-add-egress', 'filter-show-ingress',
    'filter-get', 'qdisc-show', 'filter-del', 'filter-del-no-chain', 'filter-del-missing', 'qdisc-del-clsact', 'qdisc-del-missing', 'link-show']) {
    const f = fixture(name);
    for (const m of f.messages) {
      const msgs = parseMessages(m.bytes);
      assert.ok(msgs.length > 0, name);
      const s = new NetlinkStreamDecoder();
      const third = Math.floor(m.bytes.byteLength / 3);
      const got = [...s.push(m.bytes.subarray(0, third)), ...s.push(m.bytes.subarray(third, 2 * third)), ...s.push(m.bytes.subarray(2 * third))];
      s.end();
      assert.deepEqual(got, msgs, name);
    }
  }
});
