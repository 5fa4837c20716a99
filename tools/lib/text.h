/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libdmascope, layer 2 of 4: text.  A growable buffer, JSON lines, and
 * the Prometheus text exposition format.  Uses base.h only.
 */
#ifndef DMASCOPE_TEXT_H
#define DMASCOPE_TEXT_H

#include "base.h"

/* ---- a growable text buffer ---- */

struct dms_buf {
	char *data;
	size_t len, cap;
};

void dms_buf_printf(struct dms_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void dms_buf_add(struct dms_buf *b, const char *data, size_t len);
void dms_buf_reset(struct dms_buf *b);
void dms_buf_free(struct dms_buf *b);
/* " %*s": a number as fmt writes it, or "-" where it cannot be known */
void dms_buf_field(struct dms_buf *b, int width, bool known, const char *fmt, double v);

/* ---- JSON (one object per line) ---- */

#define DMS_JSON_MAX_DEPTH 16

struct dms_json {
	struct dms_buf *out;
	int depth;
	bool need_comma[DMS_JSON_MAX_DEPTH];
};

void dms_json_begin(struct dms_json *j, struct dms_buf *out);
void dms_json_object(struct dms_json *j, const char *key);	/* key NULL in arrays */
void dms_json_array(struct dms_json *j, const char *key);
void dms_json_end_object(struct dms_json *j);
void dms_json_end_array(struct dms_json *j);
void dms_json_str(struct dms_json *j, const char *key, const char *value);
void dms_json_u64(struct dms_json *j, const char *key, uint64_t value);
void dms_json_i64(struct dms_json *j, const char *key, int64_t value);
/* the shortest text that reads back as the same double; null if not finite */
void dms_json_double(struct dms_json *j, const char *key, double value);
void dms_json_bool(struct dms_json *j, const char *key, bool value);
/* nanoseconds as exact seconds with nine decimals: 1795300000.123456789 */
void dms_json_seconds(struct dms_json *j, const char *key, uint64_t ns);
/* an object of counters: {"names[0]":v[0],...}; v as BPF maps hold them (__u64) */
void dms_json_counters(struct dms_json *j, const char *key, const unsigned long long *v,
		       const char *const *names, int n);

/* ---- Prometheus text exposition ---- */

#define DMS_MAX_LABELS 8

/*
 * A label set.  Values are copied in (numbers) or referenced (strings,
 * which must outlive the samples written with them); a copy of the
 * struct is a new set that can be extended without changing the first.
 */
struct dms_labels {
	int n;
	const char *name[DMS_MAX_LABELS];
	const char *value[DMS_MAX_LABELS];	/* NULL: use num[] */
	char num[DMS_MAX_LABELS][24];
};

void dms_label(struct dms_labels *l, const char *name, const char *value);
void dms_label_u64(struct dms_labels *l, const char *name, uint64_t value);

/*
 * The writer keeps each metric family together, as the format requires:
 * dms_prom_family() starts one (HELP and TYPE lines) and the samples
 * written after it belong to it.  Starting a family twice is a bug in
 * the tool and ends it.
 */
#define DMS_PROM_MAX_FAMILIES 128

struct dms_prom {
	struct dms_buf *out;
	const char *family;
	const char *type;
	const char *seen[DMS_PROM_MAX_FAMILIES];
	int nseen;
};

void dms_prom_begin(struct dms_prom *p, struct dms_buf *out);
/* type: "counter", "gauge" or "histogram" */
void dms_prom_family(struct dms_prom *p, const char *name, const char *type,
		     const char *help);
/* One sample of the current family; integers are written exactly. */
void dms_prom_u64(struct dms_prom *p, const struct dms_labels *l, uint64_t value);
void dms_prom_double(struct dms_prom *p, const struct dms_labels *l, double value);
/*
 * A cumulative histogram of the current family from per-bucket counts:
 * counts[i] are the observations <= bounds[i] and > bounds[i - 1], and
 * counts[n] those above bounds[n - 1] (n + 1 counts in all).
 */
void dms_prom_histogram(struct dms_prom *p, const struct dms_labels *l,
			const double *bounds, const uint64_t *counts, int n, double sum);

/* ---- metrics declared as data ---- */

/*
 * One metric of a tool, read from a record of __u64 counters (a BPF
 * value, or a struct the tool fills in): a key in the JSON of each
 * interval, a Prometheus family of the cumulative value, or both.  A
 * tool's table of them, ending with an entry with neither name, drives
 * both outputs, so a new metric is one line.  What the mode cannot see
 * (seen() false, or an element outside elements()) is left out of both:
 * a 0 would read as "never happened".
 */
struct dms_metric {
	const char *json;		/* key in the interval's JSON; NULL: none */
	const char *prom;		/* Prometheus family; NULL: none */
	const char *help;
	size_t offset;			/* of the __u64, or the first of n */
	int n;				/* an array of n; 0: one value */
	const char *label;		/* the array's label and its values */
	const char *const *names;
	/*
	 * Prometheus wants base units: its value is the JSON's times this
	 * (1e-9 for nanoseconds, 2048 for SWIOTLB slots: a whole number or
	 * the inverse of one); 0: the same
	 */
	double to_prom;
	bool gauge;			/* not a counter */
	/* the records it applies to: those with all these tags */
	unsigned int needs;
	bool (*seen)(void);		/* whether the mode sees it; NULL: always */
	/* which elements of the array the mode sees (bit i); NULL: all */
	unsigned int (*elements)(void);
};

/* One record of a table's metrics: the counters and their labels */
struct dms_record {
	const void *data;
	struct dms_labels labels;
	unsigned int tags;
};

/* A list of records that grows as they are added */
struct dms_records {
	struct dms_record *r;
	int n, cap;
};

/* A new record at the end, without labels (valid until the next add) */
struct dms_record *dms_record_add(struct dms_records *rs, const void *data, unsigned int tags);
void dms_records_free(struct dms_records *rs);

/* The JSON keys of the table, from one record (the interval's numbers) */
void dms_json_metrics(struct dms_json *j, const struct dms_metric *table,
		      const void *data, unsigned int tags);
/* A family per Prometheus metric of the table, a sample per record */
void dms_prom_metrics(struct dms_prom *p, const struct dms_metric *table,
		      const struct dms_record *records, int n);

#endif /* DMASCOPE_TEXT_H */
