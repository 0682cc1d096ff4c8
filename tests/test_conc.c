/* SPDX-License-Identifier: MIT */
/* Criterion wrapper over the concurrency cases of conc.c. */
#include "support.h"
#include "conc_list.h"

#include <criterion/criterion.h>


#define CONC_TEST(name, secs)                                              \
	Test(conc, name, .timeout = (secs) * 3)                            \
	{                                                                     \
		t_watchdog((secs) * 2);                                    \
		cr_assert_eq(t_##name(), 0, "%s failed (see stderr)", #name); \
		t_watchdog_off();                                             \
	}
CONC_CASES(CONC_TEST)
