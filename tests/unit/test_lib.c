// SPDX-License-Identifier: GPL-2.0
/* Unit tests of libdmascope (tools/lib): parsing, text, textfile. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "check.h"

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
	check("interval-a-day", dms_parse_interval("86400", &v) && v == 86400, "86400");
	check("interval-hex", !dms_parse_interval("0x1", &v), "0x1 accepted");
	check("interval-exponent", !dms_parse_interval("1e-9", &v), "1e-9 accepted");
	check("interval-below-floor", !dms_parse_interval("0.09", &v), "0.09 accepted");
	check("interval-floor", dms_parse_interval("0.1", &v) && v == 0.1, "0.1");
	check("interval-leading-point", dms_parse_interval(".5", &v) && v == 0.5, ".5");
	check("interval-space", !dms_parse_interval(" 1", &v), "' 1' accepted");
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
	static const double bounds[] = { 0.001, 0.01 };
	static const uint64_t counts[] = { 1, 2, 3 };
	struct dms_buf b = {};
	struct dms_labels l = {}, l2;
	struct dms_prom p;

	dms_prom_begin(&p, &b);
	dms_label(&l, "device", "a\"b\\c\nd");
	l2 = l;
	dms_label_u64(&l2, "order", 0);
	dms_prom_family(&p, "x_total", "counter", "Things");
	dms_prom_u64(&p, &l2, 18446744073709551615ULL);
	dms_prom_family(&p, "y", "gauge", "A share");
	dms_prom_double(&p, NULL, 0.1);
	dms_prom_family(&p, "z_seconds", "histogram", "Waits");
	dms_prom_histogram(&p, &l, bounds, counts, 2, 0.5);
	check("prometheus-format",
	      !strcmp(b.data, "# HELP x_total Things\n# TYPE x_total counter\n"
			      "x_total{device=\"a\\\"b\\\\c\\nd\",order=\"0\"} 18446744073709551615\n"
			      "# HELP y A share\n# TYPE y gauge\ny 0.1\n"
			      "# HELP z_seconds Waits\n# TYPE z_seconds histogram\n"
			      "z_seconds_bucket{device=\"a\\\"b\\\\c\\nd\",le=\"0.001\"} 1\n"
			      "z_seconds_bucket{device=\"a\\\"b\\\\c\\nd\",le=\"0.01\"} 3\n"
			      "z_seconds_bucket{device=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 6\n"
			      "z_seconds_sum{device=\"a\\\"b\\\\c\\nd\"} 0.5\n"
			      "z_seconds_count{device=\"a\\\"b\\\\c\\nd\"} 6\n"),
	      b.data);
	dms_buf_free(&b);
}

/* A table of metrics drives both outputs; what the mode cannot see is absent */
struct sample_counters {
	uint64_t maps, wait_ns, slots, by_kind[3];
};

static const char *const kinds[] = { "a", "b", "c" };
static bool blind(void) { return false; }
static unsigned int kinds_a_c(void) { return 5; }

static const struct dms_metric sample_metrics[] = {
	{ "maps", "t_maps_total", "Maps", offsetof(struct sample_counters, maps) },
	{ "wait_ns", "t_wait_seconds_total", "Waits", offsetof(struct sample_counters, wait_ns),
	  .to_prom = 1e-9 },
	{ "slots", "t_bytes", "Memory", offsetof(struct sample_counters, slots),
	  .to_prom = 2048, .gauge = true, .needs = 1 },
	{ "kinds", "t_kinds_total", "By kind", offsetof(struct sample_counters, by_kind), 3,
	  "kind", kinds, .elements = kinds_a_c },
	{ "hidden", "t_hidden_total", "Not seen", 0, .seen = blind },
	{ "json_only", NULL, NULL, offsetof(struct sample_counters, maps) },
	{}
};

static void test_metrics(void)
{
	struct sample_counters c = { 7, 123456789, 3, { 1, 2, 3 } };
	struct dms_record r[2] = { { &c, .tags = 1 }, { &c } };
	struct dms_buf b = {};
	struct dms_json j;
	struct dms_prom p;

	dms_json_begin(&j, &b);
	dms_json_object(&j, NULL);
	dms_json_metrics(&j, sample_metrics, &c, 0);
	dms_json_end_object(&j);
	check("metrics-json", !strcmp(b.data, "{\"maps\":7,\"wait_ns\":123456789,"
			      "\"kinds\":{\"a\":1,\"c\":3},\"json_only\":7}"), b.data);
	dms_buf_reset(&b);
	dms_prom_begin(&p, &b);
	dms_label(&r[0].labels, "dev", "x");
	dms_prom_metrics(&p, sample_metrics, r, 2);
	check("metrics-prometheus",
	      !strcmp(b.data, "# HELP t_maps_total Maps\n# TYPE t_maps_total counter\n"
			      "t_maps_total{dev=\"x\"} 7\nt_maps_total 7\n"
			      "# HELP t_wait_seconds_total Waits\n# TYPE t_wait_seconds_total counter\n"
			      "t_wait_seconds_total{dev=\"x\"} 0.123456789\nt_wait_seconds_total 0.123456789\n"
			      "# HELP t_bytes Memory\n# TYPE t_bytes gauge\nt_bytes{dev=\"x\"} 6144\n"
			      "# HELP t_kinds_total By kind\n# TYPE t_kinds_total counter\n"
			      "t_kinds_total{dev=\"x\",kind=\"a\"} 1\nt_kinds_total{dev=\"x\",kind=\"c\"} 3\n"
			      "t_kinds_total{kind=\"a\"} 1\nt_kinds_total{kind=\"c\"} 3\n"), b.data);
	dms_buf_free(&b);
}

struct sample_row {
	uint64_t key;
	int value;
};

/* Rows stay sorted by key, whatever order they come in */
static void test_rows(void)
{
	static const uint64_t keys[] = { 30, 10, 20, 10, 40 };
	struct dms_rows rows = { .size = sizeof(struct sample_row) };
	struct sample_row *r;
	int made = 0, i;
	bool new;

	for (i = 0; i < 5; i++) {
		r = dms_row_get(&rows, keys[i], &new);
		made += new;
		r->value += i;
	}
	check("rows-made-once", made == 4 && rows.n == 4, "10 twice must make one row");
	r = dms_row_find(&rows, 10);
	check("rows-kept", r && r->value == 4, "the row of 10 must hold 1 + 3");
	dms_row_remove(&rows, dms_row_find(&rows, 20));
	check("rows-sorted", rows.n == 3 &&
	      ((struct sample_row *)dms_row_at(&rows, 0))->key == 10 &&
	      ((struct sample_row *)dms_row_at(&rows, 1))->key == 30 &&
	      ((struct sample_row *)dms_row_at(&rows, 2))->key == 40 && !dms_row_find(&rows, 20),
	      "10 30 40 after removing 20");
	free(rows.data);
}

/* Sums, but maxima where the mask says so */
static void test_fold(void)
{
	uint64_t out[3] = { 1, 5, 1 }, in[3] = { 2, 3, 9 };

	dms_fold_u64s(out, in, 3, 1ULL << 1 | 1ULL << 2);
	check("fold-sum-and-max", out[0] == 3 && out[1] == 5 && out[2] == 9, "3 5 9");
}

/* A counter that went backwards is a reset, never a wrapped 1.8e19 */
static void test_delta(void)
{
	uint64_t now[3] = { 10, 5, UINT64_MAX }, before[3] = { 4, 7, 0 }, out[3];
	uint64_t resets = dms_run.counter_resets;

	check("delta-forward", dms_delta(12, 10) == 2, "12 - 10");
	check("delta-backwards", dms_delta(5, 10) == 0 && dms_run.counter_resets == resets + 1,
	      "5 after 10 must give 0 and one reset");
	dms_sub_u64s(out, now, before, 3);
	check("delta-array", out[0] == 6 && out[1] == 0 && out[2] == UINT64_MAX &&
	      dms_run.counter_resets == resets + 2, "element-wise deltas");
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

static bool file_is(const char *path, const char *want)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	return f && n == strlen(want) && !memcmp(buf, want, n);
}

/* Whether a second process may open the textfile too (status 0: yes) */
static bool other_process_opens(const char *path)
{
	char err[256];
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		bool ok = dms_textfile_open(path, err, sizeof(err));

		dms_textfile_close();
		_exit(ok ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

static void test_textfile_refused(const char *dir)
{
	char path[128], err[256];

	check("textfile-not-prom", !dms_textfile_open("/tmp/victim.txt", err, sizeof(err)) &&
	      strstr(err, "*.prom"), err);
	check("textfile-only-suffix", !dms_textfile_open("/tmp/.prom", err, sizeof(err)),
	      ".prom accepted");
	snprintf(path, sizeof(path), "%s/no/such/dir/m.prom", dir);
	check("textfile-no-dir", !dms_textfile_open(path, err, sizeof(err)) &&
	      strstr(err, "textfile directory"), err);
	snprintf(path, sizeof(path), "%s/d.prom", dir);
	mkdir(path, 0755);
	check("textfile-is-dir", !dms_textfile_open(path, err, sizeof(err)) &&
	      strstr(err, "not a regular file"), err);
	rmdir(path);
	check("textfile-dir-path", !dms_textfile_open("/tmp/", err, sizeof(err)), "dir accepted");
}

static void test_textfile(void)
{
	char dir[] = "/tmp/dmascope-unit-XXXXXX", path[128], other[128], err[256];
	FILE *f;

	if (!mkdtemp(dir)) {
		check("textfile", 0, "mkdtemp");
		return;
	}
	test_textfile_refused(dir);
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	f = fopen(path, "w");
	fputs("a 0\n", f);
	fclose(f);
	/* a restarted tool must not empty what node_exporter reads meanwhile */
	check("textfile-open-keeps-old", dms_textfile_open(path, err, sizeof(err)) &&
	      file_is(path, "a 0\n"), err);
	check("textfile-locked", !other_process_opens(path), "a second writer was allowed");
	check("textfile-write", dms_textfile_write("a 1\n", 4) && file_is(path, "a 1\n"), "write");
	check("textfile-replaced", dms_textfile_write("a 2\n", 4) && file_is(path, "a 2\n"),
	      "content");
	dms_textfile_close();
	check("textfile-removed", access(path, F_OK) && errno == ENOENT, "still there");
	check("textfile-unlocked", other_process_opens(path), "still locked after close");
	/* a file the tool never wrote is not the tool's to remove */
	snprintf(other, sizeof(other), "%s/n.prom", dir);
	f = fopen(other, "w");
	fclose(f);
	check("textfile-open-unwritten", dms_textfile_open(other, err, sizeof(err)), err);
	dms_textfile_close();
	check("textfile-unwritten-kept", !access(other, F_OK), "removed a file it never wrote");
	unlink(other);
	check("textfile-nothing-left", rmdir(dir) == 0, "temporary or lock files left in the directory");
}

int main(void)
{
	test_interval();
	test_count();
	test_listen();
	test_json();
	test_prometheus();
	test_buffer_growth();
	test_delta();
	test_metrics();
	test_rows();
	test_fold();
	test_textfile();
	return failures ? 1 : 0;
}
