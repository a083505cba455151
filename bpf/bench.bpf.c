// SPDX-License-Identifier: GPL-2.0
/*
 * bench: producers for the benchmarks and the accounting tests, driven by BPF_PROG_TEST_RUN with
 * `repeat`. Each run emits one event of `event_size` bytes (set in .bss before the run) and counts
 * successful and failed outputs per CPU in `bench_counts` (0: ok, 1: failed). Each event starts with
 * a u64 sequence number and the u64 bpf_ktime_get_ns() of its output (so events are >= 16 bytes).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "bpfpipe.h"

#define MAX_EVENT 4096

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[MAX_EVENT]);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bench_counts SEC(".maps");

/* The layout of a 64-byte bench event, for the decoded benchmarks. */
struct bench_event {
	__u64 seq;
	__u64 ts;
	__u32 cpu;
	__u32 size;
	__u8 payload[40];
};

BPFPIPE_PERF_EVENTS(bench_events, 0);
BPFPIPE_EVENT_TYPE(bench_events, struct bench_event);
BPFPIPE_RINGBUF(bench_rb, 4 * 1024 * 1024);
BPFPIPE_EVENT_TYPE(bench_rb, struct bench_event);

volatile __u32 event_size = 64;
volatile __u64 rb_flags = 0;
volatile __u32 pkt_bytes = 0;
__u64 bench_seq = 0;

static __always_inline void count(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&bench_counts, &k);

	if (v)
		*v += 1;
}

static __always_inline __u8 *buffer(__u32 size)
{
	__u32 zero = 0;
	__u8 *buf = bpf_map_lookup_elem(&scratch, &zero);

	if (!buf || size > MAX_EVENT)
		return 0;
	/* Two tests on size itself: merged into one range test on a copy, they bound only the
	 * copy on older verifiers (Linux 6.1), and the output helper refuses size as unbounded. */
	asm volatile("" : "+r"(size));
	if (size < 16)
		return 0;
	*(__u64 *)buf = bench_seq++;             /* per-run sequence, used by tests to detect duplicates */
	*(__u64 *)(buf + 8) = bpf_ktime_get_ns(); /* for latency measurements */
	return buf;
}

SEC("tc")
int perf_bench(struct __sk_buff *skb)
{
	__u32 size = event_size;
	__u8 *buf = buffer(size);
	__u64 pkt = pkt_bytes;

	if (!buf)
		return TC_ACT_SHOT;
	if (pkt > skb->len)
		pkt = skb->len;
	if (bpfpipe_perf_output(skb, bench_events, 0, buf, size, pkt) == 0)
		count(0);
	else
		count(1);
	return TC_ACT_OK;
}

SEC("tc")
int rb_bench(struct __sk_buff *skb)
{
	__u32 size = event_size;
	__u8 *buf = buffer(size);

	if (!buf)
		return TC_ACT_SHOT;
	if (bpfpipe_ringbuf_output(bench_rb, buf, size, rb_flags) == 0)
		count(0);
	else
		count(1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
