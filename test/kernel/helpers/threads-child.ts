/**
 * Child of threads.test.ts: idleOtherThreads() in a process of its own (the test runner's threads
 * keep their policy). Prints one JSON line: the policies of its threads after the call and after
 * restore(), and what restore() threw.
 *   node --import tsx test/kernel/helpers/threads-child.ts reader PIN_DIR   (with a reader open)
 *   node --import tsx test/kernel/helpers/threads-child.ts plain           (no reader; any user)
 */
import { idleOtherThreads, loadObjectSync, openEvents } from '../../../src/index.js';
import { processThreads, threadPolicy } from '../../../src/sys/index.js';
import { pollerThreads } from '../../../src/sys/poller.js';

const [mode, pinDir] = process.argv.slice(2);
const policies = () => Object.fromEntries(processThreads().map((t) => [t, threadPolicy(t)]));
const obj = mode === 'reader' ? loadObjectSync('bpf/tc_events.bpf.o', { pinDir: pinDir! }) : undefined;
const reader = obj ? await openEvents(obj.map('events')) : undefined;
const idled = await idleOtherThreads();
const out: Record<string, unknown> = { main: process.pid, pollers: await pollerThreads(), idled: idled.threads, during: policies() };
try {
  idled.restore();
} catch (e) {
  out.restoreError = { code: (e as { code?: string }).code, message: (e as Error).message };
}
out.after = policies();
await reader?.close();
obj?.close();
console.log(JSON.stringify(out));
