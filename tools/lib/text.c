// SPDX-License-Identifier: GPL-2.0
/* libdmascope text: buffers, JSON lines, Prometheus exposition. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define BUF_MIN 4096

/* ---- buffer ---- */

/* Room for len more bytes and a NUL */
static void grow(struct dms_buf *b, size_t len)
{
	size_t cap = b->cap ? b->cap * 2 : BUF_MIN;

	while (cap < b->len + len + 1)
		cap *= 2;
	b->data = dms_realloc(b->data, cap, 1);
	b->cap = cap;
}

void dms_buf_printf(struct dms_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			b->len += n;
			return;
		}
		grow(b, n);
	}
}

void dms_buf_add(struct dms_buf *b, const char *data, size_t len)
{
	if (b->cap - b->len <= len)
		grow(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void dms_buf_reset(struct dms_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void dms_buf_free(struct dms_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void dms_buf_field(struct dms_buf *b, int width, bool known, const char *fmt, double v)
{
	char num[32];

	if (known)
		snprintf(num, sizeof(num), fmt, v);
	else
		snprintf(num, sizeof(num), "-");
	dms_buf_printf(b, " %*s", width, num);
}

/* ---- JSON ---- */

static void json_string(struct dms_buf *b, const char *s)
{
	dms_buf_printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			dms_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			dms_buf_printf(b, "\\u%04x", c);
		else
			dms_buf_printf(b, "%c", c);
	}
	dms_buf_printf(b, "\"");
}

static void json_key(struct dms_json *j, const char *key)
{
	if (j->need_comma[j->depth])
		dms_buf_printf(j->out, ",");
	j->need_comma[j->depth] = true;
	if (key) {
		json_string(j->out, key);
		dms_buf_printf(j->out, ":");
	}
}

void dms_json_begin(struct dms_json *j, struct dms_buf *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

static void json_open(struct dms_json *j, const char *key, char c)
{
	if (j->depth || j->need_comma[0])
		json_key(j, key);
	dms_buf_printf(j->out, "%c", c);
	if (j->depth < DMS_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->need_comma[j->depth] = false;
}

void dms_json_object(struct dms_json *j, const char *key)
{
	json_open(j, key, '{');
}

void dms_json_array(struct dms_json *j, const char *key)
{
	json_open(j, key, '[');
}

void dms_json_end_object(struct dms_json *j)
{
	dms_buf_printf(j->out, "}");
	if (j->depth)
		j->depth--;
	if (!j->depth)
		j->need_comma[0] = true;
}

void dms_json_end_array(struct dms_json *j)
{
	dms_buf_printf(j->out, "]");
	if (j->depth)
		j->depth--;
}

void dms_json_str(struct dms_json *j, const char *key, const char *value)
{
	json_key(j, key);
	json_string(j->out, value ? value : "");
}

void dms_json_u64(struct dms_json *j, const char *key, uint64_t value)
{
	json_key(j, key);
	dms_buf_printf(j->out, "%llu", (unsigned long long)value);
}

void dms_json_i64(struct dms_json *j, const char *key, int64_t value)
{
	json_key(j, key);
	dms_buf_printf(j->out, "%lld", (long long)value);
}

/* The shortest of %.15g and %.17g that reads back as the same number */
static void format_double(struct dms_buf *b, double v, const char *nan_text)
{
	char text[32];

	if (!isfinite(v)) {
		dms_buf_printf(b, "%s", nan_text);
		return;
	}
	snprintf(text, sizeof(text), "%.15g", v);
	if (strtod(text, NULL) != v)
		snprintf(text, sizeof(text), "%.17g", v);
	dms_buf_printf(b, "%s", text);
}

void dms_json_double(struct dms_json *j, const char *key, double value)
{
	json_key(j, key);
	format_double(j->out, value, "null");
}

void dms_json_seconds(struct dms_json *j, const char *key, uint64_t ns)
{
	json_key(j, key);
	dms_buf_printf(j->out, "%llu.%09llu", (unsigned long long)(ns / NSEC_PER_SEC),
		       (unsigned long long)(ns % NSEC_PER_SEC));
}

void dms_json_counters(struct dms_json *j, const char *key, const unsigned long long *v,
		       const char *const *names, int n)
{
	int i;

	dms_json_object(j, key);
	for (i = 0; i < n; i++)
		dms_json_u64(j, names[i], v[i]);
	dms_json_end_object(j);
}

void dms_json_bool(struct dms_json *j, const char *key, bool value)
{
	json_key(j, key);
	dms_buf_printf(j->out, value ? "true" : "false");
}

/* ---- Prometheus ---- */

void dms_label(struct dms_labels *l, const char *name, const char *value)
{
	if (l->n == DMS_MAX_LABELS)
		dms_fail(EXIT_RUNTIME, "bug: more than %d labels", DMS_MAX_LABELS);
	l->name[l->n] = name;
	l->value[l->n] = value ? value : "";
	l->n++;
}

void dms_label_u64(struct dms_labels *l, const char *name, uint64_t value)
{
	dms_label(l, name, NULL);
	l->value[l->n - 1] = NULL;
	snprintf(l->num[l->n - 1], sizeof(l->num[0]), "%llu", (unsigned long long)value);
}

void dms_prom_begin(struct dms_prom *p, struct dms_buf *out)
{
	memset(p, 0, sizeof(*p));
	p->out = out;
}

void dms_prom_family(struct dms_prom *p, const char *name, const char *type,
		     const char *help)
{
	int i;

	for (i = 0; i < p->nseen; i++)
		if (!strcmp(p->seen[i], name))
			dms_fail(EXIT_RUNTIME, "bug: metric family %s written twice", name);
	if (p->nseen == DMS_PROM_MAX_FAMILIES)
		dms_fail(EXIT_RUNTIME, "bug: more than %d metric families", DMS_PROM_MAX_FAMILIES);
	p->seen[p->nseen++] = name;
	p->family = name;
	p->type = type;
	dms_buf_printf(p->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label_value(struct dms_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			dms_buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			dms_buf_printf(b, "\\n");
		else
			dms_buf_printf(b, "%c", *s);
	}
}

/* name{labels[,extra="value"]} */
static void sample_head(struct dms_prom *p, const char *suffix, const struct dms_labels *l,
			const char *extra, const char *extra_value)
{
	int i, n = l ? l->n : 0;

	if (!p->family)
		dms_fail(EXIT_RUNTIME, "bug: a sample before its metric family");
	dms_buf_printf(p->out, "%s%s", p->family, suffix);
	for (i = 0; i < n; i++) {
		dms_buf_printf(p->out, "%s%s=\"", i ? "," : "{", l->name[i]);
		label_value(p->out, l->value[i] ? l->value[i] : l->num[i]);
		dms_buf_printf(p->out, "\"");
	}
	if (extra)
		dms_buf_printf(p->out, "%s%s=\"%s\"", n ? "," : "{", extra, extra_value);
	if (n || extra)
		dms_buf_printf(p->out, "}");
}

void dms_prom_u64(struct dms_prom *p, const struct dms_labels *l, uint64_t value)
{
	sample_head(p, "", l, NULL, NULL);
	dms_buf_printf(p->out, " %llu\n", (unsigned long long)value);
}

void dms_prom_double(struct dms_prom *p, const struct dms_labels *l, double value)
{
	sample_head(p, "", l, NULL, NULL);
	dms_buf_printf(p->out, " ");
	format_double(p->out, value, "NaN");
	dms_buf_printf(p->out, "\n");
}

void dms_prom_histogram(struct dms_prom *p, const struct dms_labels *l,
			const double *bounds, const uint64_t *counts, int n, double sum)
{
	char le[32];
	uint64_t total = 0;
	int i;

	for (i = 0; i <= n; i++) {
		total += counts[i];
		if (i < n)
			snprintf(le, sizeof(le), "%.15g", bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		sample_head(p, "_bucket", l, "le", le);
		dms_buf_printf(p->out, " %llu\n", (unsigned long long)total);
	}
	sample_head(p, "_sum", l, NULL, NULL);
	dms_buf_printf(p->out, " ");
	format_double(p->out, sum, "NaN");
	dms_buf_printf(p->out, "\n");
	sample_head(p, "_count", l, NULL, NULL);
	dms_buf_printf(p->out, " %llu\n", (unsigned long long)total);
}

/* ---- metrics declared as data ---- */

static const uint64_t *metric_values(const struct dms_metric *m, const void *data)
{
	return (const uint64_t *)((const char *)data + m->offset);
}

static bool metric_applies(const struct dms_metric *m, unsigned int tags)
{
	return (tags & m->needs) == m->needs && (!m->seen || m->seen());
}

static unsigned int metric_elements(const struct dms_metric *m)
{
	return m->elements ? m->elements() : ~0U;
}

void dms_json_metrics(struct dms_json *j, const struct dms_metric *table,
		      const void *data, unsigned int tags)
{
	const struct dms_metric *m;
	int i;

	unsigned int seen;

	for (m = table; m->json || m->prom; m++) {
		const uint64_t *v = metric_values(m, data);

		if (!m->json || !metric_applies(m, tags))
			continue;
		if (!m->n) {
			dms_json_u64(j, m->json, *v);
			continue;
		}
		seen = metric_elements(m);
		dms_json_object(j, m->json);
		for (i = 0; i < m->n; i++)
			if (seen & (1U << i))
				dms_json_u64(j, m->names[i], v[i]);
		dms_json_end_object(j);
	}
}

struct dms_record *dms_record_add(struct dms_records *rs, const void *data, unsigned int tags)
{
	struct dms_record *r;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 16;
		rs->r = dms_realloc(rs->r, rs->cap, sizeof(*rs->r));
	}
	r = &rs->r[rs->n++];
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->tags = tags;
	return r;
}

void dms_records_free(struct dms_records *rs)
{
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

/*
 * Integers stay exact: only a fraction of a unit makes a double, divided
 * (ns / 1e9, not ns * 1e-9, which is not the same double)
 */
static void prom_value(struct dms_prom *p, const struct dms_labels *l,
		       const struct dms_metric *m, uint64_t v)
{
	if (!m->to_prom)
		dms_prom_u64(p, l, v);
	else if (m->to_prom >= 1)
		dms_prom_u64(p, l, v * (uint64_t)m->to_prom);
	else
		dms_prom_double(p, l, v / round(1 / m->to_prom));
}

/* seen: the array elements the mode sees (metric_elements(), once per table) */
static void prom_record(struct dms_prom *p, const struct dms_metric *m,
			const struct dms_record *r, unsigned int seen)
{
	const uint64_t *v = metric_values(m, r->data);
	struct dms_labels l;
	int i;

	if ((r->tags & m->needs) != m->needs)
		return;
	if (!m->n) {
		prom_value(p, &r->labels, m, *v);
		return;
	}
	for (i = 0; i < m->n; i++) {
		if (!(seen & (1U << i)))
			continue;
		l = r->labels;
		dms_label(&l, m->label, m->names[i]);
		prom_value(p, &l, m, v[i]);
	}
}

void dms_prom_metrics(struct dms_prom *p, const struct dms_metric *table,
		      const struct dms_record *records, int n)
{
	const struct dms_metric *m;
	unsigned int seen;
	int i;

	for (m = table; m->json || m->prom; m++) {
		if (!m->prom || (m->seen && !m->seen()))
			continue;
		seen = metric_elements(m);
		dms_prom_family(p, m->prom, m->gauge ? "gauge" : "counter", m->help);
		for (i = 0; i < n; i++)
			prom_record(p, m, &records[i], seen);
	}
}
