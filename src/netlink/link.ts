/** Link messages: RTM_GETLINK dumps (every interface of the namespace) and their decoding. */
import { Attrs } from './attributes.js';
import { IFINFOMSG_LEN, IFLA_IFNAME, IFLA_INFO_KIND, IFLA_LINKINFO, NLM_F_DUMP, NLM_F_REQUEST, RTM_GETLINK } from './constants.js';
import { beginMessage, familyHeader, finishMessage, type NetlinkMessage } from './message.js';

/** RTM_GETLINK dump with an all-zero ifinfomsg (what strict checking accepts for a dump). */
export function encodeLinkDump(r: { seq: number }): Uint8Array {
  const w = beginMessage({ type: RTM_GETLINK, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: r.seq });
  w.raw(new Uint8Array(IFINFOMSG_LEN));
  return finishMessage(w);
}

export interface LinkEntry {
  ifindex: number;
  name: string;
  /** IFF_* flags. */
  flags: number;
  /** ARPHRD_* type. */
  type: number;
  /** IFLA_INFO_KIND ("veth", "bridge", ...), when the link has a kind. */
  kind: string | undefined;
}

export function decodeLink(msg: NetlinkMessage): LinkEntry {
  const v = familyHeader(msg, IFINFOMSG_LEN, 'link message');
  const a = new Attrs(msg.payload.subarray(IFINFOMSG_LEN), 'link attributes');
  return {
    ifindex: v.getInt32(4, true),
    name: a.str(IFLA_IFNAME) ?? '',
    flags: v.getUint32(8, true),
    type: v.getUint16(2, true),
    kind: a.nested(IFLA_LINKINFO)?.str(IFLA_INFO_KIND),
  };
}
