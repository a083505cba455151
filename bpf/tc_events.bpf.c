// SPDX-License-Identifier: GPL-2.0
/*
 * tc_events: the bundled tc program. For every packet it emits a `struct event` on the perf event
 * array `events`, followed by the first `snaplen` bytes of the packet, on channel
 * (UDP/TCP dst port - 9000) when that is below 64, else channel 0. It counts attempts, successful
 * outputs and failed outputs in `counters` so tests can check the reader's accounting exactly.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bpfpipe.h"

#define CHANNEL_BASE_PORT 9000
#define NUM_CHANNELS 64

struct event {
	__u64 ts;        /* bpf_ktime_get_ns() */
	__u32 ifindex;
	__u32 len;       /* skb->len */
	__u32 mark;
	__u16 protocol;  /* ethertype, host order */
	__u8 ip_proto;
	__u8 ip_version;
	__u8 saddr[16];  /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 channel;
	__u64 seq;       /* global sequence number */
	char tag[8];
};

enum counter { CNT_SEEN, CNT_OK, CNT_FAILED, CNT_MAX };

BPFPIPE_PERF_EVENTS(events, 256);
BPFPIPE_EVENT_TYPE(events, struct event);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

const volatile __u32 snaplen = 128; /* packet bytes appended to each event */
__u64 seq = 0;                      /* .bss */
char tag[8] = "bpfpipe";            /* .data */

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		*v += 1;
}

static __noinline int parse_ports(struct __sk_buff *skb, __u32 l4off, struct event *ev)
{
	__u16 ports[2];

	if (ev->ip_proto != IPPROTO_UDP && ev->ip_proto != IPPROTO_TCP)
		return 0;
	if (bpf_skb_load_bytes(skb, l4off, ports, sizeof(ports)) < 0)
		return 0;
	ev->sport = bpf_ntohs(ports[0]);
	ev->dport = bpf_ntohs(ports[1]);
	return 1;
}

SEC("tc")
int tc_events(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct event ev = {};
	__u32 l4off = 0;
	__u64 n;

	count(CNT_SEEN);
	ev.ts = bpf_ktime_get_ns();
	ev.ifindex = skb->ifindex;
	ev.len = skb->len;
	ev.mark = skb->mark;
	__builtin_memcpy(ev.tag, tag, sizeof(ev.tag));

	if ((void *)(eth + 1) <= data_end) {
		ev.protocol = bpf_ntohs(eth->h_proto);
		if (ev.protocol == ETH_P_IP) {
			struct iphdr *ip = (void *)(eth + 1);

			if ((void *)(ip + 1) <= data_end) {
				ev.ip_version = 4;
				ev.ip_proto = ip->protocol;
				__builtin_memcpy(ev.saddr, &ip->saddr, 4);
				__builtin_memcpy(ev.daddr, &ip->daddr, 4);
				l4off = sizeof(*eth) + ip->ihl * 4;
			}
		} else if (ev.protocol == ETH_P_IPV6) {
			struct ipv6hdr *ip6 = (void *)(eth + 1);

			if ((void *)(ip6 + 1) <= data_end) {
				ev.ip_version = 6;
				ev.ip_proto = ip6->nexthdr;
				__builtin_memcpy(ev.saddr, &ip6->saddr, 16);
				__builtin_memcpy(ev.daddr, &ip6->daddr, 16);
				l4off = sizeof(*eth) + sizeof(*ip6);
			}
		}
	}
	if (l4off)
		parse_ports(skb, l4off, &ev);
	if (ev.dport >= CHANNEL_BASE_PORT && ev.dport < CHANNEL_BASE_PORT + NUM_CHANNELS)
		ev.channel = ev.dport - CHANNEL_BASE_PORT;

	n = __sync_fetch_and_add(&seq, 1);
	ev.seq = n;

	__u64 pkt = skb->len < snaplen ? skb->len : snaplen;
	if (bpfpipe_perf_output(skb, events, ev.channel, &ev, sizeof(ev), pkt) == 0)
		count(CNT_OK);
	else
		count(CNT_FAILED);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
