/*
 * Takes the CPU it runs on away now and then, as the host takes a vCPU away: after FIRST_MS, COUNT
 * times, spins for STOP_US under SCHED_FIFO at the highest priority (nothing else on that CPU runs,
 * though interrupts are still taken: a timer that fires wakes its thread, which waits), then sleeps
 * until the next period, PERIOD_MS (and up to 1 ms more, at random) from start to start; after the last,
 * under SCHED_IDLE. Run it
 * pinned to the reader's CPU. Prints one JSON line: the stops' measured lengths.
 *   stall FIRST_MS STOP_US COUNT PERIOD_MS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static void at(const struct timespec *t)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
		;
}

static void add_us(struct timespec *t, long us)
{
	t->tv_nsec += (us % 1000000) * 1000;
	t->tv_sec += us / 1000000 + t->tv_nsec / 1000000000;
	t->tv_nsec %= 1000000000;
}

static double diff_us(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e6 + (b->tv_nsec - a->tv_nsec) / 1e3;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s FIRST_MS STOP_US COUNT PERIOD_MS\n", argv[0]);
		return 2;
	}
	long first_ms = atol(argv[1]), stop_us = atol(argv[2]), count = atol(argv[3]), period_ms = atol(argv[4]);
	struct sched_param sp = { .sched_priority = sched_get_priority_max(SCHED_FIFO) };
	if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
		perror("sched_setscheduler (SCHED_FIFO needs root)");
		return 1;
	}
	/* (no page fault or first-call cost of its own after a stop: only the spin takes the CPU) */
	mlockall(MCL_CURRENT | MCL_FUTURE);
	double *times = calloc(2 * (count > 0 ? count : 1), sizeof(double));
	struct timespec next, start, now;
	double min = 1e18, max = 0, sum = 0;
	clock_gettime(CLOCK_MONOTONIC, &next);
	srandom(next.tv_nsec);
	add_us(&next, first_ms * 1000);
	for (long i = 0; i < count; i++) {
		at(&next);
		clock_gettime(CLOCK_MONOTONIC, &start);
		do
			clock_gettime(CLOCK_MONOTONIC, &now);
		while (diff_us(&start, &now) < stop_us);
		double us = diff_us(&start, &now);
		times[2 * i] = start.tv_sec * 1e3 + start.tv_nsec / 1e6;
		times[2 * i + 1] = now.tv_sec * 1e3 + now.tv_nsec / 1e6;
		sum += us;
		if (us < min)
			min = us;
		if (us > max)
			max = us;
		/* (plus up to 1 ms at random: stops the reader's 1 ms poll timer does not keep in step with) */
		add_us(&next, period_ms * 1000 + random() % 1000);
	}
	/* the rest (printing, exiting: a millisecond or two here) yields to everything else on the CPU */
	struct sched_param idle = { .sched_priority = 0 };
	sched_setscheduler(0, SCHED_IDLE, &idle);
	/* STALL_TIMES=1: each stop's start and end (CLOCK_MONOTONIC ms) on stderr */
	if (getenv("STALL_TIMES"))
		for (long i = 0; i < count; i++)
			fprintf(stderr, "STOP %.3f %.3f\n", times[2 * i], times[2 * i + 1]);
	printf("{\"stops\":%ld,\"stopUs\":{\"min\":%.0f,\"mean\":%.0f,\"max\":%.0f}}\n", count, min, count ? sum / count : 0, max);
	return 0;
}
