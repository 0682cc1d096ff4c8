/* SPDX-License-Identifier: MIT */
/* Shared test helpers: watchdog, sizes, seeds, pthread_create fault hook. */
#ifndef CREW_TEST_SUPPORT_H
#define CREW_TEST_SUPPORT_H

#include "crew.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>

/* Sizes are divided by CREW_TEST_SCALE (the TSan runner sets 30). */
size_t t_scaled(size_t n);
/* The seed: CREW_TEST_SEED or time-based; printed once by t_seed_print. */
uint64_t t_seed(void);
uint64_t t_rand(uint64_t *state);

/*
 * Watchdog: after `seconds`, dumps the pool's state (if one is set with
 * t_watch_pool) to stderr and aborts, turning a hang into a failure.
 */
void t_watchdog(unsigned seconds);
/* A pool of `threads` workers (defaults otherwise), watched by the
 * watchdog; NULL if it cannot be created. */
crew_pool *t_pool(unsigned threads);
/* The same with a configuration of the test's own. */
crew_pool *t_pool_cfg(const crew_config *cfg);
void t_watch_pool(crew_pool *p);
void t_watchdog_off(void);
/* Until *flag is nonzero: spins a little, then yields, so that a
 * handshake between two threads that share one CPU (the other one busy)
 * does not burn a whole time slice per step. */
void t_spin_until(const _Atomic int *flag);
/* Whether thread tid is blocked in futex() (/proc/.../syscall gives the
 * number of the system call a blocked thread is in).  A chaos build's
 * sleep just before the futex call must not count. */
bool t_in_futex(pid_t tid);

/*
 * pthread_create fault injection (tests link with
 * -Wl,--wrap=pthread_create).  Calls counted from the last reset: call
 * number `at` fails with EAGAIN; with `every`, every call from `at` on
 * fails; with `modulo` > 0, calls whose number is a multiple of modulo
 * fail.  0/0/0 disables.
 */
void t_fail_create(unsigned at, int every, unsigned modulo);
unsigned t_create_calls(void);
/* While on, crew's relay stacks cannot be mapped: every mmap with
 * MAP_STACK fails with ENOMEM (tests link with -Wl,--wrap=mmap). */
void t_fail_stacks(int on);

/* Fails the current test with a message (works in Criterion and runner):
 * T_CHECK returns 1 at once, T_CHECK_OR jumps to `label` (clean-up that
 * must still run, such as destroying a pool whose tasks hold stack
 * memory; the case then returns 1 itself). */
#define T_FAILED(cond, ...)                                                   \
	do {                                                                  \
		fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,           \
		    __LINE__, cond);                                          \
		fprintf(stderr, __VA_ARGS__);                                 \
		fputc('\n', stderr);                                          \
	} while (0)
#define T_CHECK(cond, ...)                                                    \
	do {                                                                  \
		if (!(cond)) {                                                \
			T_FAILED(#cond, __VA_ARGS__);                         \
			return 1;                                             \
		}                                                             \
	} while (0)
#define T_CHECK_OR(label, cond, ...)                                          \
	do {                                                                  \
		if (!(cond)) {                                                \
			T_FAILED(#cond, __VA_ARGS__);                         \
			goto label;                                           \
		}                                                             \
	} while (0)

int crew__debug_dump(crew_pool *p, char *buf, size_t size);

/* Concurrency cases: plain functions returning 0 on success, shared by the
 * Criterion wrapper (test_conc.c) and the TSan runner (tsan_runner.c). */
struct conc_case {
	const char *name;
	int (*fn)(void);
	unsigned timeout; /* seconds, before scaling for sanitizers */
};
extern const struct conc_case conc_cases[];
extern const size_t conc_ncases;

#endif
