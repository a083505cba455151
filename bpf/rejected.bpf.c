// SPDX-License-Identifier: GPL-2.0
/*
 * rejected: a normal-looking event program with one bug — it reads the packet without a bounds
 * check — so the verifier must refuse it (tests check the VerifierError and the CLI's report).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpfpipe.h"

struct event {
	__u32 word;
	__u32 len;
};

BPFPIPE_PERF_EVENTS(rejected_events, 0);
BPFPIPE_EVENT_TYPE(rejected_events, struct event);

SEC("tc")
int rejected(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct event ev = { .len = skb->len };

	ev.word = *(__u32 *)(data + 64); /* no check against data_end */
	bpfpipe_perf_output(skb, rejected_events, 0, &ev, sizeof(ev), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
