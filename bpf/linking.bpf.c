// SPDX-License-Identifier: GPL-2.0
/*
 * linking: fixture for the object loader (src/object/). Covers what libbpf's linker handles:
 * static and global BPF functions in .text called transitively (each appended once), a static
 * function in a program's own section (call without relocation), a hidden global function, a
 * bpf_loop callback (ld_imm64 of a function address), global data in .data, .bss, .rodata,
 * .rodata.str1.1 and custom .data.* / .rodata.* sections, static variables, a map of maps, and
 * program sections with a "/name" suffix. `struct kinds` puts the BTF kinds the other fixtures
 * lack into the object (FLOAT, ENUM64, signed ENUM, DECL_TAG, TYPE_TAG, RESTRICT, 128-bit INT,
 * wide bitfields, anonymous struct in an anonymous union) for the BTF parser and decoder tests.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u64));
	__uint(map_flags, BPF_F_NO_PREALLOC);
} sized SEC(".maps");

__u64 total = 0;                                  /* .bss */
__u32 calls = 0;                                  /* .bss */
__u64 last_len = 5;                               /* .data */
int custom_counter SEC(".data.custom") = 7;      /* .data.custom */
const volatile __u32 cfg_limit SEC(".rodata.cfg") = 3; /* .rodata.cfg */
const volatile __u64 rodata_scale = 10;           /* .rodata */
static __u32 static_hits = 0;                     /* .bss, static linkage */

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __user __attribute__((btf_type_tag("user")))

enum wide { WIDE_SMALL = 1, WIDE_BIG = 0x123456789ull };
enum sgn { SGN_NEG = -2, SGN_POS = 3 };

struct kinds {
	float f32;
	double f64;
	enum wide w;
	enum sgn s;
	int tagged __tag("member_tag");
	int __user *user_ptr;
	char *__restrict rptr;
	union {
		__u32 word;
		struct {
			__u16 lo;
			__u16 hi;
		};
	};
	__u64 wide_bits : 40;
	__u64 rest : 24;
	__s64 neg_bits : 33;
	unsigned __int128 u128;
} __tag("struct_tag");

struct kinds *kinds_anchor __attribute__((unused)); /* .bss: makes `struct kinds` part of the BTF */

struct loop_ctx {
	__u64 sum;
};

static __noinline __u64 leaf(__u64 x)
{
	static_hits += 1;
	return x * rodata_scale + 1;
}

static __noinline __u64 middle(__u64 x)
{
	return leaf(x) + leaf(x + 1);
}

__noinline int global_helper(int x)
{
	return x + 3;
}

__attribute__((visibility("hidden"))) __noinline int hidden_helper(int x)
{
	return x ^ 0x55;
}

static int loop_cb(__u32 index, void *ctx)
{
	struct loop_ctx *c = ctx;

	c->sum += index;
	return 0;
}

static __noinline __attribute__((section("tc"))) int same_section(int x)
{
	return x * 2;
}

SEC("tc")
int link_main(struct __sk_buff *skb)
{
	struct loop_ctx lc = { .sum = 0 };
	char msg[8];
	__u64 v;

	__builtin_memcpy(msg, "linked!", 8);
	v = middle(skb->len) + leaf(skb->len);
	v += global_helper(skb->len & 0xff);
	v += same_section(skb->len & 0xff);
	bpf_loop(cfg_limit, loop_cb, &lc, 0);
	total += v + lc.sum + msg[0];
	calls += 1;
	last_len = skb->len;
	custom_counter += 1;
	bpf_printk("link_main len=%u", skb->len);         /* format in .rodata (static) */
	bpf_trace_printk("v=%llu\n", sizeof("v=%llu\n"), v); /* literals in .rodata.str1.1 */
	bpf_trace_printk("calls=%u\n", sizeof("calls=%u\n"), calls);
	return TC_ACT_OK;
}

SEC("tc")
int link_second(struct __sk_buff *skb)
{
	__u32 key = 0;
	void *inner = bpf_map_lookup_elem(&outer, &key);
	__u64 one = 1;

	if (inner)
		bpf_map_update_elem(inner, &key, &one, BPF_ANY);
	bpf_map_update_elem(&sized, &key, &one, BPF_ANY);
	return hidden_helper(leaf(skb->len)) & 1 ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("xdp/custom")
int link_xdp(struct xdp_md *ctx)
{
	return global_helper(ctx->ingress_ifindex) > 0 ? XDP_PASS : XDP_DROP;
}

SEC("socket/filter")
int link_socket(struct __sk_buff *skb)
{
	return skb->len;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
