/**
 * A child process for crash and signal tests. Run it inside a namespace:
 *   nsenter --net=/run/netns/NAME node --import tsx test/kernel/helpers/attach-child.ts IFACE DIRS MODE [signals]
 * It loads the counter program, attaches it to IFACE for each direction in DIRS ("ingress,egress")
 * in MODE, optionally installs cleanupOnSignals, prints one JSON line describing the attachments,
 * and then waits to be killed.
 */
import { attachTcSync, cleanupOnSignals, type AttachMode, type Direction } from '../../../src/attach/index.js';
import { loadCounter } from './counter.js';

const [iface, dirs, mode, guard] = process.argv.slice(2);
const counter = loadCounter();
const attachments = dirs!.split(',').map((d) => attachTcSync(counter.program, { iface: iface!, direction: d as Direction, mode: mode as AttachMode }));
if (guard === 'signals') {
  cleanupOnSignals({
    close() {
      for (const a of attachments) a.close();
      counter.close();
    },
  });
}
process.stdout.write(JSON.stringify(attachments.map((a) => ({ mode: a.mode, direction: a.direction, priority: a.priority, handle: a.handle, linkId: a.linkId, programId: a.program.id }))) + '\n');
setInterval(() => {}, 60_000);
