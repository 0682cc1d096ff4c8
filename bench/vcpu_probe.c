/* SPDX-License-Identifier: MIT */
/*
 * vcpu_probe THREADS [ROUNDS]: no crew at all.  THREADS plain threads share
 * a fixed amount of serial work (2300 calls of a recursive fib(20), handed
 * out through one atomic counter, about 19 ms on 2 threads of the 2-vCPU
 * machine this was written on), ROUNDS times, 10 ms apart.  Prints the
 * fastest round and how many rounds took more than 1.2 times as long.
 *
 * It answers one question about a machine: does its CPU speed change under
 * a steady load?  On the 2-vCPU KVM guest the README describes, 2 threads
 * were slow in 20, 2 and 15 rounds of 40 and 3 threads in 0, 1 and 6
 * (processes alternated): that is what makes a 2-worker pool's fib time
 * there bimodal, whatever the pool does.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define UNITS 2300
#define MAX_THREADS 64
#define MAX_ROUNDS 1000

static atomic_int next_unit;
static atomic_ulong sink;
static pthread_barrier_t start, end;
static int rounds;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static unsigned long __attribute__((noinline))
fib(unsigned n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static void *
worker(void *arg)
{
	unsigned long s = 0;

	(void)arg;
	for (int r = 0; r < rounds; r++) {
		pthread_barrier_wait(&start);
		while (atomic_fetch_add(&next_unit, 1) < UNITS)
			s += fib(20);
		pthread_barrier_wait(&end);
	}
	atomic_fetch_add(&sink, s);
	return NULL;
}

int
main(int argc, char **argv)
{
	static double ms[MAX_ROUNDS];
	pthread_t th[MAX_THREADS];
	int n = argc > 1 ? atoi(argv[1]) : 2, slow = 0;
	double best = 1e300;

	rounds = argc > 2 ? atoi(argv[2]) : 40;
	if (n < 1 || n > MAX_THREADS || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: vcpu_probe THREADS(1-%d) [ROUNDS(1-%d)]\n",
		    MAX_THREADS, MAX_ROUNDS);
		return 2;
	}
	pthread_barrier_init(&start, NULL, (unsigned)n + 1);
	pthread_barrier_init(&end, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
	for (int r = 0; r < rounds; r++) {
		struct timespec gap = { 0, 10000000 };
		double t0;

		nanosleep(&gap, NULL);
		atomic_store(&next_unit, 0);
		t0 = now_ms();
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&end);
		ms[r] = now_ms() - t0;
		if (ms[r] < best)
			best = ms[r];
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (int r = 0; r < rounds; r++)
		slow += ms[r] > 1.2 * best;
	printf("vcpu_probe: %d threads, fastest round %.2f ms, %d of %d rounds "
	    "over 1.2x that (checksum %lu)\n", n, best, slow, rounds,
	    atomic_load(&sink) % 10);
	return 0;
}
