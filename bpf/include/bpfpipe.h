/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bpfpipe.h: output helpers for eBPF programs whose events are read by bpfpipe.
 *
 * - Channels: a perf event array is split in channels of ncpu slots each; channel k owns slots
 *   [k*ncpu, (k+1)*ncpu). A program may only write to the slot of the CPU it runs on, so
 *   bpfpipe_perf_output() writes to k*ncpu + cpu. ncpu (the number of possible CPUs) is read from
 *   the map NAME_meta, which bpfpipe fills when it loads the object or opens the pinned map.
 * - Exact loss accounting: every failed output (ring full, no reader on the slot) is counted in the
 *   per-CPU array NAME_drops, indexed by channel. The reader adds these counts to the PERF_RECORD_LOST
 *   records of the kernel, so `lost` is exact for perf rings and ring buffers alike, also at shutdown.
 *
 * Declare the maps with BPFPIPE_PERF_EVENTS(name, max_entries) or BPFPIPE_RINGBUF(name, bytes),
 * name the event struct with BPFPIPE_EVENT_TYPE(name, struct ev), then call the output helpers.
 */
#ifndef __BPFPIPE_H
#define __BPFPIPE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef BPFPIPE_MAX_CHANNELS
#define BPFPIPE_MAX_CHANNELS 64
#endif

#ifndef BPFPIPE_PINNING
#define BPFPIPE_PINNING LIBBPF_PIN_BY_NAME
#endif

#define __BPFPIPE_AUX_MAPS(name)                                                                   \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                           \
		__uint(max_entries, BPFPIPE_MAX_CHANNELS);                                         \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
		__uint(pinning, BPFPIPE_PINNING);                                                  \
	} name##_drops SEC(".maps");                                                               \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                  \
		__uint(max_entries, 1);                                                            \
		__type(key, __u32);                                                                \
		__type(value, __u32);                                                              \
		__uint(pinning, BPFPIPE_PINNING);                                                  \
	} name##_meta SEC(".maps")

/* A perf event array `name` with `slots` entries (0: one per possible CPU) and its aux maps. */
#define BPFPIPE_PERF_EVENTS(name, slots)                                                           \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);                                       \
		__uint(max_entries, slots);                                                        \
		__type(key, __u32);                                                                \
		__type(value, __u32);                                                              \
		__uint(pinning, BPFPIPE_PINNING);                                                  \
	} name SEC(".maps");                                                                       \
	__BPFPIPE_AUX_MAPS(name)

/* A BPF ring buffer `name` of `bytes` (a power of two, multiple of the page size) and its aux maps. */
#define BPFPIPE_RINGBUF(name, bytes)                                                               \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                \
		__uint(max_entries, bytes);                                                        \
		__uint(pinning, BPFPIPE_PINNING);                                                  \
	} name SEC(".maps");                                                                       \
	__BPFPIPE_AUX_MAPS(name)

/* Records in BTF which struct the events of map `name` carry; `bpfpipe` decodes with it by default. */
#define BPFPIPE_EVENT_TYPE(name, type) type *__bpfpipe_event__##name __attribute__((unused))

static __always_inline void __bpfpipe_count_drop(void *drops, __u32 channel)
{
	__u64 *d = bpf_map_lookup_elem(drops, &channel);

	if (d)
		*d += 1; /* per-CPU value: no other CPU writes it */
}

static __always_inline __u64 __bpfpipe_slot(void *meta, __u32 channel)
{
	__u32 zero = 0;
	__u32 *ncpu = bpf_map_lookup_elem(meta, &zero);

	if (!ncpu || *ncpu == 0 || channel == 0)
		return BPF_F_CURRENT_CPU;
	return (__u64)channel * *ncpu + bpf_get_smp_processor_id();
}

/*
 * Write `size` bytes of `data` to channel `channel` of perf event array `name`, followed by the first
 * `pkt_bytes` bytes of the packet (ctx must be the skb then; 0 for none). Failures are counted.
 */
#define bpfpipe_perf_output(ctx, name, channel, data, size, pkt_bytes)                             \
	({                                                                                         \
		__u32 __ch = (channel);                                                            \
		__u64 __flags = __bpfpipe_slot(&name##_meta, __ch) |                               \
				(((__u64)(pkt_bytes) << 32) & BPF_F_CTXLEN_MASK);                  \
		long __err = bpf_perf_event_output(ctx, &name, __flags, data, size);               \
		if (__err)                                                                         \
			__bpfpipe_count_drop(&name##_drops, __ch);                                 \
		__err;                                                                             \
	})

/* Copy `size` bytes of `data` into ring buffer `name`; failures are counted (channel 0). */
#define bpfpipe_ringbuf_output(name, data, size, flags)                                            \
	({                                                                                         \
		long __err = bpf_ringbuf_output(&name, data, size, flags);                         \
		if (__err)                                                                         \
			__bpfpipe_count_drop(&name##_drops, 0);                                    \
		__err;                                                                             \
	})

/* Reserve `size` bytes in ring buffer `name`; a failed reservation is counted. Submit or discard. */
#define bpfpipe_ringbuf_reserve(name, size)                                                        \
	({                                                                                         \
		void *__p = bpf_ringbuf_reserve(&name, size, 0);                                   \
		if (!__p)                                                                          \
			__bpfpipe_count_drop(&name##_drops, 0);                                    \
		__p;                                                                               \
	})

#endif /* __BPFPIPE_H */
