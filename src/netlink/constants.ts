/**
 * rtnetlink numbers from include/uapi/linux/{netlink,rtnetlink,pkt_sched,pkt_cls,if_link,if_ether}.h.
 * Pure data: the codec and the attach layer share them.
 */

/** Message types below NLMSG_MIN_TYPE are control messages. */
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLMSG_MIN_TYPE = 0x10;

export const NLMSG_HDRLEN = 16;
export const NLMSG_ALIGNTO = 4;
export const NLA_HDRLEN = 4;

/** nlmsg_flags. */
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_ECHO = 0x08;
export const NLM_F_DUMP_INTR = 0x10;
/** Modifiers of GET requests. */
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
/** Modifiers of NEW requests. */
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** Flags of NLMSG_ERROR acks. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

/** Attribute type flags (the two top bits of nla_type). */
export const NLA_F_NESTED = 1 << 15;
export const NLA_F_NET_BYTEORDER = 1 << 14;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** Extended ack TLVs after an NLMSG_ERROR (enum nlmsgerr_attrs). */
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;
export const NLMSGERR_ATTR_COOKIE = 3;
export const NLMSGERR_ATTR_POLICY = 4;
export const NLMSGERR_ATTR_MISS_TYPE = 5;
export const NLMSGERR_ATTR_MISS_NEST = 6;

/** rtnetlink message types. */
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;

export const AF_UNSPEC = 0;

/** struct tcmsg is 20 bytes; struct ifinfomsg is 16. */
export const TCMSG_LEN = 20;
export const IFINFOMSG_LEN = 16;

/** TCA_* attributes of qdisc and filter messages. */
export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_STATS = 3;
export const TCA_XSTATS = 4;
export const TCA_STATS2 = 7;
export const TCA_CHAIN = 11;

/** cls_bpf options (nested in TCA_OPTIONS). */
export const TCA_BPF_ACT = 1;
export const TCA_BPF_POLICE = 2;
export const TCA_BPF_CLASSID = 3;
export const TCA_BPF_OPS_LEN = 4;
export const TCA_BPF_OPS = 5;
export const TCA_BPF_FD = 6;
export const TCA_BPF_NAME = 7;
export const TCA_BPF_FLAGS = 8;
export const TCA_BPF_FLAGS_GEN = 9;
export const TCA_BPF_TAG = 10;
export const TCA_BPF_ID = 11;
export const TCA_BPF_FLAG_ACT_DIRECT = 1 << 0;

/** tc handles: major:minor in 16 bits each. */
export const TC_H_MAJ_MASK = 0xffff0000;
export const TC_H_MIN_MASK = 0x0000ffff;
export const TC_H_UNSPEC = 0;
export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1;
export const TC_H_CLSACT = TC_H_INGRESS;
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;

/** ETH_P_ALL: every protocol. Filters carry the protocol in network byte order. */
export const ETH_P_ALL = 0x0003;

/** Link attributes (enum IFLA_*). */
export const IFLA_IFNAME = 3;
export const IFLA_LINKINFO = 18;
export const IFLA_INFO_KIND = 1;
export const IFLA_EXT_MASK = 29;

/** A few interface flags (IFF_*). */
export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
