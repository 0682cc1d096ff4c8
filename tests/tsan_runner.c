/* SPDX-License-Identifier: MIT */
/*
 * Plain runner for the concurrency cases, for builds where Criterion cannot
 * start (ThreadSanitizer).  Runs every case (or those named on the command
 * line) in-process, one after another, each under a watchdog, and ends with
 * "N passed, N failed".
 */
#include "support.h"

#include <string.h>

int
main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;

	(void)t_seed();
	for (size_t i = 0; i < conc_ncases; i++) {
		const struct conc_case *c = &conc_cases[i];
		int want = argc < 2, rc;

		for (int a = 1; a < argc; a++)
			want |= strcmp(argv[a], c->name) == 0;
		if (!want)
			continue;
		fprintf(stderr, "[ RUN  ] %s\n", c->name);
		t_watchdog(c->timeout * 3);
		rc = c->fn();
		t_watchdog_off();
		fprintf(stderr, "[ %s ] %s\n", rc == 0 ? " OK " : "FAIL", c->name);
		if (rc == 0)
			passed++;
		else
			failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
