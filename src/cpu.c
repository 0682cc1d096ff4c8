/* SPDX-License-Identifier: MIT */
/*
 * How many CPUs this process may use: the affinity mask, further limited by
 * the cgroup v2 cpu.max quotas of its cgroup and its ancestors (rounded
 * up), clamped to what the sync word can count; and the time slice a
 * worker asks the kernel for on them.  The chaos hook for CREW_CHAOS
 * builds lives here too.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* cpu.max is "max PERIOD" or "QUOTA PERIOD"; returns 0 when unlimited. */
static unsigned
quota_cpus(const char *path)
{
	char buf[64];
	long long quota, period;
	FILE *f = fopen(path, "r");
	int n;

	if (f == NULL)
		return 0;
	n = fgets(buf, sizeof(buf), f) != NULL &&
	    sscanf(buf, "%lld %lld", &quota, &period) == 2;
	fclose(f);
	if (!n || quota <= 0 || period <= 0)
		return 0;
	/* More CPUs than a pool may have workers is no limit: a cast of a
	 * quota of 2^32 CPUs and more wrapped to a small count. */
	if ((quota - 1) / period + 1 > CREW_MAX_THREADS)
		return 0;
	return (unsigned)((quota - 1) / period + 1);
}

/*
 * The CPUs a cgroup v2 quota allows the process, 0 when none limits it:
 * the smallest quota of its cgroup and every ancestor below the mount
 * (a limit on a parent, say a systemd slice or a container's outer
 * cgroup, binds its children too).  proc_cgroup is the process's
 * /proc/self/cgroup, root the cgroup2 mount: parameters, so that tests
 * can give a synthetic tree.
 */
unsigned
crew__cgroup_cpus_at(const char *proc_cgroup, const char *root)
{
	char line[512], path[1024];
	unsigned best = 0, q;
	size_t len;
	FILE *f = fopen(proc_cgroup, "r");

	line[0] = '\0';
	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "0::", 3) == 0)
				break;
		if (strncmp(line, "0::", 3) != 0)
			line[0] = '\0';
		fclose(f);
	}
	line[strcspn(line, "\n")] = '\0';
	/* From the process's cgroup up to the mount's root: "0::/a/b"
	 * reads <root>/a/b, <root>/a and <root> (none: just <root>). */
	len = line[0] != '\0' ? strlen(line + 3) : 0;
	for (;;) {
		while (len > 0 && line[3 + len - 1] == '/')
			len--;
		snprintf(path, sizeof(path), "%s%.*s/cpu.max", root, (int)len,
		    line + 3);
		q = quota_cpus(path);
		if (q != 0 && (best == 0 || q < best))
			best = q;
		if (len == 0)
			break;
		while (len > 0 && line[3 + len - 1] != '/')
			len--;
	}
	return best;
}

unsigned
crew__default_threads(void)
{
	return crew__set_threads(NULL);
}

unsigned
crew__set_threads(const cpu_set_t *given)
{
	cpu_set_t set;
	long online;
	unsigned n = 0, q;

	if (given != NULL)
		n = (unsigned)CPU_COUNT(given);
	else if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = (unsigned)CPU_COUNT(&set);
	if (n == 0) {
		online = sysconf(_SC_NPROCESSORS_ONLN);
		n = online > 0 ? (unsigned)online : 1;
	}
	q = crew__cgroup_cpus_at("/proc/self/cgroup", "/sys/fs/cgroup");
	if (q != 0 && q < n)
		n = q;
	return n > CREW_MAX_THREADS ? CREW_MAX_THREADS : n;
}

_Thread_local bool crew__tls_sliced;

#ifdef SYS_sched_setattr
/* struct sched_attr as of SCHED_ATTR_SIZE_VER0 (linux/sched/types.h);
 * glibc has no wrapper for sched_getattr/sched_setattr. */
struct crew__sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};

static int
sched_attr_get(struct crew__sched_attr *a)
{
	memset(a, 0, sizeof(*a));
	return (int)syscall(SYS_sched_getattr, 0, a,
	    (unsigned)sizeof(*a), 0u);
}

/*
 * The calling thread asks for a slice of ns (0: the kernel's default),
 * keeping its policy, nice value and reset-on-fork flag; only
 * SCHED_OTHER and SCHED_BATCH threads ask (Linux 6.18 takes the call for
 * SCHED_IDLE but changes nothing).  Since Linux 6.12 the fair scheduler
 * takes sched_runtime as the slice wanted (clamped to 0.1-100 ms) and
 * sched_getattr reports the slice in effect; earlier kernels take the
 * call, ignore it and report 0.  The read and the write are two calls: a
 * renice of the thread between them (by another process, on a thread id
 * it has just seen appear) is undone.
 */
bool
crew__slice_set(uint64_t ns)
{
	struct crew__sched_attr a;

	if (sched_attr_get(&a) != 0 || (a.sched_policy != SCHED_OTHER &&
	    a.sched_policy != SCHED_BATCH))
		return false;
	a.size = (uint32_t)sizeof(a);
	a.sched_flags &= 0x01; /* SCHED_FLAG_RESET_ON_FORK */
	a.sched_priority = 0;
	a.sched_runtime = ns;
	a.sched_deadline = a.sched_period = 0;
	if (syscall(SYS_sched_setattr, 0, &a, 0u) != 0)
		return false;
	if (ns == 0) {
		crew__tls_sliced = false;
		return true;
	}
	crew__tls_sliced = sched_attr_get(&a) == 0 && a.sched_runtime == ns;
	return crew__tls_sliced;
}
#else
/* Kernel headers before Linux 3.14: no sched_setattr to ask with. */
bool
crew__slice_set(uint64_t ns)
{
	(void)ns;
	return false;
}
#endif

#ifdef CREW_CHAOS
#include <time.h>

/* Yields or sleeps a little with probability 1/16 at racy points. */
void
crew__chaos_point(void)
{
	static _Thread_local uint32_t x;
	struct timespec ts;

	if (x == 0)
		x = (uint32_t)(uintptr_t)&x | 1;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	if ((x & 15) != 0)
		return;
	if (x & 16) {
		sched_yield();
	} else {
		ts.tv_sec = 0;
		ts.tv_nsec = (long)((x >> 8) % 50) * 1000;
		nanosleep(&ts, NULL);
	}
}
#endif
