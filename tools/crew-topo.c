/* SPDX-License-Identifier: MIT */
/*
 * crew-topo: prints the machine as crew sees it (packages, NUMA nodes, L3,
 * L2, cores, PUs), the pin plan of a pool and every worker's victim order.
 *
 *   build/crew-topo [--pin MODE] [--threads N] [--synthetic DESC]
 *                   [--usable LIST]
 *
 * MODE: none, cores, pus or numa (default: CREW_PIN from the environment,
 * as crew_config_init() reads it).  N: workers (default: the CPUs this
 * process may use, as a pool's max_threads 0).  DESC: an hwloc synthetic
 * topology, e.g. "pack:2 numa:2 l3:2 core:4 pu:2", instead of this
 * machine; LIST (synthetic only): the usable CPUs, e.g. "0-7,16".
 *
 * It builds the plan with the same internal function crew_pool_create()
 * uses (linked statically), so what it prints is what a pool would do,
 * except that nothing is bound.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const class_names[] = { "core/l2", "l3", "numa", "rest" };

static void
usage(FILE *f)
{
	fprintf(f, "usage: crew-topo [--pin none|cores|pus|numa] "
	    "[--threads N] [--synthetic DESC] [--usable LIST]\n");
}

static void
print_id(const char *name, int v)
{
	if (v >= 0)
		printf(" %s %d", name, v);
	else
		printf(" %s -", name);
}

static void
print_worker(const struct crew__plan *pl, unsigned i, unsigned n,
    uint16_t *order)
{
	struct crew__place pc;
	unsigned len;
	int cls = -1, c;

	crew__topo_place(pl, i, &pc);
	printf("  worker %u:", i);
	if (!pc.pinned)
		printf(" unpinned");
	else if (pc.ncpus == 1)
		printf(" cpu %d", pc.cpu);
	else
		printf(" %d cpus from %d", pc.ncpus, pc.cpu);
	print_id("core", pc.core);
	print_id("l2", pc.l2);
	print_id("l3", pc.l3);
	print_id("numa", pc.numa);
	printf("\n    victims:");
	len = crew__topo_victims(pl, i, n, order);
	for (unsigned k = 0; k < len; k++) {
		if ((c = crew__topo_class(pl, i, order[k])) != cls) {
			printf("%s %s:", k ? " |" : "", class_names[c]);
			cls = c;
		}
		printf(" %u", order[k]);
	}
	printf("%s\n", len ? "" : " (none)");
}

int
main(int argc, char **argv)
{
	const char *synthetic = NULL, *usable = NULL;
	struct crew__plan *pl;
	crew_config cfg;
	unsigned n = 0;
	uint16_t *order;
	char *text, *end;
	int len, rc;

	crew_config_init(&cfg);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (v == NULL) {
			usage(stderr);
			return 2;
		}
		i++;
		if (strcmp(a, "--pin") == 0) {
			if (!crew__pin_parse(v, &cfg.pin)) {
				fprintf(stderr, "crew-topo: bad mode %s\n", v);
				return 2;
			}
		} else if (strcmp(a, "--threads") == 0) {
			unsigned long t = strtoul(v, &end, 10);

			if (*end != '\0' || t == 0 || t > CREW_MAX_THREADS) {
				fprintf(stderr, "crew-topo: bad thread count "
				    "%s (1..%u)\n", v, CREW_MAX_THREADS);
				return 2;
			}
			n = (unsigned)t;
		} else if (strcmp(a, "--synthetic") == 0) {
			synthetic = v;
		} else if (strcmp(a, "--usable") == 0) {
			usable = v;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (n == 0)
		n = crew__default_threads();
	if (synthetic != NULL)
		rc = crew__topo_plan_synthetic(&pl, synthetic, usable, cfg.pin,
		    n);
	else if (usable != NULL)
		rc = CREW_EINVAL;
	else
		rc = crew__topo_plan(&pl, cfg.pin, n, NULL);
	if (rc != 0) {
		fprintf(stderr, "crew-topo: %s\n", rc == CREW_EINVAL ?
		    "hwloc rejected the synthetic description or CPU list "
		    "(--usable needs --synthetic)" : crew_strerror(rc));
		return 1;
	}
	len = crew__topo_format(pl, NULL, 0);
	if ((text = malloc((size_t)len + 1)) == NULL ||
	    (order = malloc(sizeof(*order) * n)) == NULL) {
		fprintf(stderr, "crew-topo: out of memory\n");
		return 1;
	}
	crew__topo_format(pl, text, (size_t)len + 1);
	fputs(text, stdout);
	printf("plan: mode %s", crew__pin_name(crew__topo_mode(pl)));
	if (crew__topo_failed(pl))
		printf(" (asked for %s: no usable topology, workers run "
		    "unpinned)", crew__pin_name(cfg.pin));
	printf(", %u workers, %u places%s\n", n, crew__topo_nplaces(pl),
	    crew__topo_nplaces(pl) && n > crew__topo_nplaces(pl) ?
	    " (wraps around: worker i takes place i mod places)" : "");
	if (cfg.pin == CREW_PIN_NONE && crew__topo_nplaces(pl))
		printf("  (unpinned; victim classes as if pinned to cores)\n");
	for (unsigned i = 0; i < n; i++)
		print_worker(pl, i, n, order);
	free(order);
	free(text);
	crew__topo_plan_free(pl);
	return 0;
}
