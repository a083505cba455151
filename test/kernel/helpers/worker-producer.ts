/**
 * Worker that produces events from another thread while the main thread's reader sleeps between its
 * wake-ups: opens a pinned program (workerData.pin) and test-runs it `repeat` times every `everyUs`
 * microseconds for `ms` milliseconds, on CPU workerData.cpu. Posts { runs } or { error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openPinned, Program, setAffinity } from '../../../src/index.js';

const { pin, cpu, ms, everyUs, repeat } = workerData as { pin: string; cpu: number; ms: number; everyUs: number; repeat: number };
try {
  setAffinity([cpu]);
  const prog = new Program(openPinned(pin).fd, 'producer');
  const data = new Uint8Array(64);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let runs = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    prog.testRun({ data, repeat });
    runs += repeat;
    Atomics.wait(pause, 0, 0, everyUs / 1000);
  }
  prog.close();
  parentPort!.postMessage({ runs });
} catch (e) {
  parentPort!.postMessage({ error: String((e as Error).stack ?? e) });
}
