/* SPDX-License-Identifier: MIT */
/*
 * The process-wide pool: created once, under a mutex, on the first
 * crew_global() call; racing first calls all get the same pool.  The fast
 * path is one acquire load.
 */
#include "internal.h"

#include <stdlib.h>

static crew_pool *_Atomic global_pool;
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;

CREW_API crew_pool *
crew_global(void)
{
	/* acquire: pairs with the release store below; the pool is built */
	crew_pool *p = atomic_load_explicit(&global_pool, memory_order_acquire);
	crew_config cfg;
	const char *env;
	char *end;
	unsigned long n;

	if (CREW__LIKELY(p != NULL))
		return p;
	pthread_mutex_lock(&global_lock);
	/* relaxed: under the lock, which orders it */
	p = atomic_load_explicit(&global_pool, memory_order_relaxed);
	if (p == NULL) {
		crew_config_init(&cfg);
		cfg.name_prefix = "crew-g";
		env = getenv("CREW_THREADS");
		if (env != NULL && *env != '\0') {
			n = strtoul(env, &end, 10);
			if (*end == '\0' && n > 0 && n <= CREW_MAX_THREADS)
				cfg.max_threads = (unsigned)n;
		}
		if (crew_pool_create(&p, &cfg) != 0)
			p = NULL;
		/* release: publishes the built pool to the fast path */
		atomic_store_explicit(&global_pool, p, memory_order_release);
	}
	pthread_mutex_unlock(&global_lock);
	return p;
}

CREW_API int
crew_global_shutdown(void)
{
	crew_pool *p;
	int rc = 0;

	/* From a worker or a thread hook of the global pool: the shutdown
	 * would join this thread, and a shutdown already under way holds
	 * the lock while it does (a stop hook that calls us). */
	/* relaxed: only compared with our own pool pointers, never
	 * dereferenced; a thread of the global pool was created after the
	 * pool's publication, so it reads that pointer */
	p = atomic_load_explicit(&global_pool, memory_order_relaxed);
	if (p != NULL && crew__in_pool(p))
		return CREW_EDEADLK;
	pthread_mutex_lock(&global_lock);
	/* relaxed: under the lock */
	p = atomic_load_explicit(&global_pool, memory_order_relaxed);
	if (p != NULL) {
		rc = crew_pool_destroy(p);
		if (rc == 0)
			/* relaxed: under the lock; later callers re-create */
			atomic_store_explicit(&global_pool, NULL,
			    memory_order_relaxed);
	}
	pthread_mutex_unlock(&global_lock);
	return rc;
}
