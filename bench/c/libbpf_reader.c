// SPDX-License-Identifier: MIT
/*
 * libbpf_reader: the C baseline. Reads a pinned perf event array or ring buffer with libbpf and counts
 * samples and lost samples until SIGUSR1, then drains once more and prints one JSON line with the
 * counts and its own CPU time. Modes:
 *   perf-watermark  perf_buffer__new_raw, wakeup_watermark = 25% of the ring (libbpf's best perf reader)
 *   perf-default    perf_buffer__new (wakeup on every sample, libbpf's default)
 *   ringbuf         ring_buffer__new, epoll wait (adaptive wake-ups by the producer)
 *   ringbuf-poll    ring_buffer__consume every 1 ms without waiting (for BPF_RB_NO_WAKEUP producers)
 * Usage: libbpf_reader MODE MAP_PIN [PAGES_PER_CPU] [EVENTS_PER_READY_FILE...]
 * It writes "ready" to stdout when its rings are in place.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static unsigned long long received, lost, bytes;
/* Latency mode (env LATENCY=1): each event carries its bpf_ktime_get_ns() at offset 8. */
static int latency_mode;
static double *lat;
static size_t nlat, caplat;

static void record_latency(const void *data, __u32 size)
{
	struct timespec ts;
	unsigned long long t;

	if (!latency_mode || size < 16)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	memcpy(&t, (const char *)data + 8, 8);
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 1 << 16;
		lat = realloc(lat, caplat * sizeof(*lat));
	}
	lat[nlat++] = (ts.tv_sec * 1e9 + ts.tv_nsec - (double)t) / 1e3; /* us */
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static volatile sig_atomic_t reset;

static void on_signal(int sig)
{
	if (sig == SIGUSR2)
		reset = 1;
	else
		stop = 1;
}

static void on_sample(void *ctx, int cpu, void *data, __u32 size)
{
	(void)ctx; (void)cpu;
	received++;
	bytes += size;
	record_latency(data, size);
}

static void on_lost(void *ctx, int cpu, __u64 n)
{
	(void)ctx; (void)cpu;
	lost += n;
}

static enum bpf_perf_event_ret on_raw(void *ctx, int cpu, struct perf_event_header *hdr)
{
	(void)ctx; (void)cpu;
	if (hdr->type == PERF_RECORD_SAMPLE) {
		__u32 *size = (__u32 *)(hdr + 1);
		received++;
		bytes += *size;
		record_latency(size + 1, *size);
	} else if (hdr->type == PERF_RECORD_LOST) {
		struct { struct perf_event_header h; __u64 id; __u64 lost; } *l = (void *)hdr;
		lost += l->lost;
	}
	return LIBBPF_PERF_EVENT_CONT;
}

static int on_rb(void *ctx, void *data, size_t size)
{
	(void)ctx;
	received++;
	bytes += size;
	record_latency(data, size);
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s MODE MAP_PIN [PAGES_PER_CPU]\n", argv[0]);
		return 2;
	}
	const char *mode = argv[1];
	int pages = argc > 3 ? atoi(argv[3]) : 64;
	int map_fd = bpf_obj_get(argv[2]);
	if (map_fd < 0) {
		perror("bpf_obj_get");
		return 1;
	}
	latency_mode = getenv("LATENCY") != NULL;
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct perf_buffer *pb = NULL;
	struct ring_buffer *rb = NULL;
	int poll = 0;
	if (!strcmp(mode, "perf-watermark")) {
		struct perf_event_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.type = PERF_TYPE_SOFTWARE;
		attr.config = PERF_COUNT_SW_BPF_OUTPUT;
		attr.sample_type = PERF_SAMPLE_RAW;
		attr.sample_period = 1;
		attr.watermark = 1;
		attr.wakeup_watermark = pages * getpagesize() / 4;
		pb = perf_buffer__new_raw(map_fd, pages, &attr, on_raw, NULL, NULL);
	} else if (!strcmp(mode, "perf-default")) {
		pb = perf_buffer__new(map_fd, pages, on_sample, on_lost, NULL, NULL);
	} else if (!strcmp(mode, "ringbuf") || !strcmp(mode, "ringbuf-poll")) {
		rb = ring_buffer__new(map_fd, on_rb, NULL, NULL);
		poll = !strcmp(mode, "ringbuf-poll");
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	if (!pb && !rb) {
		perror("libbpf reader setup");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	double t0 = now();
	double cpu0 = 0;
	while (!stop) {
		if (reset) {
			/* End of the warm-up: count from here. The warm-up's last events may still wait in the
			 * rings (under the watermark, or since the last 1 ms consume): read them first, so that
			 * they are not counted as the measured run's. */
			struct rusage r0;
			reset = 0;
			if (pb)
				perf_buffer__consume(pb);
			if (rb)
				ring_buffer__consume(rb);
			received = lost = bytes = 0;
			nlat = 0;
			t0 = now();
			getrusage(RUSAGE_SELF, &r0);
			cpu0 = r0.ru_utime.tv_sec + r0.ru_utime.tv_usec / 1e6 + r0.ru_stime.tv_sec + r0.ru_stime.tv_usec / 1e6;
		}
		if (pb)
			perf_buffer__poll(pb, 100);
		else if (poll) {
			ring_buffer__consume(rb);
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		} else
			ring_buffer__poll(rb, 100);
	}
	if (pb)
		perf_buffer__consume(pb);
	if (rb)
		ring_buffer__consume(rb);
	double secs = now() - t0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6 - cpu0;
	double p50 = 0, p99 = 0, pmax = 0;
	if (nlat) {
		qsort(lat, nlat, sizeof(*lat), cmp_double);
		p50 = lat[nlat / 2];
		p99 = lat[(size_t)(nlat * 0.99)];
		pmax = lat[nlat - 1];
	}
	printf("{\"received\":%llu,\"lost\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"cpuSeconds\":%.6f,"
	       "\"latencyUs\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}}\n",
	       received, lost, bytes, secs, cpu, p50, p99, pmax);
	perf_buffer__free(pb);
	ring_buffer__free(rb);
	return 0;
}
