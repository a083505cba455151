// The CLI as a benchmark reader: runs `bpfpipe listen PIN --format json > /dev/null`, and on SIGUSR1
// stops it with SIGINT and prints {received, lost, cpuSeconds} from its summary and /proc.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const [pin, ...extra] = process.argv.slice(2);
const devnull = fs.openSync('/dev/null', 'w');
const child = spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), 'listen', pin, '--format', 'json', ...extra], {
  stdio: ['ignore', devnull, 'pipe'],
});
let stderr = '';
child.stderr.on('data', (d) => (stderr += d));
const ticks = () => {
  const f = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
};
setTimeout(() => console.log('ready'), 1500);
process.on('SIGUSR2', () => {});
process.on('SIGUSR1', () => {
  const cpu = ticks() / 100;
  child.kill('SIGINT');
  child.on('exit', () => {
    const m = /received (\d+), lost (\d+)/.exec(stderr);
    if (!m) {
      console.error(stderr);
      process.exit(1);
    }
    console.log(JSON.stringify({ received: Number(m[1]), lost: Number(m[2]), cpuSeconds: cpu }));
  });
});
