/* SPDX-License-Identifier: MIT */
/*
 * Topology and pin plans: the only file that includes <hwloc.h>.
 *
 * A plan is built once per pool, at crew_pool_create(), and never changes.
 * It is a short list of *places* (cpusets within the CPUs the creating
 * thread may use, in hwloc's logical order, which walks the machine
 * package by package, L3 by L3, L2 by L2): the usable cores (CREW_PIN_CORES
 * and, for the victim order only, CREW_PIN_NONE), the usable PUs
 * (CREW_PIN_PUS) or the NUMA nodes that have usable CPUs (CREW_PIN_NUMA).
 * Worker i takes place i mod nplaces, so a pool larger than the machine
 * wraps around and shares places, and no per-worker array of max_threads
 * (up to 16383) entries is ever built at create time.
 *
 * Each place records the core, L2 and L3 (logical indices) and the NUMA
 * node (OS index) whose cpusets hold the whole place, or -1.  Those give
 * every pair of workers a victim class: same core or L2, same L3, same
 * NUMA node, or the rest (a core's hardware threads share its private
 * caches, so "same core" also counts as "same L2" on topologies that do
 * not report caches).  A worker's victim order lists the other workers
 * class by class, nearest first, and within a class in round-robin order
 * starting after itself (self + 1, ..., then from 0).  Workers compute
 * their own order (crew__topo_victims) when they see more workers
 * published, so the per-steal cost is one array load per victim.
 *
 * The machine's topology is loaded once per process (about 1 ms) and
 * shared, reference-counted, by every pool's plan; a library destructor
 * drops the cache's own reference so that a program whose pools are all
 * destroyed ends with nothing of hwloc allocated.  hwloc allows concurrent
 * read-only use of a loaded topology, which is all that binding and
 * allocation do.  A topology that cannot be loaded is not cached: the
 * next pool tries again.
 *
 * Failure policy: nothing here makes a pool or a worker fail.  No topology
 * or no usable place gives a plan without places (victims in plain
 * round-robin order; `failed` when pinning was asked for); a refused
 * binding leaves that worker unpinned; memory that cannot be bound to the
 * node comes from the heap.  The pool counts the first two in crew_stats.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <hwloc.h>
#include <hwloc/glibc-sched.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A loaded topology, shared by plans. */
struct crew__topo {
	hwloc_topology_t t;     /* I */
	_Atomic uint32_t refs;  /* S */
	bool system;            /* I: describes this machine: binding works */
};

struct place {
	hwloc_bitmap_t cpuset;  /* the place's usable CPUs */
	hwloc_bitmap_t nodeset; /* its NUMA node's nodeset; NULL if numa < 0 */
	struct crew__place pub; /* pinned: unused here, set by crew__topo_place */
};

struct crew__plan {
	struct crew__topo *topo;  /* NULL: no topology could be loaded */
	hwloc_bitmap_t usable;    /* CPUs the plan may use; NULL without topo */
	enum crew_pin mode;       /* in effect */
	bool bind;                /* workers bind to their places */
	bool failed;              /* pinning asked for, no place to pin to */
	unsigned nthreads;
	unsigned nplaces;
	struct place *places;
};

/* ------------------------------------------------------------------ */
/* Topologies.                                                         */

/* Loads this machine's topology (desc NULL) or a synthetic one. */
static struct crew__topo *
topo_load(const char *desc)
{
	struct crew__topo *tp = calloc(1, sizeof(*tp));

	if (tp == NULL)
		return NULL;
	if (hwloc_topology_init(&tp->t) != 0) {
		free(tp);
		return NULL;
	}
	/*
	 * Linux's sysfs gives packages, cores, caches and NUMA nodes.  The
	 * x86 (cpuid) component would add little and, to run cpuid on every
	 * PU, moves the calling thread (the pool's creator) across all CPUs
	 * in turn; it also prints to stderr under Valgrind.  Leave it out.
	 */
	if ((desc != NULL && hwloc_topology_set_synthetic(tp->t, desc) != 0) ||
	    (desc == NULL && hwloc_topology_set_components(tp->t,
	    HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "x86") != 0) ||
	    hwloc_topology_load(tp->t) != 0) {
		hwloc_topology_destroy(tp->t);
		free(tp);
		return NULL;
	}
	tp->system = desc == NULL && hwloc_topology_is_thissystem(tp->t);
	atomic_init(&tp->refs, 1);
	return tp;
}

static void
topo_put(struct crew__topo *tp)
{
	/* acq_rel: every holder's use happens before the last one frees */
	if (atomic_fetch_sub_explicit(&tp->refs, 1, memory_order_acq_rel) != 1)
		return;
	hwloc_topology_destroy(tp->t);
	free(tp);
}

static pthread_mutex_t sys_lock = PTHREAD_MUTEX_INITIALIZER;
static struct crew__topo *sys_topo; /* sys_lock; holds one reference */

/* A new reference to this machine's topology, or NULL. */
static struct crew__topo *
topo_system(void)
{
	struct crew__topo *tp;

	pthread_mutex_lock(&sys_lock);
	if (sys_topo == NULL)
		sys_topo = topo_load(NULL);
	if ((tp = sys_topo) != NULL)
		/* relaxed: taken from the cache's reference, under the lock */
		atomic_fetch_add_explicit(&tp->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&sys_lock);
	return tp;
}

/* At exit (or unload): pools still alive keep their own references. */
__attribute__((destructor)) static void
topo_system_drop(void)
{
	struct crew__topo *tp;

	pthread_mutex_lock(&sys_lock);
	tp = sys_topo;
	sys_topo = NULL;
	pthread_mutex_unlock(&sys_lock);
	if (tp != NULL)
		topo_put(tp);
}

/* ------------------------------------------------------------------ */
/* Building plans.                                                     */

/* The nearest object of `type` at or above obj, or NULL. */
static hwloc_obj_t
ancestor_of_type(hwloc_obj_t obj, hwloc_obj_type_t type)
{
	while (obj != NULL && obj->type != type)
		obj = obj->parent;
	return obj;
}

/* The first NUMA node (logical order) whose CPUs include set, or NULL. */
static hwloc_obj_t
node_of(hwloc_topology_t t, hwloc_const_bitmap_t set)
{
	hwloc_obj_t node = NULL;

	while ((node = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE,
	    node)) != NULL) {
		if (node->cpuset != NULL && hwloc_bitmap_isincluded(set,
		    node->cpuset))
			return node;
	}
	return NULL;
}

static int
index_of(hwloc_obj_t obj)
{
	return obj != NULL ? (int)obj->logical_index : -1;
}

/* Fills the numbers of a place whose cpuset is set; false: no memory. */
static bool
place_describe(hwloc_topology_t t, struct place *pc)
{
	hwloc_obj_t cover = hwloc_get_obj_covering_cpuset(t, pc->cpuset);
	hwloc_obj_t node = node_of(t, pc->cpuset);

	pc->pub.pinned = false;
	pc->pub.cpu = hwloc_bitmap_first(pc->cpuset);
	pc->pub.ncpus = hwloc_bitmap_weight(pc->cpuset);
	pc->pub.core = index_of(ancestor_of_type(cover, HWLOC_OBJ_CORE));
	pc->pub.l2 = index_of(ancestor_of_type(cover, HWLOC_OBJ_L2CACHE));
	pc->pub.l3 = index_of(ancestor_of_type(cover, HWLOC_OBJ_L3CACHE));
	pc->pub.numa = node != NULL ? (int)node->os_index : -1;
	if (node != NULL && node->nodeset != NULL &&
	    (pc->nodeset = hwloc_bitmap_dup(node->nodeset)) == NULL)
		return false;
	return true;
}

/*
 * The places of `mode` (CORES for NONE): every object of its type whose
 * CPUs meet the usable set, in logical order, cut to the usable CPUs.
 */
static int
plan_places(struct crew__plan *pl, enum crew_pin mode)
{
	hwloc_topology_t t = pl->topo->t;
	hwloc_obj_type_t type = mode == CREW_PIN_PUS ? HWLOC_OBJ_PU :
	    mode == CREW_PIN_NUMA ? HWLOC_OBJ_NUMANODE : HWLOC_OBJ_CORE;
	hwloc_obj_t obj = NULL;
	struct place *pc;
	int n;

	/* A machine that reports no cores: its PUs are the cores. */
	if (type == HWLOC_OBJ_CORE && hwloc_get_nbobjs_by_type(t, type) <= 0)
		type = HWLOC_OBJ_PU;
	n = hwloc_get_nbobjs_by_type(t, type);
	if (n <= 0)
		return 0;
	if ((pl->places = calloc((size_t)n, sizeof(*pl->places))) == NULL)
		return CREW_ENOMEM;
	while ((obj = hwloc_get_next_obj_by_type(t, type, obj)) != NULL &&
	    pl->nplaces < (unsigned)n) {
		if (obj->cpuset == NULL ||
		    !hwloc_bitmap_intersects(obj->cpuset, pl->usable))
			continue;
		pc = &pl->places[pl->nplaces];
		if ((pc->cpuset = hwloc_bitmap_alloc()) == NULL)
			return CREW_ENOMEM;
		pl->nplaces++; /* from here crew__topo_plan_free frees it */
		hwloc_bitmap_and(pc->cpuset, obj->cpuset, pl->usable);
		if (!place_describe(t, pc))
			return CREW_ENOMEM;
	}
	return 0;
}

/*
 * The CPUs a plan may use: hwloc's allowed set, cut to the CPU list
 * `list` when given, else to `cpus` (the pool's CPUs), else to the calling
 * thread's affinity mask.
 */
static int
plan_usable(struct crew__plan *pl, const char *list, const cpu_set_t *cpus)
{
	hwloc_topology_t t = pl->topo->t;
	hwloc_bitmap_t mask;
	int rc = 0;

	pl->usable = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t));
	if (pl->usable == NULL || (mask = hwloc_bitmap_alloc()) == NULL)
		return CREW_ENOMEM;
	if (list != NULL) {
		if (hwloc_bitmap_list_sscanf(mask, list) != 0)
			rc = CREW_EINVAL;
		else
			hwloc_bitmap_and(pl->usable, pl->usable, mask);
	} else if (pl->topo->system && cpus != NULL) {
		(void)hwloc_cpuset_from_glibc_sched_affinity(t, mask, cpus,
		    sizeof(*cpus));
		hwloc_bitmap_and(pl->usable, pl->usable, mask);
	} else if (pl->topo->system &&
	    hwloc_get_cpubind(t, mask, HWLOC_CPUBIND_THREAD) == 0) {
		hwloc_bitmap_and(pl->usable, pl->usable, mask);
	}
	hwloc_bitmap_free(mask);
	return rc;
}

/* Takes over the reference tp (which may be NULL). */
static int
plan_build(struct crew__plan **out, struct crew__topo *tp, const char *list,
    const cpu_set_t *cpus, enum crew_pin mode, unsigned nthreads)
{
	struct crew__plan *pl = calloc(1, sizeof(*pl));
	int rc = 0;

	*out = NULL;
	if (pl == NULL) {
		if (tp != NULL)
			topo_put(tp);
		return CREW_ENOMEM;
	}
	pl->topo = tp;
	pl->mode = mode;
	pl->nthreads = nthreads;
	if (tp != NULL && (rc = plan_usable(pl, list, cpus)) == 0)
		rc = plan_places(pl, mode == CREW_PIN_NONE ? CREW_PIN_CORES :
		    mode);
	if (rc != 0) {
		crew__topo_plan_free(pl);
		return rc;
	}
	if (pl->nplaces == 0) {
		/* No topology, or no usable CPU in it: nothing to pin to. */
		pl->failed = mode != CREW_PIN_NONE;
		pl->mode = CREW_PIN_NONE;
	}
	pl->bind = pl->mode != CREW_PIN_NONE;
	*out = pl;
	return 0;
}

int
crew__topo_plan(struct crew__plan **out, enum crew_pin mode, unsigned nthreads,
    const cpu_set_t *cpus)
{
	return plan_build(out, topo_system(), NULL, cpus, mode, nthreads);
}

int
crew__topo_plan_synthetic(struct crew__plan **out, const char *desc,
    const char *usable, enum crew_pin mode, unsigned nthreads)
{
	struct crew__topo *tp;

	*out = NULL;
	if (desc == NULL || (tp = topo_load(desc)) == NULL)
		return CREW_EINVAL;
	return plan_build(out, tp, usable, NULL, mode, nthreads);
}

void
crew__topo_plan_free(struct crew__plan *pl)
{
	if (pl == NULL)
		return;
	for (unsigned i = 0; i < pl->nplaces; i++) {
		hwloc_bitmap_free(pl->places[i].cpuset);
		hwloc_bitmap_free(pl->places[i].nodeset);
	}
	free(pl->places);
	hwloc_bitmap_free(pl->usable);
	if (pl->topo != NULL)
		topo_put(pl->topo);
	free(pl);
}

/* ------------------------------------------------------------------ */
/* Reading plans.                                                      */

enum crew_pin
crew__topo_mode(const struct crew__plan *pl)
{
	return pl->mode;
}

bool
crew__topo_failed(const struct crew__plan *pl)
{
	return pl->failed;
}

unsigned
crew__topo_nplaces(const struct crew__plan *pl)
{
	return pl->nplaces;
}

static const struct place *
place_of(const struct crew__plan *pl, unsigned worker)
{
	return pl->nplaces ? &pl->places[worker % pl->nplaces] : NULL;
}

void
crew__topo_place(const struct crew__plan *pl, unsigned worker,
    struct crew__place *out)
{
	const struct place *pc = place_of(pl, worker);

	if (pc == NULL) {
		*out = (struct crew__place){ false, -1, 0, -1, -1, -1, -1 };
		return;
	}
	*out = pc->pub;
	out->pinned = pl->bind;
}

static bool
same(int a, int b)
{
	return a >= 0 && a == b;
}

int
crew__topo_class(const struct crew__plan *pl, unsigned self, unsigned other)
{
	const struct place *a = place_of(pl, self), *b = place_of(pl, other);

	if (a == NULL)
		return CREW__V_REST;
	if (same(a->pub.core, b->pub.core) || same(a->pub.l2, b->pub.l2))
		return CREW__V_L2;
	if (same(a->pub.l3, b->pub.l3))
		return CREW__V_L3;
	if (same(a->pub.numa, b->pub.numa))
		return CREW__V_NUMA;
	return CREW__V_REST;
}

/*
 * The victim order as a counting sort by class over the round-robin
 * sequence self + 1, self + 2, ... (mod m), m = max(n, self + 1), with
 * indices >= n left out; entries past `limit` are counted, not stored.
 */
static unsigned
victims(const struct crew__plan *pl, unsigned self, unsigned n,
    uint16_t *out16, unsigned *out, size_t limit)
{
	unsigned count[CREW__V_REST + 1] = { 0 }, at[CREW__V_REST + 1];
	unsigned m = n > self ? n : self + 1, len = 0, j;
	int c;

	for (unsigned k = 1; k < m; k++) {
		if ((j = (self + k) % m) < n)
			count[crew__topo_class(pl, self, j)]++;
	}
	for (c = 0; c <= CREW__V_REST; c++) {
		at[c] = len;
		len += count[c];
	}
	for (unsigned k = 1; k < m; k++) {
		if ((j = (self + k) % m) >= n)
			continue;
		c = crew__topo_class(pl, self, j);
		if (at[c] < limit) {
			if (out16 != NULL)
				out16[at[c]] = (uint16_t)j;
			else
				out[at[c]] = j;
		}
		at[c]++;
	}
	return len;
}

unsigned
crew__topo_victims(const struct crew__plan *pl, unsigned self, unsigned n,
    uint16_t *out)
{
	return victims(pl, self, n, out, NULL, (size_t)-1);
}

unsigned
crew__topo_victims_u(const struct crew__plan *pl, unsigned self, unsigned n,
    unsigned *out, size_t limit)
{
	return victims(pl, self, n, NULL, out, out != NULL ? limit : 0);
}

/* ------------------------------------------------------------------ */
/* Binding and memory.                                                 */

int
crew__topo_bind(const struct crew__plan *pl, unsigned worker)
{
	const struct place *pc = place_of(pl, worker);

	if (pl->failed)
		return -1;
	if (!pl->bind)
		return 0;
	if (!pl->topo->system)
		return -1; /* a synthetic or foreign topology: nothing to bind */
	if (hwloc_set_cpubind(pl->topo->t, pc->cpuset,
	    HWLOC_CPUBIND_THREAD) == 0)
		return 1;
	return -1; /* the caller runs the worker on the pool's CPUs */
}

void *
crew__topo_alloc(const struct crew__plan *pl, unsigned worker, size_t size,
    bool *mem_bound)
{
	const struct place *pc = place_of(pl, worker);
	void *p;

	*mem_bound = false;
	if (pl->bind && pl->topo->system && pc->nodeset != NULL) {
		/* Fresh pages (mmap) bound before the first touch, so the
		 * spawner's initialising writes already land on the node. */
		p = hwloc_alloc_membind(pl->topo->t, size, pc->nodeset,
		    HWLOC_MEMBIND_BIND,
		    HWLOC_MEMBIND_STRICT | HWLOC_MEMBIND_BYNODESET);
		if (p != NULL) {
			*mem_bound = true;
			return p;
		}
	}
	return aligned_alloc(CREW__PAGE, CREW__PAGE_ROUND(size));
}

void
crew__topo_free(const struct crew__plan *pl, void *block, size_t size,
    bool mem_bound)
{
	if (mem_bound)
		(void)hwloc_free(pl->topo->t, block, size);
	else
		free(block);
}

/* ------------------------------------------------------------------ */
/* Describing the topology (for tools/crew-topo).                      */

struct text {
	char *buf;
	size_t size;
	size_t len;
};

static void __attribute__((format(printf, 2, 3)))
put(struct text *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(o->len < o->size ? o->buf + o->len : NULL,
	    o->len < o->size ? o->size - o->len : 0, fmt, ap);
	va_end(ap);
	if (k > 0)
		o->len += (size_t)k;
}

static void
put_set(struct text *o, hwloc_const_bitmap_t set)
{
	char *s = NULL;

	if (hwloc_bitmap_list_asprintf(&s, set) >= 0 && s != NULL)
		put(o, "%s", s);
	free(s);
}

static void
put_memory(struct text *o, hwloc_obj_t obj, int depth)
{
	for (hwloc_obj_t m = obj->memory_first_child; m; m = m->next_sibling) {
		if (m->type != HWLOC_OBJ_NUMANODE) {
			put_memory(o, m, depth);
			continue;
		}
		put(o, "%*sNUMANode P#%u cpus ", 2 * depth, "", m->os_index);
		put_set(o, m->cpuset);
		put(o, "\n");
	}
}

static const char *
kind_name(hwloc_obj_type_t type)
{
	switch (type) {
	case HWLOC_OBJ_L3CACHE:
		return "L3";
	case HWLOC_OBJ_L2CACHE:
		return "L2";
	default:
		return hwloc_obj_type_string(type);
	}
}

/* Prints the kinds crew uses and walks through the others (groups, L1). */
static void
put_tree(struct text *o, const struct crew__plan *pl, hwloc_obj_t obj,
    int depth)
{
	bool shown = obj->type == HWLOC_OBJ_PACKAGE ||
	    obj->type == HWLOC_OBJ_L3CACHE || obj->type == HWLOC_OBJ_L2CACHE ||
	    obj->type == HWLOC_OBJ_CORE || obj->type == HWLOC_OBJ_PU;

	if (obj->type == HWLOC_OBJ_PU) {
		put(o, "%*sPU L#%u P#%u%s\n", 2 * depth, "",
		    obj->logical_index, obj->os_index,
		    hwloc_bitmap_isset(pl->usable, obj->os_index) ? "" :
		    " (not usable)");
	} else if (shown) {
		put(o, "%*s%s L#%u cpus ", 2 * depth, "",
		    kind_name(obj->type), obj->logical_index);
		put_set(o, obj->cpuset);
		put(o, "\n");
	}
	depth += shown;
	put_memory(o, obj, depth);
	for (hwloc_obj_t c = obj->first_child; c; c = c->next_sibling)
		put_tree(o, pl, c, depth);
}

int
crew__topo_format(const struct crew__plan *pl, char *buf, size_t size)
{
	static const hwloc_obj_type_t kinds[] = { HWLOC_OBJ_PACKAGE,
		HWLOC_OBJ_NUMANODE, HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L2CACHE,
		HWLOC_OBJ_CORE, HWLOC_OBJ_PU };
	struct text o = { buf, size, 0 };
	hwloc_topology_t t;

	if (size > 0)
		buf[0] = '\0';
	if (pl->topo == NULL) {
		put(&o, "topology: unavailable (hwloc could not load it)\n");
		return (int)o.len;
	}
	t = pl->topo->t;
	put(&o, "topology: %s;", pl->topo->system ? "this machine" :
	    "synthetic");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		put(&o, "%s %d %s", i ? "," : "",
		    hwloc_get_nbobjs_by_type(t, kinds[i]), kind_name(kinds[i]));
	put(&o, "\nusable cpus: ");
	put_set(&o, pl->usable);
	put(&o, "\n");
	put_tree(&o, pl, hwloc_get_root_obj(t), 0);
	return (int)o.len;
}
