/* SPDX-License-Identifier: GPL-2.0 */
/* One PASS/FAIL line per check, as tests/lib.sh prints them. */
#ifndef DMASCOPE_UNIT_CHECK_H
#define DMASCOPE_UNIT_CHECK_H

#include <stdio.h>

static int failures;

static void check(const char *name, int ok, const char *detail)
{
	if (ok) {
		printf("PASS unit-%s\n", name);
	} else {
		printf("FAIL unit-%s: %s\n", name, detail);
		failures++;
	}
	fflush(stdout);
}

#endif
