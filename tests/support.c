/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

size_t
t_scaled(size_t n)
{
	const char *s = getenv("CREW_TEST_SCALE");
	long k = s ? atol(s) : 1;

	if (k <= 1)
		return n;
	n /= (size_t)k;
	return n ? n : 1;
}

uint64_t
t_seed(void)
{
	static uint64_t seed;
	const char *s;

	if (seed == 0) {
		s = getenv("CREW_TEST_SEED");
		seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^
		    ((uint64_t)getpid() << 20);
		if (seed == 0)
			seed = 1;
		fprintf(stderr, "seed: CREW_TEST_SEED=%#llx\n",
		    (unsigned long long)seed);
	}
	return seed;
}

uint64_t
t_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static crew_pool *_Atomic watched;

static void
on_alarm(int sig)
{
	static char buf[8192];
	crew_pool *p = atomic_load(&watched);
	int n;

	(void)sig;
	n = snprintf(buf, sizeof(buf), "watchdog: test hung; pool state:\n");
	if (write(2, buf, (size_t)n) < 0)
		abort();
	if (p != NULL) {
		n = crew__debug_dump(p, buf, sizeof(buf));
		if (n > 0 && write(2, buf, (size_t)n) < 0)
			abort();
	}
	abort();
}

void
t_watchdog(unsigned seconds)
{
	const char *m = getenv("CREW_TEST_TIMEOUT_MULT");

	if (m)
		seconds *= (unsigned)atoi(m);
	signal(SIGALRM, on_alarm);
	alarm(seconds);
}

crew_pool *
t_pool_cfg(const crew_config *cfg)
{
	crew_pool *p = NULL;

	if (crew_pool_create(&p, cfg) != 0)
		return NULL;
	t_watch_pool(p);
	return p;
}

crew_pool *
t_pool(unsigned threads)
{
	crew_config cfg;

	crew_config_init(&cfg);
	cfg.max_threads = threads;
	return t_pool_cfg(&cfg);
}

void
t_watch_pool(crew_pool *p)
{
	atomic_store(&watched, p);
}

bool
t_in_futex(pid_t tid)
{
	char path[64];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	if (fscanf(f, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	return nr == SYS_futex;
}

void
t_spin_until(const _Atomic int *flag)
{
	for (unsigned i = 0; !atomic_load(flag); i++)
		if (i >= 64)
			sched_yield();
}

void
t_watchdog_off(void)
{
	alarm(0);
	atomic_store(&watched, NULL);
}

static atomic_uint create_calls, fail_at, fail_modulo;
static atomic_int fail_every;

void
t_fail_create(unsigned at, int every, unsigned modulo)
{
	atomic_store(&create_calls, 0);
	atomic_store(&fail_at, at);
	atomic_store(&fail_every, every);
	atomic_store(&fail_modulo, modulo);
}

unsigned
t_create_calls(void)
{
	return atomic_load(&create_calls);
}

int __real_pthread_create(pthread_t *, const pthread_attr_t *,
    void *(*)(void *), void *);
int __wrap_pthread_create(pthread_t *, const pthread_attr_t *,
    void *(*)(void *), void *);

int
__wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
    void *(*fn)(void *), void *arg)
{
	unsigned n = atomic_fetch_add(&create_calls, 1) + 1;
	unsigned at = atomic_load(&fail_at), mod = atomic_load(&fail_modulo);

	if ((at && (n == at || (atomic_load(&fail_every) && n > at))) ||
	    (mod && n % mod == 0))
		return EAGAIN;
	return __real_pthread_create(t, a, fn, arg);
}

static atomic_int fail_stacks;

void
t_fail_stacks(int on)
{
	atomic_store(&fail_stacks, on);
}

void *__real_mmap(void *, size_t, int, int, int, off_t);
void *__wrap_mmap(void *, size_t, int, int, int, off_t);

void *
__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if ((flags & MAP_STACK) && atomic_load(&fail_stacks)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return __real_mmap(addr, len, prot, flags, fd, off);
}
