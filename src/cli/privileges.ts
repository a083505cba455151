/** Checking up front that this process may do what a command needs, to fail with one clear line. */
import { missingCapabilities, PermissionError, type CapName } from '../index.js';

const WHY: Record<CapName, string> = {
  BPF: 'CAP_BPF (load programs, create maps)',
  NET_ADMIN: 'CAP_NET_ADMIN (attach to tc)',
  PERFMON: 'CAP_PERFMON (open perf rings)',
  SYS_ADMIN: 'CAP_SYS_ADMIN',
  IPC_LOCK: 'CAP_IPC_LOCK',
};

export function requireCapabilities(command: string, needs: CapName[]): void {
  const missing = missingCapabilities(needs);
  if (missing.length === 0) return;
  throw new PermissionError(`${command} needs ${missing.map((c) => WHY[c]).join(', ')}, which this process does not have; run it as root`);
}
