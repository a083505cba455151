// SPDX-License-Identifier: MIT
/*
 * udpflood: sends UDP datagrams as fast as it can (sendmmsg, 64 per call) for SECONDS, from the
 * current network namespace to DST:PORT. Prints {"sent":N,"seconds":S}.
 * Usage: udpflood DST PORT SECONDS [PAYLOAD_BYTES]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s DST PORT SECONDS [PAYLOAD]\n", argv[0]);
		return 2;
	}
	int size = argc > 4 ? atoi(argv[4]) : 18;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("connect");
		return 1;
	}
	char payload[1500];
	memset(payload, 'b', sizeof(payload));
	struct mmsghdr msgs[64];
	struct iovec iov[64];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < 64; i++) {
		iov[i].iov_base = payload;
		iov[i].iov_len = size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	double t0 = now(), end = t0 + atof(argv[3]);
	long long sent = 0;
	while (now() < end) {
		int n = sendmmsg(fd, msgs, 64, 0);
		if (n > 0)
			sent += n;
	}
	printf("{\"sent\":%lld,\"seconds\":%.6f}\n", sent, now() - t0);
	return 0;
}
