// SPDX-License-Identifier: GPL-2.0
/* libdmascope base: errors, time, signals, arguments, the running kernel. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base.h"

const char *dms_prog = "dmascope";
int dms_verbosity;

static void vreport(const char *what, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s: ", dms_prog, what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void dms_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("error", fmt, ap);
	va_end(ap);
}

void dms_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("warning", fmt, ap);
	va_end(ap);
}

static uint64_t start_ns;

static void __attribute__((constructor)) note_start(void)
{
	start_ns = dms_now_ns();
}

void dms_info(const char *fmt, ...)
{
	va_list ap;

	if (!dms_verbosity)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", dms_prog);
	/* -vv: where the start-up time goes */
	if (dms_verbosity >= 2)
		fprintf(stderr, "%7.1f ms: ", (dms_now_ns() - start_ns) / 1e6);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void dms_fail(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("error", fmt, ap);
	va_end(ap);
	exit(status);
}

void *dms_alloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		dms_fail(EXIT_RUNTIME, "out of memory");
	return p;
}

void *dms_realloc(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size);

	if (!q)
		dms_fail(EXIT_RUNTIME, "out of memory");
	return q;
}

/* ---- arguments ---- */

/* Digits with at most one decimal point: no sign, exponent, hex or "inf" */
static bool plain_decimal(const char *s)
{
	bool digits = false, point = false;

	for (; *s; s++) {
		if (isdigit((unsigned char)*s))
			digits = true;
		else if (*s == '.' && !point)
			point = true;
		else
			return false;
	}
	return digits;
}

bool dms_parse_interval(const char *s, double *seconds)
{
	char *end;
	double v;

	if (!s || !plain_decimal(s))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || v < MIN_INTERVAL_S || v > MAX_INTERVAL_S)
		return false;
	*seconds = v;
	return true;
}

bool dms_parse_count(const char *s, long *count)
{
	char *end;
	long v;

	if (!s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0)
		return false;
	*count = v;
	return true;
}

bool dms_parse_listen(const char *s, char *host, size_t host_len, int *port)
{
	const char *colon, *h = s;
	size_t n;
	long p;

	if (!s)
		return false;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return false;
		h = s + 1;
		n = close - h;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		n = colon - s;
	}
	if (n >= host_len)
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (!dms_parse_count(colon + 1, &p) || p > 65535)
		return false;
	*port = (int)p;
	return true;
}

/* ---- the running kernel ---- */

/* older kernel headers lack them */
#ifndef CAP_BPF
#define CAP_PERFMON	38
#define CAP_BPF		39
#endif

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

const char *dms_privilege_problem(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return "cannot read the process capabilities";
	if (has_cap(data, CAP_SYS_ADMIN))
		return NULL;
	if (has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON))
		return NULL;
	return "needs root, or CAP_BPF and CAP_PERFMON (and read access to /proc/kallsyms)";
}

const char *dms_btf_problem(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return "this kernel has no BTF (/sys/kernel/btf/vmlinux): build it with CONFIG_DEBUG_INFO_BTF=y";
	return NULL;
}

struct ksym {
	uint64_t addr;
	char name[200];
};

static struct ksym *ksyms;
static size_t nr_ksyms;

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Load the text and data symbols once; lookups then bisect. */
static void load_ksyms(void)
{
	char line[256], type, name[128], mod[64];
	unsigned long long addr;
	size_t cap = 0;
	FILE *f;

	if (ksyms)
		return;
	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		int n = sscanf(line, "%llx %c %127s %63s", &addr, &type, name, mod);

		if (n < 3 || !addr)
			continue;
		if (nr_ksyms == cap) {
			struct ksym *grown;

			cap = cap ? cap * 2 : 65536;
			grown = realloc(ksyms, cap * sizeof(*ksyms));
			if (!grown)
				break;
			ksyms = grown;
		}
		ksyms[nr_ksyms].addr = addr;
		if (n == 4)
			snprintf(ksyms[nr_ksyms].name, sizeof(ksyms[0].name), "%s %s", name, mod);
		else
			snprintf(ksyms[nr_ksyms].name, sizeof(ksyms[0].name), "%s", name);
		nr_ksyms++;
	}
	fclose(f);
	qsort(ksyms, nr_ksyms, sizeof(*ksyms), ksym_cmp);
}

bool dms_kallsyms_name(uint64_t addr, char *buf, size_t len)
{
	size_t lo = 0, hi;

	load_ksyms();
	hi = nr_ksyms;
	if (!nr_ksyms || addr < ksyms[0].addr)
		return false;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (ksyms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	snprintf(buf, len, "%s", ksyms[lo].name);
	return true;
}

int dms_iommu_dma_groups(void)
{
	static const char groups[] = "/sys/kernel/iommu_groups";
	char path[PATH_MAX], type[32];
	struct dirent *e;
	int n = 0;
	DIR *dir = opendir(groups);
	FILE *f;

	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/type", groups, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(type, sizeof(type), f) && !strncmp(type, "DMA", 3))
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* ---- time ---- */

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

uint64_t dms_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t dms_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/* ---- signals: a flag, and a pipe that poll() can wait on ---- */

static volatile sig_atomic_t stop_requested;
static int signal_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	stop_requested = 1;
	if (write(signal_pipe[1], "x", 1) < 0) {
		/* full: the reader is woken already */
	}
	errno = saved;
}

void dms_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	if (signal_pipe[0] < 0 && pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK))
		dms_fail(EXIT_RUNTIME, "cannot create a pipe: %s", strerror(errno));
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* the terminal went away: stop as cleanly as for SIGTERM */
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool dms_stopping(void)
{
	return stop_requested;
}

int dms_signal_fd(void)
{
	return signal_pipe[0];
}

/* ---- records ---- */

void *dms_row_at(const struct dms_rows *r, int i)
{
	return (char *)r->data + (size_t)i * r->size;
}

static uint64_t row_key(const struct dms_rows *r, int i)
{
	return *(const uint64_t *)dms_row_at(r, i);
}

/* The first position whose key is not below key */
static int row_pos(const struct dms_rows *r, uint64_t key)
{
	int lo = 0, hi = r->n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (row_key(r, mid) < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void *dms_row_find(const struct dms_rows *r, uint64_t key)
{
	int pos = row_pos(r, key);

	return pos < r->n && row_key(r, pos) == key ? dms_row_at(r, pos) : NULL;
}

void *dms_row_get(struct dms_rows *r, uint64_t key, bool *made)
{
	int pos = row_pos(r, key);
	char *row;

	*made = !(pos < r->n && row_key(r, pos) == key);
	if (!*made)
		return dms_row_at(r, pos);
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->data = dms_realloc(r->data, r->cap, r->size);
	}
	row = dms_row_at(r, pos);
	memmove(row + r->size, row, (size_t)(r->n - pos) * r->size);
	r->n++;
	memset(row, 0, r->size);
	memcpy(row, &key, sizeof(key));
	return row;
}

void dms_row_remove(struct dms_rows *r, void *row)
{
	char *end = dms_row_at(r, r->n);

	memmove(row, (char *)row + r->size, end - ((char *)row + r->size));
	r->n--;
}

void dms_fold_u64s(uint64_t *out, const uint64_t *in, size_t n, uint64_t max_of)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i < 64 && (max_of & (1ULL << i)))
			out[i] = out[i] > in[i] ? out[i] : in[i];
		else
			out[i] += in[i];
	}
}

/* ---- files ---- */

bool dms_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

bool dms_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	bool ok = f && fputs(text, f) >= 0;

	if (f && fclose(f))
		ok = false;
	return ok;
}
