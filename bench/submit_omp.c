/* SPDX-License-Identifier: MIT */
/*
 * Peer: OpenMP (libgomp with gcc), THREADS = the team size, the main
 * thread included (it is the team's master and runs tasks at the barrier).
 *
 *   submit_task   `parallel` + `single`; the single thread creates one
 *                 `omp task` per item; the region's closing barrier waits.
 *                 Timed from just before the first task is created (inside
 *                 the single, so team start-up is not counted) to the end
 *                 of the region.  Note: libgomp throttles task creation;
 *                 once more than 64 * team-size tasks are queued, the
 *                 creating thread runs each new task itself, undeferred.
 *   submit_batch  `taskloop grainsize(1)` inside the single: one construct
 *                 that creates one task per item, the closest OpenMP form of
 *                 "schedule this batch of N tasks".  Note: libgomp runs the
 *                 whole taskloop undeferred in the creating thread when its
 *                 task count exceeds 64 * team-size (GOMP_taskloop), so with
 *                 1M items this is a serial loop with per-task bookkeeping;
 *                 that is what libgomp does with this code, so we report it.
 *   wake          OpenMP has no "submit one task to an idle pool from
 *                 outside": tasks exist only inside a region.  The closest
 *                 honest equivalent is used instead: after 20 ms idle the
 *                 master starts a `parallel` region; latency = the earliest
 *                 region-entry timestamp of a non-master thread - the
 *                 timestamp taken just before the region.  It measures how
 *                 fast a parked libgomp worker is woken, like crew's wake.
 *   idle_cpu      burst as submit_task, then CPU per second while idle,
 *                 with whatever OMP_WAIT_POLICY / GOMP_SPINCOUNT the
 *                 environment has (run.sh leaves them unset: the default).
 */
#include "common.h"

#include <omp.h>

/* One task per item from the single thread; returns the timed ns. */
static double
burst_tasks(long n)
{
	double t0 = 0, t1;

	bench_arm(n, 0);
#pragma omp parallel
	{
#pragma omp single
		{
			t0 = bench_now_ns();
			for (long i = 0; i < n; i++) {
#pragma omp task
				bench_tick_at(i);
			}
		}
	}
	t1 = bench_now_ns();
	return t1 - t0;
}

static void
warm_up(int threads)
{
#pragma omp parallel
	{
#pragma omp single
		{
			for (int i = 0; i < 4 * threads; i++) {
#pragma omp task
				bench_spin_ns(200e3);
			}
		}
	}
}

int
main(int argc, char **argv)
{
	struct bench_cfg c;
	double t0 = 0, t1;

	bench_parse(&c, "omp", argc, argv);
	bench_init();
	omp_set_dynamic(0);
	omp_set_num_threads(c.threads);
	warm_up(c.threads);

	switch (c.workload) {
	case BENCH_SUBMIT_TASK: {
		double ns = burst_tasks(c.ntasks);

		bench_check_count(&c, c.ntasks);
		bench_emit_rate(&c, c.ntasks, ns);
		break;
	}
	case BENCH_SUBMIT_BATCH: {
		long n = c.ntasks;

		bench_arm(n, 0);
#pragma omp parallel
		{
#pragma omp single
			{
				t0 = bench_now_ns();
#pragma omp taskloop grainsize(1)
				for (long i = 0; i < n; i++)
					bench_tick_at(i);
			}
		}
		t1 = bench_now_ns();
		bench_check_count(&c, n);
		bench_emit_rate(&c, n, t1 - t0);
		break;
	}
	case BENCH_WAKE: {
		double *lat = bench_alloc_samples(c.wake_total);
		double *start = bench_alloc_samples(c.threads);
		int nt = 1;

		for (int i = 0; i < c.wake_total; i++) {
			bench_sleep_ms(c.wake_idle_ms);
			t0 = bench_now_ns();
#pragma omp parallel
			{
				int id = omp_get_thread_num();

				start[id] = bench_now_ns();
				if (id == 0)
					nt = omp_get_num_threads();
			}
			/* The first non-master thread to enter; with a
			 * team of one only the master exists. */
			t1 = nt > 1 ? start[1] : start[0];
			for (int k = 2; k < nt; k++)
				if (start[k] < t1)
					t1 = start[k];
			lat[i] = t1 - t0;
		}
		bench_emit_wake(&c, lat + c.wake_warmup, c.wake_samples);
		free(start);
		free(lat);
		break;
	}
	case BENCH_IDLE_CPU:
		burst_tasks(c.ntasks);
		bench_check_count(&c, c.ntasks);
		bench_idle_window(&c);
		break;
	}
	bench_emit_self_cpu();
	return 0;
}
