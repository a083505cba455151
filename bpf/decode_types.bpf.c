// SPDX-License-Identifier: GPL-2.0
/*
 * decode_types: emits one `struct sample` with known contents per run, covering what the BTF
 * decoder must handle: signed and unsigned ints of every width, u64 beyond 2^53, bitfields, enums,
 * char arrays (strings), int arrays, nested structs and unions, and appended packet bytes.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "bpfpipe.h"

enum color { RED = 1, GREEN = 2, BLUE = 0x10 };

struct point {
	__s32 x;
	__s32 y;
};

struct sample {
	__u8 u8v;
	__s8 s8v;
	__u16 u16v;
	__s16 s16v;
	__u32 u32v;
	__s32 s32v;
	__u64 u64v;
	__s64 s64v;
	__u64 small64;
	unsigned int flag_a : 1;
	unsigned int flag_b : 3;
	unsigned int field_c : 12;
	int signed_d : 8;
	enum color color;
	char name[12];
	__u16 ports[4];
	struct point where;
	struct point path[2];
	union {
		__u32 as_u32;
		__u8 as_bytes[4];
	} u;
	_Bool ok;
	__u8 _pad[3];
};

BPFPIPE_PERF_EVENTS(samples, 0);
BPFPIPE_EVENT_TYPE(samples, struct sample);

SEC("tc")
int emit_sample(struct __sk_buff *skb)
{
	struct sample s = {};

	s.u8v = 250;
	s.s8v = -5;
	s.u16v = 65000;
	s.s16v = -30000;
	s.u32v = 4000000000u;
	s.s32v = -2000000000;
	s.u64v = 0xfedcba9876543210ull;
	s.s64v = -9000000000000000000ll;
	s.small64 = 123456789;
	s.flag_a = 1;
	s.flag_b = 5;
	s.field_c = 0xabc;
	s.signed_d = -100;
	s.color = BLUE;
	__builtin_memcpy(s.name, "hello", 6);
	s.ports[0] = 80;
	s.ports[1] = 443;
	s.ports[2] = 8080;
	s.ports[3] = 65535;
	s.where.x = -1;
	s.where.y = 2;
	s.path[0].x = 3;
	s.path[0].y = -4;
	s.path[1].x = 5;
	s.path[1].y = -6;
	s.u.as_u32 = 0x04030201;
	s.ok = 1;
	bpfpipe_perf_output(skb, samples, 0, &s, sizeof(s), skb->len < 32 ? skb->len : 32);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
