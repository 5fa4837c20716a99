/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libdmascope, layer 1 of 4: base.  Errors, time, signals, argument
 * parsing, and what the tools ask of the running kernel (privileges, BTF,
 * kallsyms, IOMMU groups).  Depends on libc only.
 *
 * The layers, each using only those before it:
 *   base.h   errors, time, signals, arguments, the running kernel
 *   text.h   buffers, JSON, Prometheus exposition
 *   sinks.h  the HTTP /metrics server, the node_exporter textfile
 *   hooks.h  BPF: the attach ladder, per-CPU and map reads, lost counters
 *   loop.h   the tool frame: shared options, interval loop, health
 */
#ifndef DMASCOPE_BASE_H
#define DMASCOPE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses, as libbpf-tools and most Unix tools use them */
#define EXIT_RUNTIME	1	/* could not do the job */
#define EXIT_USAGE	2	/* bad command line */

#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_MSEC	1000000ULL
#define MAX_INTERVAL_S	86400	/* one day */
/* the shortest interval whose reads and rendering the loop can keep up with */
#define MIN_INTERVAL_S	0.1

extern const char *dms_prog;	/* the tool's name, for messages */
extern int dms_verbosity;	/* -v given N times */

/* "prog: error: ..." on stderr */
void dms_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void dms_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: ..." on stderr, only with -v; with -vv, ms since the start */
void dms_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* dms_error(), then exit(status) */
void dms_fail(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* malloc/calloc/realloc that end the tool when memory runs out */
void *dms_alloc(size_t n, size_t size);
void *dms_realloc(void *p, size_t n, size_t size);

/* ---- arguments ---- */

/*
 * Seconds as a plain decimal ("1", "0.5"), from MIN_INTERVAL_S to
 * MAX_INTERVAL_S; false if not.
 */
bool dms_parse_interval(const char *s, double *seconds);
/* A positive integer; false if not one. */
bool dms_parse_count(const char *s, long *count);
/* "ADDR:PORT" or ":PORT" (all addresses) or "[v6]:PORT". */
bool dms_parse_listen(const char *s, char *host, size_t host_len, int *port);

/* ---- records ---- */

/*
 * A growable array of rows kept sorted by a u64 key, the first member of
 * each row (a domain's address, a device's).  Pointers into it hold
 * until the next dms_row_get() or dms_row_remove().
 */
struct dms_rows {
	void *data;
	size_t size;		/* of one row */
	int n, cap;
};

void *dms_row_at(const struct dms_rows *r, int i);
/* The row of key, or NULL */
void *dms_row_find(const struct dms_rows *r, uint64_t key);
/* The row of key; a new one (zeroed but for its key) sets *made */
void *dms_row_get(struct dms_rows *r, uint64_t key, bool *made);
void dms_row_remove(struct dms_rows *r, void *row);

/*
 * Fold n u64 counters into out: add them, but for the fields whose bit
 * is set in max_of (bit i for field i), which keep the largest value.
 */
void dms_fold_u64s(uint64_t *out, const uint64_t *in, size_t n, uint64_t max_of);
/* The bit of a __u64 member for max_of */
#define DMS_FIELD_BIT(type, member)	(1ULL << (offsetof(type, member) / sizeof(uint64_t)))

/* ---- files ---- */

/* The first line of a small file (sysfs, a module parameter); false if none */
bool dms_read_line(const char *path, char *buf, size_t len);
/* Write text to a file (sysfs, a module parameter); false with errno set */
bool dms_write_file(const char *path, const char *text);

/* ---- time ---- */

uint64_t dms_now_ns(void);		/* CLOCK_MONOTONIC */
uint64_t dms_wall_ns(void);		/* CLOCK_REALTIME, ns since the epoch */

/* ---- signals ---- */

/*
 * SIGINT, SIGTERM and SIGHUP set a flag and make dms_signal_fd()
 * readable, so that a poll() anywhere in the tool wakes at once; SIGPIPE
 * is ignored (a closed stdout is an error of the write, and ends the
 * tool cleanly).
 */
void dms_catch_signals(void);
bool dms_stopping(void);
int dms_signal_fd(void);

/* ---- the running kernel ---- */

/* An error message when the caller may not load BPF, or NULL. */
const char *dms_privilege_problem(void);
/* An error message when the kernel has no BTF, or NULL. */
const char *dms_btf_problem(void);
/* The symbol containing addr: "func" or "func [module]"; false if none. */
bool dms_kallsyms_name(uint64_t addr, char *buf, size_t len);
/*
 * IOMMU groups whose default domain translates DMA through the DMA API
 * ("DMA" or "DMA-FQ" in /sys/kernel/iommu_groups/N/type).
 */
int dms_iommu_dma_groups(void);

#endif /* DMASCOPE_BASE_H */
