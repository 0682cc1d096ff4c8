/* SPDX-License-Identifier: MIT */
/*
 * Peer: a hand-rolled mutex + condition-variable pool, written the way a
 * typical user writes one (Pithikos/C-Thread-Pool, mbrossard/threadpool
 * style): THREADS workers started up front, one mutex-protected FIFO linked
 * list, pthread_cond_signal per submitted task, pthread_cond_broadcast for
 * a batch appended under one lock.  No spinning; idle workers sleep in
 * pthread_cond_wait.  Tasks are intrusive and pre-allocated like crew's,
 * and the main thread waits on the same semaphore the last task posts.
 */
#include "common.h"

#include <pthread.h>

struct mc_task {
	void (*fn)(struct mc_task *);
	struct mc_task *next;
};

struct mc_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct mc_task *head, *tail;
	int stop;
	int nthreads;
	pthread_t *threads;
};

static void *
mc_worker(void *arg)
{
	struct mc_pool *p = arg;
	struct mc_task *t;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		t = p->head;
		if (t == NULL) { /* stop and drained */
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		p->head = t->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		t->fn(t);
	}
}

static struct mc_pool *
mc_create(int n)
{
	struct mc_pool *p = calloc(1, sizeof(*p));

	if (p == NULL || (p->threads = calloc((size_t)n, sizeof(pthread_t))) == NULL) {
		perror("calloc");
		exit(1);
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (int i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, mc_worker, p) != 0) {
			perror("pthread_create");
			exit(1);
		}
	}
	p->nthreads = n;
	return p;
}

static void
mc_submit(struct mc_pool *p, struct mc_task *t)
{
	t->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = t;
	else
		p->head = t;
	p->tail = t;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Appends the list head..tail (tail->next == NULL) under one lock. */
static void
mc_submit_list(struct mc_pool *p, struct mc_task *head, struct mc_task *tail)
{
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = head;
	else
		p->head = head;
	p->tail = tail;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void
mc_destroy(struct mc_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}

/* ------------------------------------------------------------------ */

static struct mc_pool *pool;
static struct mc_task *tasks;

static void
tick_fn(struct mc_task *t)
{
	bench_tick_at(t - tasks);
}

static void
warm_fn(struct mc_task *t)
{
	(void)t;
	bench_spin_ns(200e3);
	bench_tick();
}

static void
submit_each(long n, void (*fn)(struct mc_task *))
{
	bench_arm(n, 1);
	for (long i = 0; i < n; i++) {
		tasks[i].fn = fn;
		mc_submit(pool, &tasks[i]);
	}
	bench_wait_done();
}

struct wake_task {
	struct mc_task task;
	double start_ns;
};

static void
wake_fn(struct mc_task *t)
{
	struct wake_task *w = (struct wake_task *)(void *)t;

	w->start_ns = bench_now_ns();
	sem_post(&bench_done);
}

int
main(int argc, char **argv)
{
	struct bench_cfg c;
	double t0, t1;

	bench_parse(&c, "mc", argc, argv);
	bench_init();
	pool = mc_create(c.threads);
	tasks = calloc((size_t)c.ntasks, sizeof(*tasks));
	if (tasks == NULL) {
		perror("calloc");
		return 1;
	}
	submit_each(4L * c.threads, warm_fn);

	switch (c.workload) {
	case BENCH_SUBMIT_TASK:
		for (long i = 0; i < c.ntasks; i++)
			tasks[i].fn = tick_fn;
		bench_arm(c.ntasks, 1);
		t0 = bench_now_ns();
		for (long i = 0; i < c.ntasks; i++)
			mc_submit(pool, &tasks[i]);
		bench_wait_done();
		t1 = bench_now_ns();
		bench_check_count(&c, c.ntasks);
		bench_emit_rate(&c, c.ntasks, t1 - t0);
		break;
	case BENCH_SUBMIT_BATCH: {
		struct mc_task *head = NULL, *tail = NULL;

		for (long i = 0; i < c.ntasks; i++)
			tasks[i].fn = tick_fn;
		bench_arm(c.ntasks, 1);
		t0 = bench_now_ns();
		/* Building the list is timed, like crew_batch_push. */
		for (long i = 0; i < c.ntasks; i++) {
			tasks[i].next = NULL;
			if (tail)
				tail->next = &tasks[i];
			else
				head = &tasks[i];
			tail = &tasks[i];
		}
		mc_submit_list(pool, head, tail);
		bench_wait_done();
		t1 = bench_now_ns();
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
			mc_submit(pool, &w.task);
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
	mc_destroy(pool);
	free(tasks);
	bench_emit_self_cpu();
	return 0;
}
