// SPDX-License-Identifier: GPL-2.0
/* Unit tests of libdmascope (tools/lib): one PASS/FAIL line per check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmascope.h"

static int failures;

static void check(const char *name, int ok, const char *detail)
{
	if (ok) {
		printf("PASS unit-%s\n", name);
	} else {
		printf("FAIL unit-%s: %s\n", name, detail);
		failures++;
	}
}

static void test_interval(void)
{
	double v = 0;

	check("interval-1", dms_parse_interval("1", &v) && v == 1.0, "1");
	check("interval-fraction", dms_parse_interval("0.25", &v) && v == 0.25, "0.25");
	check("interval-zero", !dms_parse_interval("0", &v), "0 accepted");
	check("interval-negative", !dms_parse_interval("-1", &v), "-1 accepted");
	check("interval-text", !dms_parse_interval("abc", &v), "abc accepted");
	check("interval-trailing", !dms_parse_interval("1s", &v), "1s accepted");
	check("interval-empty", !dms_parse_interval("", &v), "empty accepted");
	check("interval-nan", !dms_parse_interval("nan", &v), "nan accepted");
	check("interval-huge", !dms_parse_interval("1e9", &v), "1e9 accepted");
}

static void test_count(void)
{
	long c = 0;

	check("count-3", dms_parse_count("3", &c) && c == 3, "3");
	check("count-zero", !dms_parse_count("0", &c), "0 accepted");
	check("count-sign", !dms_parse_count("+3", &c), "+3 accepted");
	check("count-overflow", !dms_parse_count("99999999999999999999", &c), "overflow accepted");
}

static void test_listen(void)
{
	char host[64];
	int port = 0;

	check("listen-host-port", dms_parse_listen("127.0.0.1:9464", host, sizeof(host), &port) &&
	      !strcmp(host, "127.0.0.1") && port == 9464, "127.0.0.1:9464");
	check("listen-any", dms_parse_listen(":9464", host, sizeof(host), &port) && !host[0] &&
	      port == 9464, ":9464");
	check("listen-v6", dms_parse_listen("[::1]:80", host, sizeof(host), &port) &&
	      !strcmp(host, "::1") && port == 80, "[::1]:80");
	check("listen-no-port", !dms_parse_listen("localhost", host, sizeof(host), &port), "no port");
	check("listen-bad-port", !dms_parse_listen("h:70000", host, sizeof(host), &port), "70000");
	check("listen-text-port", !dms_parse_listen("h:http", host, sizeof(host), &port), "http");
}

static void test_json(void)
{
	struct dms_buf b = {};
	struct dms_json j;

	dms_json_begin(&j, &b);
	dms_json_object(&j, NULL);
	dms_json_str(&j, "s", "a\"b\\c\n");
	dms_json_u64(&j, "n", 18446744073709551615ULL);
	dms_json_array(&j, "a");
	dms_json_object(&j, NULL);
	dms_json_i64(&j, "x", -1);
	dms_json_end_object(&j);
	dms_json_object(&j, NULL);
	dms_json_bool(&j, "y", true);
	dms_json_end_object(&j);
	dms_json_end_array(&j);
	dms_json_double(&j, "d", 0.5);
	dms_json_double(&j, "inf", 1.0 / 0.0);
	dms_json_end_object(&j);
	check("json-writer",
	      !strcmp(b.data, "{\"s\":\"a\\\"b\\\\c\\u000a\",\"n\":18446744073709551615,"
			      "\"a\":[{\"x\":-1},{\"y\":true}],\"d\":0.5,\"inf\":null}"),
	      b.data);
	dms_buf_free(&b);
}

static void test_prometheus(void)
{
	struct dms_buf b = {};
	const char *labels[] = { "device", "a\"b\\c\nd", "order", "0", NULL };

	dms_prom_header(&b, "x_total", "counter", "Things");
	dms_prom_sample(&b, "x_total", labels, 42);
	dms_prom_sample(&b, "y", NULL, 0.25);
	check("prometheus-format",
	      !strcmp(b.data, "# HELP x_total Things\n# TYPE x_total counter\n"
			      "x_total{device=\"a\\\"b\\\\c\\nd\",order=\"0\"} 42\ny 0.25\n"),
	      b.data);
	dms_buf_free(&b);
}

static void test_buffer_growth(void)
{
	struct dms_buf b = {};
	int i;

	for (i = 0; i < 10000; i++)
		dms_buf_printf(&b, "%d,", i);
	check("buffer-grows", b.len == 48890 && !strncmp(b.data + b.len - 5, "9999,", 5), "length");
	dms_buf_free(&b);
}

static void test_textfile(void)
{
	char dir[] = "/tmp/dmascope-unit-XXXXXX", path[128], err[256], buf[64];
	FILE *f;
	size_t n;

	if (!mkdtemp(dir)) {
		check("textfile", 0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	check("textfile-check-ok", dms_textfile_check(path, err, sizeof(err)), err);
	check("textfile-write", dms_textfile_write(path, "a 1\n", 4), "write");
	f = fopen(path, "r");
	n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	check("textfile-content", n == 4 && !memcmp(buf, "a 1\n", 4), "content");
	snprintf(path, sizeof(path), "%s/no/such/dir/m.prom", dir);
	check("textfile-unwritable", !dms_textfile_check(path, err, sizeof(err)) &&
	      strstr(err, "cannot write"), err);
	check("textfile-dir-path", !dms_textfile_check("/tmp/", err, sizeof(err)), "dir accepted");
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path))
		fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
	test_interval();
	test_count();
	test_listen();
	test_json();
	test_prometheus();
	test_buffer_growth();
	test_textfile();
	return failures ? 1 : 0;
}
