// SPDX-License-Identifier: GPL-2.0
/*
 * JSON a program can use: write times and counters, read the text back
 * the way a consumer would, and get the same numbers exactly.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "check.h"

/* The text after "key": in a one-line object */
static const char *value_of(const char *json, const char *key)
{
	char pattern[64];
	const char *p;

	snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	p = strstr(json, pattern);
	return p ? p + strlen(pattern) : "";
}

static void test_time(void)
{
	static const uint64_t times[] = { 1795300000123456789ULL, 1795300000000000001ULL,
					  1795386400999999999ULL, 0 };
	struct dms_buf b = {};
	struct dms_json j;
	char detail[128], name[32];
	int i;

	for (i = 0; i < 4; i++) {
		unsigned long long sec = 0, frac = 0;
		uint64_t back;
		double approx;
		int n = 0;

		dms_buf_reset(&b);
		dms_json_begin(&j, &b);
		dms_json_object(&j, NULL);
		dms_json_seconds(&j, "time", times[i]);
		dms_json_end_object(&j);
		sscanf(value_of(b.data, "time"), "%llu.%9llu%n", &sec, &frac, &n);
		back = sec * NSEC_PER_SEC + frac;
		approx = strtod(value_of(b.data, "time"), NULL);
		snprintf(detail, sizeof(detail), "%s", b.data);
		snprintf(name, sizeof(name), "json-time-exact-%d", i);
		check(name, n > 0 && back == times[i], detail);
		/* as a double, still far better than a millisecond */
		snprintf(name, sizeof(name), "json-time-as-double-%d", i);
		check(name, fabs(approx - times[i] / 1e9) < 1e-6, detail);
	}
	dms_buf_free(&b);
}

static void test_counters(void)
{
	static const uint64_t u[] = { 0, 1, 9007199254740993ULL, UINT64_MAX };
	static const double d[] = { 0.1, 1.0 / 3, 123456789.123456789, 1e-9, 2.5e300 };
	char key[16], detail[256];
	struct dms_buf b = {};
	struct dms_json j;
	unsigned int i;
	bool ok = true;

	dms_json_begin(&j, &b);
	dms_json_object(&j, NULL);
	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		snprintf(key, sizeof(key), "u%u", i);
		dms_json_u64(&j, key, u[i]);
	}
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		snprintf(key, sizeof(key), "d%u", i);
		dms_json_double(&j, key, d[i]);
	}
	dms_json_i64(&j, "neg", INT64_MIN);
	dms_json_end_object(&j);
	snprintf(detail, sizeof(detail), "%s", b.data);
	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		const char *v;

		snprintf(key, sizeof(key), "u%u", i);
		v = value_of(b.data, key);
		/* integers as integers: no exponent, no fraction */
		ok = ok && strtoull(v, NULL, 10) == u[i] && v[strspn(v, "0123456789")] != '.' &&
		     v[strspn(v, "0123456789")] != 'e';
	}
	check("json-integers-exact", ok, detail);
	ok = true;
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		snprintf(key, sizeof(key), "d%u", i);
		ok = ok && strtod(value_of(b.data, key), NULL) == d[i];
	}
	check("json-doubles-read-back-exactly", ok, detail);
	check("json-negative", strtoll(value_of(b.data, "neg"), NULL, 10) == INT64_MIN, detail);
	check("json-short-doubles", strstr(b.data, "\"d0\":0.1,") != NULL, detail);
	dms_buf_free(&b);
}

int main(void)
{
	test_time();
	test_counters();
	return failures ? 1 : 0;
}
