/** src/sys: the only layer that talks to libc. Importing it registers the real kernel as default. */
import { setDefaultKernelFactory } from './kernel.js';
import { LinuxKernel } from './linux-kernel.js';

setDefaultKernelFactory(() => new LinuxKernel());

export { kernel, useKernel, memoryMapping } from './kernel.js';
export type { Kernel, Mapping, NativeMemory, PollRegistration } from './kernel.js';
export { LinuxKernel } from './linux-kernel.js';
export { ensureBpffs, isBpffs, checkPinPath, checkPinDir, removeEmptyDirs, readOnlyBpffs, privateBpffs, BPFFS_ROOT } from './bpffs.js';
export { possibleCpus, onlineCpus, parseCpuList, pageSize } from './cpus.js';
export { ifaceIndex, ifaceName } from './iface.js';
export { NetlinkSocket } from './netlink-socket.js';
export { openFdCount, listOpenFds, fdTarget } from './fds.js';
export { setAffinity, currentCpu, enterNetns, netnsCookie } from './process.js';
export { tryLockRange, unlockRange } from './locks.js';
export { missingCapabilities, effectiveCapabilities, type CapName } from './capabilities.js';
export { idleOtherThreads, lendIdledThreads, processThreads, threadPolicy, type IdledThreads, type IdleOptions } from './threads.js';
export { PacketSocket, PACKET_OUTGOING, type PacketFrame } from './packet-socket.js';
