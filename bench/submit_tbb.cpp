// SPDX-License-Identifier: MIT
/*
 * Peer: oneTBB (Debian libtbb-dev 2021.8).  THREADS = max_allowed_parallelism
 * through tbb::global_control: THREADS - 1 worker threads plus the main
 * thread, which joins in (runs tasks) while it waits in task_group::wait.
 *
 *   submit_task   one task_group::run per item from the main thread, then
 *                 task_group::wait.  (TBB allocates each task object.)
 *   submit_batch  tbb::parallel_for over blocked_range(0, N, grainsize 1)
 *                 with simple_partitioner: the idiomatic "run these N items"
 *                 form, forced to one leaf task per item so that it, like a
 *                 crew batch, schedules N tasks (the default auto_partitioner
 *                 would chunk and measure loop overhead instead).
 *   wake          after 20 ms idle, task_group::run of one task from the
 *                 main thread, which then sleeps on a semaphore the task
 *                 posts (a task_group::wait right away would run the task on
 *                 the main thread itself and measure nothing); latency = the
 *                 task's start timestamp - the timestamp taken before run.
 *                 task_group::wait afterwards only retires the group.
 *                 With THREADS=1 TBB has no worker thread at all, so the
 *                 main thread's task_group::wait runs the task itself.
 *   idle_cpu      burst as submit_task, then CPU per second while idle.
 */
#include "common.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_group.h>

static double
burst_tasks(tbb::task_group &tg, long n)
{
	bench_arm(n, 0);
	double t0 = bench_now_ns();
	for (long i = 0; i < n; i++)
		tg.run([i] { bench_tick_at(i); });
	tg.wait();
	return bench_now_ns() - t0;
}

int
main(int argc, char **argv)
{
	struct bench_cfg c;

	bench_parse(&c, "tbb", argc, argv);
	bench_init();
	tbb::global_control gc(tbb::global_control::max_allowed_parallelism,
	    (size_t)c.threads);
	tbb::task_group tg;

	// Warm-up: bring every worker up.
	tbb::parallel_for(tbb::blocked_range<int>(0, 4 * c.threads, 1),
	    [](const tbb::blocked_range<int> &r) {
		    for (int i = r.begin(); i != r.end(); ++i)
			    bench_spin_ns(200e3);
	    },
	    tbb::simple_partitioner());

	switch (c.workload) {
	case BENCH_SUBMIT_TASK: {
		double ns = burst_tasks(tg, c.ntasks);

		bench_check_count(&c, c.ntasks);
		bench_emit_rate(&c, c.ntasks, ns);
		break;
	}
	case BENCH_SUBMIT_BATCH: {
		long n = c.ntasks;

		bench_arm(n, 0);
		double t0 = bench_now_ns();
		tbb::parallel_for(tbb::blocked_range<long>(0, n, 1),
		    [](const tbb::blocked_range<long> &r) {
			    for (long i = r.begin(); i != r.end(); ++i)
				    bench_tick_at(i);
		    },
		    tbb::simple_partitioner());
		double t1 = bench_now_ns();
		bench_check_count(&c, n);
		bench_emit_rate(&c, n, t1 - t0);
		break;
	}
	case BENCH_WAKE: {
		double *lat = bench_alloc_samples(c.wake_total);
		double start = 0;

		for (int i = 0; i < c.wake_total; i++) {
			bench_sleep_ms(c.wake_idle_ms);
			double t0 = bench_now_ns();
			tg.run([&start] {
				start = bench_now_ns();
				sem_post(&bench_done);
			});
			if (c.threads == 1) // no worker thread: main runs it
				tg.wait();
			bench_wait_done();
			tg.wait();
			lat[i] = start - t0;
		}
		bench_emit_wake(&c, lat + c.wake_warmup, c.wake_samples);
		free(lat);
		break;
	}
	case BENCH_IDLE_CPU:
		burst_tasks(tg, c.ntasks);
		bench_check_count(&c, c.ntasks);
		bench_idle_window(&c);
		break;
	}
	bench_emit_self_cpu();
	return 0;
}
