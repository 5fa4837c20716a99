// SPDX-License-Identifier: GPL-2.0
/* libdmascope: text buffers, JSON lines, Prometheus text, textfiles. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmascope.h"

/* ---- buffer ---- */

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
		size_t cap = b->cap ? b->cap * 2 : 4096;

		while (cap < b->len + n + 1)
			cap *= 2;
		char *grown = realloc(b->data, cap);

		if (!grown)
			dms_fail(EXIT_RUNTIME, "out of memory");
		b->data = grown;
		b->cap = cap;
	}
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
	if (j->depth < 15)
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

void dms_json_double(struct dms_json *j, const char *key, double value)
{
	json_key(j, key);
	if (isfinite(value))
		dms_buf_printf(j->out, "%.6g", value);
	else
		dms_buf_printf(j->out, "null");
}

void dms_json_bool(struct dms_json *j, const char *key, bool value)
{
	json_key(j, key);
	dms_buf_printf(j->out, value ? "true" : "false");
}

/* ---- Prometheus ---- */

void dms_prom_header(struct dms_buf *b, const char *name, const char *type,
		     const char *help)
{
	dms_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_label_value(struct dms_buf *b, const char *s)
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

void dms_prom_sample(struct dms_buf *b, const char *name, const char *const *labels,
		     double value)
{
	int i;

	dms_buf_printf(b, "%s", name);
	for (i = 0; labels && labels[i]; i += 2) {
		dms_buf_printf(b, "%s%s=\"", i ? "," : "{", labels[i]);
		prom_label_value(b, labels[i + 1] ? labels[i + 1] : "");
		dms_buf_printf(b, "\"");
	}
	if (labels && labels[0])
		dms_buf_printf(b, "}");
	if (value == floor(value) && fabs(value) < 1e18)
		dms_buf_printf(b, " %.0f\n", value);
	else
		dms_buf_printf(b, " %.9g\n", value);
}

/* ---- textfile ---- */

static int temp_path(const char *path, char *tmp, size_t len)
{
	return snprintf(tmp, len, "%s.%d.tmp", path, (int)getpid()) < (int)len ? 0 : -1;
}

bool dms_textfile_write(const char *path, const char *data, size_t len)
{
	char tmp[4096];
	int fd;
	bool ok;

	if (temp_path(path, tmp, sizeof(tmp)))
		return false;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	ok = write(fd, data, len) == (ssize_t)len && !fsync(fd);
	ok = !close(fd) && ok;
	if (ok && rename(tmp, path))
		ok = false;
	if (!ok)
		unlink(tmp);
	return ok;
}

bool dms_textfile_check(const char *path, char *err, size_t errlen)
{
	if (!*path || path[strlen(path) - 1] == '/') {
		snprintf(err, errlen, "textfile path '%s' is not a file name", path);
		return false;
	}
	if (!dms_textfile_write(path, "", 0)) {
		snprintf(err, errlen, "cannot write the textfile '%s': %s", path, strerror(errno));
		return false;
	}
	return true;
}
