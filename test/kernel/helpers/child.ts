/** Start test/kernel/helpers/attach-child.ts inside a namespace and wait for its first line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestNetns } from './netns.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

export interface AttachChild {
  child: ChildProcess;
  /** What the child printed about its attachments. */
  attached: { mode: string; direction: string; priority?: number; handle?: number; linkId?: number; programId: number }[];
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export async function startAttachChild(ns: TestNetns, args: { dirs: string; mode: string; signals?: boolean }): Promise<AttachChild> {
  const child = spawn('nsenter', [`--net=${ns.path}`, process.execPath, '--import', 'tsx', 'test/kernel/helpers/attach-child.ts', ns.dev, args.dirs, args.mode,
    ...(args.signals ? ['signals'] : [])], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal }))); // (after the last of its output)
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`attach child did not report within 20 s: ${err}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`attach child exited (${code ?? signal}) before reporting: ${err}`));
    });
  });
  return { child, attached: JSON.parse(line), exited, stderr: () => err };
}
