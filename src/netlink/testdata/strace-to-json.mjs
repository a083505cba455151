#!/usr/bin/env node
// Turns `strace -e trace=sendmsg,recvmsg,sendto,recvfrom -e write=3 -e read=3 -xx` output into a
// fixture: { command, stdout, stderr, messages: [{ "dir": "send" | "recv", "hex": "…" }, …] }, one
// entry per datagram that carried bytes. The bytes come from strace's own hex dump of the buffers and
// the expectations from the tool's own printed output, not from bpfpipe's codec.
//   node strace-to-json.mjs TRACE STDOUT STDERR COMMAND...
import { readFileSync } from 'node:fs';

const [trace, stdoutFile, stderrFile, ...command] = process.argv.slice(2);

const out = [];
let dir;
let cur;
for (const line of readFileSync(trace, 'utf8').split('\n')) {
  const call = /^(?:\[pid\s+\d+\]\s+)?(sendmsg|recvmsg|sendto|recvfrom)\(/.exec(line);
  if (call) {
    dir = call[1].startsWith('send') ? 'send' : 'recv';
    cur = undefined; // the dump lines that follow belong to this call (all its iovecs: one datagram)
    continue;
  }
  const dump = /^ \| [0-9a-f]{5}  ((?:[0-9a-f]{2} {1,2}){1,16})/.exec(line);
  if (dump && dir) {
    if (!cur) out.push((cur = { dir, hex: '' }));
    cur.hex += dump[1].replace(/\s+/g, '');
  }
}
const fixture = {
  command: command.join(' '),
  stdout: readFileSync(stdoutFile, 'utf8'),
  stderr: readFileSync(stderrFile, 'utf8'),
  messages: out,
};
process.stdout.write(JSON.stringify(fixture, null, 1) + '\n');
