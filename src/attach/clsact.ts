/**
 * clsact + cls_bpf direct-action: create the clsact qdisc only when missing (remembering that we did),
 * add a bpf filter named "bpfpipe:<program>" with our program fd, and on close delete exactly that
 * filter (by ifindex, parent, priority, handle, protocol — after checking it still carries our name and
 * program) and the qdisc only when bpfpipe created it and no filter is left on it. Other filters are
 * never touched. An interface that disappeared makes close() a no-op.
 */
import { Errno, NetlinkError } from '../errors.js';
import type { Program } from '../kernel/program.js';
import { ETH_P_ALL, clsactParent, type Direction, type FilterId } from '../netlink/index.js';
import { Rtnl } from './rtnl.js';
import { filterNameFor, register, unregister, type LiveAttachment } from './state.js';
import { addBpfFilter, clsactOn, deleteFilter, ensureClsact, getFilter, removeClsactIfOursAndEmpty } from './tc-ops.js';
import type { ProgramRef, Target } from './types.js';

export interface ClsactOptions {
  priority?: number;
  handle?: number;
  persist?: boolean;
}

class ClsactAttachment implements LiveAttachment {
  readonly mode = 'clsact' as const;
  readonly linkId = undefined;
  readonly pinPath = undefined;
  private isClosed = false;

  constructor(
    private readonly rtnl: Rtnl,
    private readonly target: Target,
    readonly program: ProgramRef,
    private readonly id: Required<FilterId>,
    readonly filterName: string,
    readonly createdQdisc: boolean,
    readonly persist: boolean,
  ) {}

  get iface(): string {
    return this.target.iface;
  }
  get ifindex(): number {
    return this.target.ifindex;
  }
  get direction(): Direction {
    return this.target.direction;
  }
  get netns(): string {
    return this.target.netns;
  }
  get priority(): number {
    return this.id.priority;
  }
  get handle(): number {
    return this.id.handle;
  }
  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    unregister(this);
    try {
      if (!this.persist) {
        // Delete the filter only while it is still ours: same name, same program.
        const now = getFilter(this.rtnl, this.id);
        if (now?.bpf?.name === this.filterName && now.bpf.id === this.program.id) {
          deleteFilter(this.rtnl, this.id, `the bpf filter '${this.filterName}' on ${this.iface} ${this.direction}`);
        }
        removeClsactIfOursAndEmpty(this.rtnl, this.netns, this.ifindex, this.iface);
      }
    } finally {
      this.rtnl.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/**
 * Attach `program` as a direct-action cls_bpf filter on the clsact hook of `target`. The rtnetlink
 * socket stays open with the attachment: it is bound to the target's network namespace, so close()
 * reaches the right interface even if the calling thread has moved since.
 */
export function attachClsact(program: Program, target: Target, options: ClsactOptions = {}): LiveAttachment {
  const rtnl = new Rtnl();
  try {
    const name = filterNameFor(program.name);
    const ref: ProgramRef = { name: program.name, id: program.id, tag: program.tag };
    let created = false;
    for (let attempt = 1; ; attempt++) {
      created = ensureClsact(rtnl, target.netns, target.ifindex, target.iface) || created;
      try {
        const f = addBpfFilter(rtnl, {
          ifindex: target.ifindex, iface: target.iface, direction: target.direction, priority: options.priority ?? 0,
          handle: options.handle ?? 0, fd: program.fd, name, programId: program.id,
        });
        const id = { ifindex: target.ifindex, parent: clsactParent(target.direction), priority: f.priority, protocol: ETH_P_ALL, handle: f.handle, chain: f.chain };
        const a = new ClsactAttachment(rtnl, target, ref, id, name, created, options.persist ?? false);
        register(a);
        return a;
      } catch (err) {
        // Another process may have removed an empty clsact qdisc between our check and our add.
        if (attempt === 1 && !created && err instanceof NetlinkError && err.errno === Errno.EINVAL && !hasClsactNow(rtnl, target.ifindex)) continue;
        if (created) removeClsactIfOursAndEmpty(rtnl, target.netns, target.ifindex, target.iface);
        throw err;
      }
    }
  } catch (err) {
    rtnl.close();
    throw err;
  }
}

function hasClsactNow(rtnl: Rtnl, ifindex: number): boolean {
  try {
    return clsactOn(rtnl, ifindex) !== undefined;
  } catch {
    return true;
  }
}
