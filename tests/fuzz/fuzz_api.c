/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the public API: input bytes drive a sequence of
 * create (1..4 workers), submit (one by one or as a batch), tasks that
 * submit children, crew_for, wait groups, "make the next thread start
 * fail", shutdown and destroy, on one outside thread.  Invariants: no
 * crash, leak or hang (run with -timeout), every accepted task runs exactly
 * once, refused ones never, and error codes are the documented ones.  The
 * pool is multi-threaded, so coverage is noisy: a crash finder, not proof.
 * Link with -Wl,--wrap=pthread_create.
 */
#define _GNU_SOURCE
#include "crew.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "fuzz_api: %s failed at line %d\n",   \
			    #c, __LINE__);                                    \
			abort();                                              \
		}                                                             \
	} while (0)

static atomic_int fail_next;

int __real_pthread_create(pthread_t *, const pthread_attr_t *,
    void *(*)(void *), void *);
int __wrap_pthread_create(pthread_t *, const pthread_attr_t *,
    void *(*)(void *), void *);

int
__wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
    void *(*fn)(void *), void *arg)
{
	if (atomic_exchange(&fail_next, 0))
		return EAGAIN;
	return __real_pthread_create(t, a, fn, arg);
}

#define MAXT 512

struct job {
	crew_task task;
	int child;             /* schedules tasks[child] when >= 0 */
	crew_pool *pool;
};

static struct job jobs[MAXT];
static atomic_uint runs[MAXT];
static unsigned char accepted[MAXT];
static atomic_size_t child_refused;

static void
job_fn(crew_task *t)
{
	struct job *j = crew_container_of(t, struct job, task);

	atomic_fetch_add(&runs[j - jobs], 1);
	if (j->child >= 0) {
		if (crew_submit(j->pool, &jobs[j->child].task) == 0)
			accepted[j->child] = 1;
		else
			atomic_fetch_add(&child_refused, 1);
	}
}

static atomic_size_t for_sum;

static void
for_fn(void *ctx, size_t lo, size_t hi)
{
	(void)ctx;
	atomic_fetch_add(&for_sum, hi - lo);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	crew_pool *p = NULL;
	crew_config cfg;
	unsigned next = 0;
	bool down = false;

	memset(accepted, 0, sizeof(accepted));
	for (unsigned i = 0; i < MAXT; i++)
		atomic_store(&runs[i], 0);
	atomic_store(&child_refused, 0);
	atomic_store(&fail_next, 0);
	crew_config_init(&cfg);
	cfg.max_threads = n ? 1 + d[0] % 4 : 2;
	CHECK(crew_pool_create(&p, &cfg) == 0);
	for (size_t i = 1; i < n && next < MAXT - 40; i++) {
		uint8_t op = d[i] % 7, arg = d[i] / 7;
		int rc;

		switch (op) {
		case 0: /* submit one */
		case 1: /* submit one whose task submits a child */
			jobs[next] = (struct job){ CREW_TASK_INIT(job_fn), -1, p };
			if (op == 1) {
				jobs[next].child = (int)next + 1;
				jobs[next + 1] = (struct job){ CREW_TASK_INIT(job_fn),
				    -1, p };
			}
			rc = crew_submit(p, &jobs[next].task);
			CHECK(rc == 0 || rc == CREW_EAGAIN ||
			    (down && rc == CREW_ESHUTDOWN));
			CHECK(!down || rc != 0);
			accepted[next] = rc == 0;
			next += op == 1 ? 2 : 1;
			break;
		case 2: { /* a batch of 1..16 */
			crew_batch b = CREW_BATCH_INIT;
			unsigned k = 1 + arg % 16;

			for (unsigned j = 0; j < k; j++) {
				jobs[next + j] = (struct job){ CREW_TASK_INIT(job_fn),
				    -1, p };
				CHECK(crew_batch_push(&b, &jobs[next + j].task) == 0);
			}
			rc = crew_schedule(p, b);
			CHECK(rc == 0 || rc == CREW_EAGAIN ||
			    (down && rc == CREW_ESHUTDOWN));
			for (unsigned j = 0; j < k; j++)
				accepted[next + j] = rc == 0;
			next += k;
			break;
		}
		case 3: { /* crew_for covers exactly */
			size_t len = (size_t)arg * 97, grain = arg % 5;

			atomic_store(&for_sum, 0);
			CHECK(crew_for(p, 3, 3 + len, grain, for_fn, NULL) == 0);
			CHECK(atomic_load(&for_sum) == len);
			break;
		}
		case 4: /* the next thread start fails */
			atomic_store(&fail_next, 1);
			break;
		case 5: /* a wait group around a few submits */
			if (!down) {
				crew_wg wg = CREW_WG_INIT;
				unsigned k = 1 + arg % 8, acc = 0;

				for (unsigned j = 0; j < k; j++) {
					jobs[next + j] = (struct job){
					    CREW_TASK_INIT(job_fn), -1, p };
					if (crew_submit(p, &jobs[next + j].task) == 0) {
						accepted[next + j] = 1;
						acc++;
					}
				}
				next += k;
				(void)acc;
				CHECK(crew_wg_add(&wg, 0) == 0);
				CHECK(crew_wg_wait(&wg) == 0);
			}
			break;
		case 6: /* shutdown (drains) */
			CHECK(crew_pool_shutdown(p) == 0);
			down = true;
			break;
		}
	}
	atomic_store(&fail_next, 0);
	CHECK(crew_pool_destroy(p) == 0);
	for (unsigned j = 0; j < next; j++)
		CHECK(atomic_load(&runs[j]) == accepted[j]);
	return 0;
}
