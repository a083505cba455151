// SPDX-License-Identifier: MIT
/*
 * producer: runs a pinned tc program with BPF_PROG_TEST_RUN until it has run N times, in calls of
 * `repeat` runs, optionally paced to a rate. The same producer drives the libbpf baseline and
 * bpfpipe. Usage: producer PROG_PIN N REPEAT [RATE_PER_SEC] [PACKET_BYTES]
 * Prints one JSON line: {"runs":N,"seconds":S}.
 */
#define _GNU_SOURCE
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

static long sys_bpf(int cmd, union bpf_attr *attr, unsigned int size)
{
	return syscall(__NR_bpf, cmd, attr, size);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s PROG_PIN N REPEAT [RATE] [PACKET_BYTES]\n", argv[0]);
		return 2;
	}
	long long total = atoll(argv[2]);
	unsigned repeat = (unsigned)atoi(argv[3]);
	double rate = argc > 4 ? atof(argv[4]) : 0;
	int pkt_bytes = argc > 5 ? atoi(argv[5]) : 64;
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.pathname = (uint64_t)(uintptr_t)argv[1];
	int fd = sys_bpf(BPF_OBJ_GET, &a, sizeof(a));
	if (fd < 0) {
		perror("BPF_OBJ_GET");
		return 1;
	}
	unsigned char pkt[2048];
	memset(pkt, 0, sizeof(pkt));
	pkt[12] = 0x08; /* ethertype IPv4 */
	double t0 = now();
	long long done = 0;
	while (done < total) {
		unsigned r = repeat;
		if (total - done < r)
			r = (unsigned)(total - done);
		memset(&a, 0, sizeof(a));
		a.test.prog_fd = fd;
		a.test.data_in = (uint64_t)(uintptr_t)pkt;
		a.test.data_size_in = pkt_bytes;
		a.test.repeat = r;
		if (sys_bpf(BPF_PROG_TEST_RUN, &a, sizeof(a)) < 0) {
			if (errno == EINTR)
				continue;
			perror("BPF_PROG_TEST_RUN");
			return 1;
		}
		done += r;
		if (rate > 0) {
			double due = t0 + done / rate;
			double wait = due - now();
			if (wait > 0) {
				struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
				nanosleep(&ts, NULL);
			}
		}
	}
	printf("{\"runs\":%lld,\"seconds\":%.6f}\n", done, now() - t0);
	return 0;
}
