/** The effective capabilities of this process (from /proc/self/status), to name what is missing. */
import * as fs from 'node:fs';

export const CAP = { NET_ADMIN: 12, IPC_LOCK: 14, SYS_ADMIN: 21, PERFMON: 38, BPF: 39 } as const;
export type CapName = keyof typeof CAP;

export function effectiveCapabilities(): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/**
 * Which of `needs` this process lacks. CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, and
 * (for BPF program types that need it) for CAP_NET_ADMIN, as in the kernel.
 */
export function missingCapabilities(needs: CapName[]): CapName[] {
  const eff = effectiveCapabilities();
  const has = (c: CapName) => (eff & (1n << BigInt(CAP[c]))) !== 0n;
  const admin = has('SYS_ADMIN');
  return needs.filter((c) => !has(c) && !(admin && (c === 'BPF' || c === 'PERFMON' || c === 'NET_ADMIN')));
}
