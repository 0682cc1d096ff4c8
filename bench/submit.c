/* SPDX-License-Identifier: MIT */
/*
 * crew: submission throughput, wake latency and idle CPU.
 *
 * The pool has THREADS workers (max_threads); the main thread is not a
 * worker: it submits, then sleeps on a semaphore that the last task posts
 * (common.h; a crew_wg would add a shared RMW per task).
 *
 *   submit_task   NTASKS crew_submit() calls, one per pre-allocated task
 *   submit_batch  the same tasks crew_batch_push()ed into one batch (the
 *                 building is timed) and one crew_schedule()
 *   wake          after 20 ms idle: submit one task, latency = the task's
 *                 start timestamp - the timestamp taken just before submit
 *   idle_cpu      a burst of NTASKS submits, then CPU per second while idle
 *
 * BENCH_STATS=1 prints crew_pool_stats() to stderr at the end (parks and
 * wakeups explain most of the run-to-run spread of submit_task), and for
 * submit_batch the time to build the batch, to crew_schedule() it (which
 * checks the whole chain) and from there to the last task.  A
 * "pinned=P workers=W pin_failures=F" line tells run.sh whether CREW_PIN
 * (set per runtime by run.sh) took effect.
 */
#include "common.h"

#include <crew.h>

static crew_pool *pool;
static crew_task *tasks;

static void
tick_fn(crew_task *t)
{
	bench_tick_at(t - tasks);
}

static void
warm_fn(crew_task *t)
{
	(void)t;
	bench_spin_ns(200e3);
	bench_tick();
}

static void
must(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "crew: %s: %s\n", what, crew_strerror(rc));
		exit(1);
	}
}

/* Runs n tasks of fn, one submit each, and waits for all of them. */
static void
submit_each(long n, void (*fn)(crew_task *))
{
	bench_arm(n, 1);
	for (long i = 0; i < n; i++) {
		tasks[i].fn = fn;
		must(crew_submit(pool, &tasks[i]), "crew_submit");
	}
	bench_wait_done();
}

/* Until every worker has been spawned, run short bursts of busy tasks. */
static void
warm_up(int threads)
{
	crew_stats st;

	for (int tries = 0; tries < 50; tries++) {
		submit_each(4L * threads, warm_fn);
		crew_pool_stats(pool, &st);
		if (st.threads_spawned >= (uint64_t)threads)
			return;
	}
	fprintf(stderr, "crew: only %llu of %d workers spawned after warm-up\n",
	    (unsigned long long)st.threads_spawned, threads);
}

struct wake_task {
	crew_task task;
	double start_ns;
};

static void
wake_fn(crew_task *t)
{
	struct wake_task *w = crew_container_of(t, struct wake_task, task);

	w->start_ns = bench_now_ns();
	sem_post(&bench_done);
}

int
main(int argc, char **argv)
{
	struct bench_cfg c;
	crew_config cfg;
	double t0, t1;

	bench_parse(&c, "crew", argc, argv);
	bench_init();
	crew_config_init(&cfg);
	cfg.max_threads = (unsigned)c.threads;
	must(crew_pool_create(&pool, &cfg), "crew_pool_create");
	tasks = calloc((size_t)c.ntasks, sizeof(*tasks));
	if (tasks == NULL) {
		perror("calloc");
		return 1;
	}
	warm_up(c.threads);

	switch (c.workload) {
	case BENCH_SUBMIT_TASK:
		for (long i = 0; i < c.ntasks; i++)
			tasks[i].fn = tick_fn;
		bench_arm(c.ntasks, 1);
		t0 = bench_now_ns();
		for (long i = 0; i < c.ntasks; i++)
			must(crew_submit(pool, &tasks[i]), "crew_submit");
		bench_wait_done();
		t1 = bench_now_ns();
		bench_check_count(&c, c.ntasks);
		bench_emit_rate(&c, c.ntasks, t1 - t0);
		break;
	case BENCH_SUBMIT_BATCH: {
		crew_batch b = CREW_BATCH_INIT;
		double tb, ts;

		for (long i = 0; i < c.ntasks; i++)
			tasks[i].fn = tick_fn;
		bench_arm(c.ntasks, 1);
		t0 = bench_now_ns();
		for (long i = 0; i < c.ntasks; i++)
			crew_batch_push(&b, &tasks[i]);
		tb = bench_now_ns();
		must(crew_schedule(pool, b), "crew_schedule");
		ts = bench_now_ns();
		bench_wait_done();
		t1 = bench_now_ns();
		if (getenv("BENCH_STATS") != NULL)
			fprintf(stderr, "crew batch: built in %.3f ms, "
			    "crew_schedule %.3f ms, then done in %.3f ms\n",
			    (tb - t0) / 1e6, (ts - tb) / 1e6, (t1 - ts) / 1e6);
		bench_check_count(&c, c.ntasks);
		bench_emit_rate(&c, c.ntasks, t1 - t0);
		break;
	}
	case BENCH_WAKE: {
		double *lat = bench_alloc_samples(c.wake_total);
		struct wake_task w;

		for (int i = 0; i < c.wake_total; i++) {
			bench_sleep_ms(c.wake_idle_ms);
			w.task.fn = wake_fn;
			t0 = bench_now_ns();
			must(crew_submit(pool, &w.task), "crew_submit");
			bench_wait_done();
			lat[i] = w.start_ns - t0;
		}
		bench_emit_wake(&c, lat + c.wake_warmup, c.wake_samples);
		free(lat);
		break;
	}
	case BENCH_IDLE_CPU:
		submit_each(c.ntasks, tick_fn);
		bench_check_count(&c, c.ntasks);
		bench_idle_window(&c);
		break;
	}
	if (getenv("BENCH_STATS") != NULL) {
		crew_stats st;

		crew_pool_stats(pool, &st);
		fprintf(stderr, "crew stats: spawned=%llu tasks_run=%llu "
		    "global_pushes=%llu local_pushes=%llu stolen=%llu "
		    "steal_attempts=%llu parks=%llu wakeups=%llu pin_mode=%u "
		    "pinned=%llu pin_failures=%llu spins=%llu "
		    "spin_hits=%llu\n",
		    (unsigned long long)st.threads_spawned,
		    (unsigned long long)st.tasks_run,
		    (unsigned long long)st.global_pushes,
		    (unsigned long long)st.local_pushes,
		    (unsigned long long)st.tasks_stolen,
		    (unsigned long long)st.steal_attempts,
		    (unsigned long long)st.parks,
		    (unsigned long long)st.wakeups, st.pin_mode,
		    (unsigned long long)st.pinned_workers,
		    (unsigned long long)st.pin_failures,
		    (unsigned long long)st.spins,
		    (unsigned long long)st.spin_hits);
	}
	{
		crew_stats st;

		/* For run.sh: did CREW_PIN take effect (crew-pin)? */
		crew_pool_stats(pool, &st);
		printf("pinned=%llu workers=%llu pin_failures=%llu\n",
		    (unsigned long long)st.pinned_workers,
		    (unsigned long long)st.threads_spawned,
		    (unsigned long long)st.pin_failures);
	}
	must(crew_pool_destroy(pool), "crew_pool_destroy");
	free(tasks);
	bench_emit_self_cpu();
	return 0;
}
