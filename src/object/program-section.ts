/** Program type from the ELF section name, following libbpf's and iproute2's conventions. */
import { AttachType, ProgType } from './uapi.js';
import type { ProgramKind } from './types.js';

export interface ProgramSection {
  readonly kind: ProgramKind;
  readonly type: number;
  readonly expectedAttachType: number | undefined;
  readonly direction: 'ingress' | 'egress' | undefined;
}

const exact: Record<string, ProgramSection> = {
  tc: { kind: 'tc', type: ProgType.SCHED_CLS, expectedAttachType: undefined, direction: undefined },
  'tc/ingress': { kind: 'tc', type: ProgType.SCHED_CLS, expectedAttachType: undefined, direction: 'ingress' },
  'tc/egress': { kind: 'tc', type: ProgType.SCHED_CLS, expectedAttachType: undefined, direction: 'egress' },
  'tcx/ingress': { kind: 'tcx', type: ProgType.SCHED_CLS, expectedAttachType: AttachType.TCX_INGRESS, direction: 'ingress' },
  'tcx/egress': { kind: 'tcx', type: ProgType.SCHED_CLS, expectedAttachType: AttachType.TCX_EGRESS, direction: 'egress' },
};

/** Sections accepted alone or with a "/anything" suffix (SEC("xdp/foo"), iproute2's "classifier/foo"). */
const prefixed: Record<string, ProgramSection> = {
  classifier: { kind: 'classifier', type: ProgType.SCHED_CLS, expectedAttachType: undefined, direction: undefined },
  action: { kind: 'action', type: ProgType.SCHED_ACT, expectedAttachType: undefined, direction: undefined },
  xdp: { kind: 'xdp', type: ProgType.XDP, expectedAttachType: undefined, direction: undefined },
  socket: { kind: 'socket', type: ProgType.SOCKET_FILTER, expectedAttachType: undefined, direction: undefined },
};

/** XDP sections with their own attach types, which bpfpipe does not load. */
const unsupportedXdp = new Set(['xdp/devmap', 'xdp/cpumap']);

/** The program type a section name asks for, or undefined when bpfpipe does not know the name. */
export function classifySection(name: string): ProgramSection | undefined {
  const e = Object.hasOwn(exact, name) ? exact[name] : undefined;
  if (e) return e;
  if (unsupportedXdp.has(name)) return undefined;
  const slash = name.indexOf('/');
  const head = slash < 0 ? name : name.slice(0, slash);
  if (slash >= 0 && slash === name.length - 1) return undefined;
  return Object.hasOwn(prefixed, head) ? prefixed[head] : undefined;
}

export const KNOWN_SECTIONS =
  'tc, tc/ingress, tc/egress, tcx/ingress, tcx/egress, classifier[/NAME], action[/NAME], xdp[/NAME], socket[/NAME]';
