// SPDX-License-Identifier: GPL-2.0
/* rejected: reads the packet without a bounds check; the verifier must refuse it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int rejected(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;

	return *(__u32 *)(data + 64);
}

char LICENSE[] SEC("license") = "GPL";
