// SPDX-License-Identifier: GPL-2.0
/*
 * legacy_maps: a classifier in the iproute2 style, with its maps in the legacy `maps` section
 * (struct bpf_elf_map) pinned in the global namespace (/sys/fs/bpf/tc/globals/NAME), as
 * `tc filter add ... bpf da obj legacy_maps.bpf.o sec classifier` does it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define PIN_NONE 0
#define PIN_OBJECT_NS 1
#define PIN_GLOBAL_NS 2

struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

struct legacy_event {
	__u32 len;
	__u32 ifindex;
	__u64 count;
};

struct bpf_elf_map SEC("maps") legacy_events = {
	.type = BPF_MAP_TYPE_PERF_EVENT_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 128,
	.pinning = PIN_GLOBAL_NS,
};

struct bpf_elf_map SEC("maps") legacy_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 4,
	.pinning = PIN_GLOBAL_NS,
};

struct bpf_elf_map SEC("maps") legacy_private = {
	.type = BPF_MAP_TYPE_HASH,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 16,
	.pinning = PIN_NONE,
};

SEC("classifier")
int legacy_prog(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&legacy_counts, &key);
	struct legacy_event ev = { .len = skb->len, .ifindex = skb->ifindex };

	if (n) {
		__sync_fetch_and_add(n, 1);
		ev.count = *n;
	}
	key = skb->len & 7;
	bpf_map_update_elem(&legacy_private, &key, &key, BPF_ANY);
	bpf_perf_event_output(skb, &legacy_events, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
