/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libdmascope: what the dmascope tools share.  Errors and argument
 * parsing, privileges and kernel symbols, the interval loop, and the
 * machine outputs (JSON lines, Prometheus text over HTTP or to a
 * node_exporter textfile).
 */
#ifndef DMASCOPE_H
#define DMASCOPE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses, as libbpf-tools and most Unix tools use them */
#define EXIT_RUNTIME	1	/* could not do the job */
#define EXIT_USAGE	2	/* bad command line */

extern const char *dms_prog;	/* the tool's name, for messages */

/* "prog: error: ..." on stderr */
void dms_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dms_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* dms_error(), then exit(status) */
void dms_fail(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* ---- arguments ---- */

/* A positive number of seconds ("1", "0.5"); false if not one. */
bool dms_parse_interval(const char *s, double *seconds);
/* A positive integer; false if not one. */
bool dms_parse_count(const char *s, long *count);
/* "ADDR:PORT" or ":PORT" (all addresses) or "[v6]:PORT". */
bool dms_parse_listen(const char *s, char *host, size_t host_len, int *port);

/* ---- the running kernel ---- */

/* An error message when the caller may not load BPF, or NULL. */
const char *dms_privilege_problem(void);
/* An error message when the kernel has no BTF, or NULL. */
const char *dms_btf_problem(void);
/* Address of a kernel symbol from /proc/kallsyms, or 0. */
uint64_t dms_kallsyms_addr(const char *name);
/* The same for a NULL-terminated list of names, in one pass. */
void dms_kallsyms_addrs(const char *const *names, uint64_t *addrs);
/* The symbol containing addr: "func" or "func [module]"; false if none. */
bool dms_kallsyms_name(uint64_t addr, char *buf, size_t len);
int dms_possible_cpus(void);

/* ---- time and the interval loop ---- */

uint64_t dms_now_ns(void);		/* CLOCK_MONOTONIC */
double dms_wall_time(void);		/* seconds since the epoch */
/* SIGINT/SIGTERM set a flag instead of killing the tool. */
void dms_catch_signals(void);
bool dms_stopping(void);

struct dms_http;
/*
 * Sleep until the monotonic deadline, serving HTTP requests meanwhile
 * (http may be NULL).  Returns false when a signal asked to stop.
 */
bool dms_wait_until(uint64_t deadline_ns, struct dms_http *http);

/* ---- a growable text buffer ---- */

struct dms_buf {
	char *data;
	size_t len, cap;
};

void dms_buf_printf(struct dms_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void dms_buf_reset(struct dms_buf *b);
void dms_buf_free(struct dms_buf *b);

/* ---- JSON (one object per line) ---- */

struct dms_json {
	struct dms_buf *out;
	int depth;
	bool need_comma[16];
};

void dms_json_begin(struct dms_json *j, struct dms_buf *out);
void dms_json_object(struct dms_json *j, const char *key);	/* key NULL in arrays */
void dms_json_array(struct dms_json *j, const char *key);
void dms_json_end_object(struct dms_json *j);
void dms_json_end_array(struct dms_json *j);
void dms_json_str(struct dms_json *j, const char *key, const char *value);
void dms_json_u64(struct dms_json *j, const char *key, uint64_t value);
void dms_json_i64(struct dms_json *j, const char *key, int64_t value);
void dms_json_double(struct dms_json *j, const char *key, double value);
void dms_json_bool(struct dms_json *j, const char *key, bool value);

/* ---- Prometheus text exposition ---- */

/* "# HELP" and "# TYPE" lines; type is "counter" or "gauge". */
void dms_prom_header(struct dms_buf *b, const char *name, const char *type,
		     const char *help);
/*
 * One sample.  labels: NULL-terminated name, value, name, value, ...;
 * values are escaped as the format requires.
 */
void dms_prom_sample(struct dms_buf *b, const char *name, const char *const *labels,
		     double value);

/* Serve GET /metrics with the latest text; other paths get 404. */
struct dms_http *dms_http_listen(const char *host, int port, char *err, size_t errlen);
void dms_http_set_body(struct dms_http *h, const char *body, size_t len);
void dms_http_close(struct dms_http *h);
uint64_t dms_http_errors(const struct dms_http *h);

/* node_exporter textfile collector: write a temporary file, then rename. */
bool dms_textfile_check(const char *path, char *err, size_t errlen);
bool dms_textfile_write(const char *path, const char *data, size_t len);

#endif /* DMASCOPE_H */
