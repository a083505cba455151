// SPDX-License-Identifier: GPL-2.0
/* sections: one trivial program per section name the loader maps to a program type. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#ifndef TCX_NEXT
#define TCX_NEXT -1 /* enum tcx_action_base, linux 6.6 */
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline int hit(__u32 k)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(&hits, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&hits, &k, &one, BPF_NOEXIST);
	return 0;
}

SEC("tc") int s_tc(struct __sk_buff *skb) { hit(0); return TC_ACT_OK; }
SEC("tc/ingress") int s_tc_ingress(struct __sk_buff *skb) { hit(1); return TC_ACT_OK; }
SEC("tcx/ingress") int s_tcx_ingress(struct __sk_buff *skb) { hit(2); return TCX_NEXT; }
SEC("tcx/egress") int s_tcx_egress(struct __sk_buff *skb) { hit(3); return TCX_NEXT; }
SEC("classifier") int s_classifier(struct __sk_buff *skb) { hit(4); return TC_ACT_OK; }
SEC("action") int s_action(struct __sk_buff *skb) { hit(5); return TC_ACT_OK; }
SEC("xdp") int s_xdp(struct xdp_md *ctx) { hit(6); return XDP_PASS; }
SEC("socket") int s_socket(struct __sk_buff *skb) { hit(7); return skb->len; }

char LICENSE[] SEC("license") = "GPL";
