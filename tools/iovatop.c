// SPDX-License-Identifier: GPL-2.0
/*
 * iovatop: the IOVA allocator live, per domain, size class and CPU.
 *
 * The BPF side (bpf/iovatop.bpf.c) counts allocator events and reads the
 * caches; this side turns that into one snapshot per interval and renders
 * it as a table, JSON lines, or Prometheus metrics.  What every tool
 * shares (options, modes and hooks, the loop, the outputs) is the frame
 * in tools/lib/loop.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "loop.h"
#include "iovatop.h"
#include "iovatop.skel.h"

#define NR_BUCKETS	(IOVATOP_ORDER_DOMAIN + 1)
#define STATS_PARAM	"/sys/module/iova/parameters/stats"
#define STATS_LOCK	"/run/dmascope-iovatop.lock"
#define PROM(name)	"dmascope_iova_" name
#define TABLE_CHROME	6	/* lines of the screen that are not rows */
#define KIB		1024
#define NSEC_PER_USEC	1000.0

_Static_assert(LOST_KINDS <= DMS_LOST_MAX, "iovatop's lost kinds fit dms_lost");

static const char usage_text[] =
"Usage: iovatop [OPTION]... [INTERVAL [COUNT]]\n"
"Show the IOVA allocator behind an IOMMU live: per domain (device), size\n"
"class and CPU, how often the per-CPU magazine caches serve allocations,\n"
"what the caches and the depot hold, the rbtree's size, depth and walks,\n"
"lock waits, flushes and failures.  Needs root (or CAP_BPF, CAP_PERFMON).\n"
"\n"
"Views (one at a time):\n"
"  (default)            one row per domain\n"
"  -c, --classes        one row per domain and size class (order)\n"
"  -C, --cpus           one row per domain and CPU: IOVAs each CPU caches\n"
"Selection and layout:\n"
"  -d, --domain=MATCH   only domains whose id, name, device, driver or kind\n"
"                       contains MATCH\n"
"  -s, --sort=KEY       allocs (default), hit, tree, cached, nodes, lock,\n"
"                       depot, id\n"
"  -n, --rows=N         show at most N rows\n"
"  -L, --light          fentry mode: count allocations with one fentry, not\n"
"                       every call to its end: no frees, flushes or release\n"
"                       reasons (the default of the domain and CPU views)\n"
"Modes (-m): counters (the dmascope patches' iova.stats counters and their\n"
"rare iova:* events), tracepoint (every iova:* event: exact per call, but a\n"
"probe on every map and unmap), fentry (exported functions; any kernel\n"
"with BTF).\n"
"See iovatop(8) for the columns, the JSON schema and the metric names.\n"
"\n";

enum sort_key { SORT_ALLOCS, SORT_HIT, SORT_TREE, SORT_CACHED, SORT_NODES,
		SORT_LOCK, SORT_DEPOT, SORT_ID };
static const char *const sort_names[] = { "allocs", "hit", "tree", "cached",
					  "nodes", "lock", "depot", "id", NULL };
enum view { VIEW_DOMAINS, VIEW_CLASSES, VIEW_CPUS };

static struct options {
	enum view view;
	enum sort_key sort;
	const char *match;
	long rows;
	bool light;
} opt;

/* ---- one domain as user space sees it ---- */

struct summary {
	uint64_t allocs, hits, misses, bypass, frees, tree_allocs, tree_fail;
	uint64_t tree_frees, depot_push, depot_pop, flushes;
	uint64_t cached, cached_bytes, depot_mags, magazine_bytes, nodes;
	uint64_t depth_max, walk_max, lock_wait_ns, lock_count;
	double hit_ratio, depth_avg, walk_avg;
};

/* A row of the domains table: its key (the iova_domain) first */
struct domain {
	uint64_t iovad;
	int id;
	bool destroyed;
	struct domain_info info;
	struct domain_info named_as;	/* the info its names were made from */
	char name[32];		/* stable metric label: group<N> or private<id> */
	char device[96];	/* what it serves */
	char driver[64];
	char kind[16];
	struct iova_counters total[NR_BUCKETS], prev[NR_BUCKETS], delta[NR_BUCKETS];
	struct lock_stats lock_total[LOCK_KINDS], lock_prev[LOCK_KINDS];
	struct lock_stats lock_delta[LOCK_KINDS];
	struct cache_state cache;
	bool cache_valid;
	struct summary s;
};

/* The snapshot: every known domain, kept sorted by iovad */
static struct state {
	struct iovatop_bpf *skel;
	struct dms_rows domains;
	int next_id;
	int ncpus_read;		/* possible CPUs whose caches are read */
} st = { .domains = { .size = sizeof(struct domain) } };

static struct domain *domain_at(int i)
{
	return dms_row_at(&st.domains, i);
}

/* ---- command line ---- */

static const struct option long_opts[] = {
	{ "classes", no_argument, NULL, 'c' },
	{ "cpus", no_argument, NULL, 'C' },
	{ "domain", required_argument, NULL, 'd' },
	{ "sort", required_argument, NULL, 's' },
	{ "rows", required_argument, NULL, 'n' },
	{ "light", no_argument, NULL, 'L' },
	{}
};

static void parse_opt(int key, const char *arg)
{
	int i;

	switch (key) {
	case 'c':
	case 'C':
		if (opt.view != VIEW_DOMAINS)
			dms_fail(EXIT_USAGE, "--classes and --cpus cannot be combined");
		opt.view = key == 'c' ? VIEW_CLASSES : VIEW_CPUS;
		break;
	case 'd': opt.match = arg; break;
	case 's':
		for (i = 0; sort_names[i] && strcmp(arg, sort_names[i]); i++)
			;
		if (!sort_names[i])
			dms_fail(EXIT_USAGE, "unknown sort key '%s' (allocs, hit, tree, cached, nodes, lock, depot, id)", arg);
		opt.sort = i;
		break;
	case 'L': opt.light = true; break;
	case 'n':
		if (!dms_parse_count(arg, &opt.rows))
			dms_fail(EXIT_USAGE, "--rows needs a positive number, not '%s'", arg);
		break;
	}
	if (opt.light && opt.view == VIEW_CLASSES)
		dms_fail(EXIT_USAGE, "--light and --classes cannot be combined (--light sees no frees)");
}

/* ---- modes and their hooks, best first ---- */

/* The rare iova:* events: counters and tracepoint modes use them */
static const struct dms_hook event_hooks[] = {
	{ "tp_btf/iova_depot_push, iova_depot_pop", { "tp_depot_push", "tp_depot_pop" },
	  "depot pushes and pops" },
	{ "tp_btf/iova_tree_alloc", { "tp_tree_alloc" },
	  "rbtree allocations (misses, sizes that bypass the caches), failures, walks, depth" },
	{ "tp_btf/iova_tree_free", { "tp_tree_free" }, "rbtree frees" },
	{ "tp_btf/iova_magazine_release", { "tp_magazine_release" },
	  "magazines emptied into the rbtree, their IOVAs and lock time" },
	{ "tp_btf/iova_cache_flush", { "tp_cache_flush" }, "cache flushes and their reasons" },
	{ "tp_btf/iova_domain_init, _device, _destroy",
	  { "tp_domain_init", "tp_domain_device", "tp_domain_destroy" },
	  "domains, owners, devices; the last counts of a destroyed domain" },
	{}
};

static const struct dms_hook counter_hooks[] = {
	{ "iova.stats counters (read at each interval)", { "snapshot" },
	  "allocations and where they were served; frees and where they went", DMS_HOOK_RUN },
	{}
};

/* every cache allocation and free: a probe on every map and unmap */
static const struct dms_hook rcache_hooks[] = {
	{ "tp_btf/iova_rcache_alloc", { "tp_rcache_alloc" },
	  "allocations, hits (loaded/prev/depot), misses, bypass", DMS_HOOK_PER_IO },
	{ "tp_btf/iova_rcache_free", { "tp_rcache_free" }, "frees and where they went",
	  DMS_HOOK_PER_IO },
	{}
};

/*
 * fexit before fentry: a call seen starting is seen ending.  The views
 * that show no frees and no flushes (the default one, -C) count
 * allocations with one fentry instead of following every call.
 */
static const struct dms_hook fentry_hooks[] = {
	{ "fentry/alloc_iova_fast", { "fentry_alloc_count" },
	  "allocations; the misses are the rbtree allocations of their size",
	  DMS_HOOK_LIGHT | DMS_HOOK_PER_IO },
	{ "fentry+fexit/alloc_iova_fast", { "fexit_alloc_fast", "fentry_alloc_fast" },
	  "allocations; hit or miss (not which magazine), flush-and-retry",
	  DMS_HOOK_DETAIL | DMS_HOOK_PER_IO },
	{ "fexit/alloc_iova", { "fexit_alloc_tree" }, "rbtree allocations, failures, insert depth" },
	{ "fentry+fexit/free_iova_fast", { "fexit_free_fast", "fentry_free_fast" },
	  "frees: cached, or back to the rbtree", DMS_HOOK_DETAIL | DMS_HOOK_PER_IO },
	{ "fentry/free_iova, __free_iova", { "fentry_free_tree", "fentry_free_tree_iova" },
	  "rbtree frees" },
	{ "fentry+fexit/iova_magazine_free_pfns", { "fexit_release", "fentry_release" },
	  "magazines emptied into the rbtree (full depot, flushes) and their time",
	  DMS_HOOK_OPTIONAL },
	{ "fentry/init_iova_domain, put_iova_domain", { "fentry_init_domain", "fentry_put_domain" },
	  "domains created and destroyed" },
	{}
};

static const struct dms_hook common_hooks[] = {
	{ "tp_btf/contention_begin, contention_end", { "contention_end", "contention_begin" },
	  "wait time on the rbtree, depot and CPU cache locks" },
	{ "syscall/snapshot (BPF_PROG_TEST_RUN)", { "snapshot" },
	  "IOMMU groups' domains; IOVAs in each CPU cache and the depot; rbtree nodes",
	  DMS_HOOK_RUN },
	{}
};

static const char *const fentry_blind[] = {
	"hit source (loaded/prev/depot): needs iova_rcache_alloc",
	"depot pushes and pops: __iova_rcache_insert/get are inlined",
	"rbtree walk length: needs iova_tree_alloc",
	"flush reasons other than alloc retry: needs iova_cache_flush",
	NULL
};

/*
 * iova.stats comes with the dmascope patches, iova:* events included: no
 * need to parse the kernel's BTF (a third of iovatop's start-up) to know.
 */
static const char *no_counters(void)
{
	if (access(STATS_PARAM, W_OK))
		return "this kernel has no writable " STATS_PARAM " (apply kernel-patches/)";
	return NULL;
}

static const struct dms_mode modes[] = {
	{ "counters", "iova.stats counters and the rare iova:* events of the dmascope patches",
	  { counter_hooks, event_hooks }, NULL, no_counters },
	{ "tracepoint", "every iova:* event of the dmascope patches", { rcache_hooks, event_hooks },
	  .needs = { { "btf_trace_iova_rcache_alloc", BTF_KIND_TYPEDEF } },
	  .missing = "this kernel has no iova:* trace events (apply kernel-patches/)" },
	{ "fentry", "exported IOVA functions; no iova:* events in this kernel", { fentry_hooks },
	  fentry_blind,
	  .needs = { { "alloc_iova_fast", BTF_KIND_FUNC }, { "free_iova_fast", BTF_KIND_FUNC } },
	  .missing = "no alloc_iova_fast/free_iova_fast in the kernel's BTF (is CONFIG_IOMMU_IOVA set?)" },
	{}
};

/* ---- machines iovatop cannot serve ---- */

static const char *unserved(void)
{
	if (!dms_iommu_dma_groups())
		return "no IOMMU DMA domain on this machine (no IOMMU, or it is off or in passthrough): no IOVA allocator to show";
	return NULL;
}

/* ---- the BPF object ---- */

static struct bpf_object *open_bpf(const struct dms_mode *mode)
{
	int ncpus = dms_ncpus();

	(void)mode;
	st.skel = iovatop_bpf__open();
	if (!st.skel)
		return NULL;
	st.ncpus_read = ncpus < IOVATOP_MAX_CPUS ? ncpus : IOVATOP_MAX_CPUS;
	st.skel->rodata->nr_cpus = ncpus;
	return st.skel->obj;
}

static int load_bpf(void)
{
	return iovatop_bpf__load(st.skel);
}

static void close_bpf(void)
{
	iovatop_bpf__destroy(st.skel);
	st.skel = NULL;
}

/*
 * The kernel counts cache outcomes per CPU only while iova.stats is set.
 * That is one switch for the whole kernel, shared by every iovatop that
 * runs, so each holds a shared flock on STATS_LOCK while it runs, and the
 * lock file records that an iovatop (not the administrator) turned the
 * counters on.  The last one to stop turns them off again: after iovatop
 * the fast path is what it was before.  One killed by SIGKILL leaves them
 * on until the next one stops.
 */
static int stats_lock = -1;

static void restore_counters(void)
{
	char mark[2];

	if (flock(stats_lock, LOCK_EX | LOCK_NB) == 0 &&
	    pread(stats_lock, mark, 2, 0) == 2 && !memcmp(mark, "on", 2)) {
		if (!dms_write_file(STATS_PARAM, "0\n"))
			dms_warn("cannot turn %s off: %s", STATS_PARAM, strerror(errno));
		else if (ftruncate(stats_lock, 0))
			dms_warn("cannot clear %s: %s", STATS_LOCK, strerror(errno));
	}
	close(stats_lock);
}

static void enable_counters(void)
{
	char was[8] = "?";

	stats_lock = open(STATS_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (stats_lock >= 0 && flock(stats_lock, LOCK_SH)) {
		close(stats_lock);
		stats_lock = -1;
	}
	if (stats_lock < 0)
		dms_warn("cannot lock %s (%s): %s will stay on after iovatop",
			 STATS_LOCK, strerror(errno), STATS_PARAM);
	/* read under the lock: an iovatop that is stopping may turn it off */
	dms_read_line(STATS_PARAM, was, sizeof(was));
	if (was[0] != '1' && was[0] != 'Y') {
		if (!dms_write_file(STATS_PARAM, "1\n"))
			dms_fail(EXIT_RUNTIME, "cannot enable %s: %s", STATS_PARAM, strerror(errno));
		if (stats_lock >= 0 && pwrite(stats_lock, "on\n", 3, 0) != 3)
			dms_warn("cannot write %s: %s", STATS_LOCK, strerror(errno));
	}
	if (stats_lock >= 0)
		atexit(restore_counters);
}

/* ---- reading the BPF maps ---- */

static struct domain *get_domain(uint64_t iovad)
{
	bool made;
	struct domain *d = dms_row_get(&st.domains, iovad, &made);

	if (made)
		d->id = ++st.next_id;
	return d;
}

/* The maxima of struct iova_counters are maxima, not sums */
#define COUNTER_MAXIMA	(DMS_FIELD_BIT(struct iova_counters, walk_max) | \
			 DMS_FIELD_BIT(struct iova_counters, depth_max))
#define NR_COUNTERS	(sizeof(struct iova_counters) / sizeof(__u64))

_Static_assert(NR_COUNTERS <= 64, "every field of iova_counters has a bit in a fold mask");

static void add_counters(struct iova_counters *sum, const struct iova_counters *c)
{
	dms_fold_u64s((uint64_t *)sum, (const uint64_t *)c, NR_COUNTERS, COUNTER_MAXIMA);
}

static void sub_counters(struct iova_counters *out, const struct iova_counters *now,
			 const struct iova_counters *before)
{
	dms_sub_u64s((uint64_t *)out, (const uint64_t *)now, (const uint64_t *)before,
		     NR_COUNTERS);
	/* a cumulative maximum says nothing about this interval if unchanged */
	out->walk_max = now->walk_max > before->walk_max ? now->walk_max : 0;
	out->depth_max = now->depth_max > before->depth_max ? now->depth_max : 0;
}

static void add_domain(const void *key, const void *value, void *ctx)
{
	struct domain *d = get_domain(*(const uint64_t *)key);

	(void)ctx;
	d->info = *(const struct domain_info *)value;
	d->destroyed = d->info.destroyed_ns != 0;
}

static void add_stats(const void *k, const void *values, void *ctx)
{
	const struct stats_key *key = k;
	struct domain *d = get_domain(key->iovad);

	(void)ctx;
	if (key->order < NR_BUCKETS)
		dms_percpu_fold(values, sizeof(struct iova_counters),
				(uint64_t *)&d->total[key->order], NR_COUNTERS, COUNTER_MAXIMA);
}

static void add_lock_stats(const void *k, const void *values, void *ctx)
{
	const struct lock_key *key = k;
	struct domain *d = dms_row_find(&st.domains, key->iovad);

	(void)ctx;
	if (d && key->kind < LOCK_KINDS)
		dms_percpu_fold(values, sizeof(struct lock_stats),
				(uint64_t *)&d->lock_total[key->kind], 3,
				DMS_FIELD_BIT(struct lock_stats, max_ns));
}

_Static_assert(sizeof(struct lock_stats) == 3 * sizeof(__u64), "per-CPU lock_stats are not padded");

/* The light hook's calls, all as hits: apply_light() finds the misses */
static void add_light(const void *key, const void *values, void *ctx)
{
	struct domain *d = get_domain(*(const uint64_t *)key);
	struct light_calls sum = {};
	int o;

	(void)ctx;
	dms_percpu_fold(values, sizeof(sum), (uint64_t *)&sum, IOVATOP_ORDERS, 0);
	for (o = 0; o < IOVATOP_ORDERS; o++)
		d->total[o].alloc[o < IOVATOP_CACHED_ORDERS ? ALLOC_HIT : ALLOC_BYPASS] +=
			sum.calls[o];
}

/* The one fentry of the light views counts allocations, all as hits */
static bool counting_light(void)
{
	return dms_prog_attached("fentry_alloc_count");
}

/* The BPF counters are cumulative: sum them afresh at each interval. */
static void read_maps(void)
{
	struct iovatop_bpf *skel = st.skel;
	int i;

	dms_read_map(skel->maps.domains, add_domain, NULL);
	for (i = 0; i < st.domains.n; i++) {
		memset(domain_at(i)->total, 0, sizeof(domain_at(i)->total));
		memset(domain_at(i)->lock_total, 0, sizeof(domain_at(i)->lock_total));
	}
	dms_read_map(skel->maps.stats, add_stats, NULL);
	if (counting_light())
		dms_read_map(skel->maps.light_calls, add_light, NULL);
	dms_read_map(skel->maps.lock_stats, add_lock_stats, NULL);
	for (i = 0; i < st.domains.n; i++) {
		struct domain *d = domain_at(i);

		d->cache_valid = !bpf_map_lookup_elem(bpf_map__fd(skel->maps.caches), &d->iovad,
						      &d->cache) && d->cache.valid;
	}
}

static void run_snapshot(void)
{
	static bool warned;

	dms_run_prog(st.skel->progs.snapshot);
	if (!st.skel->bss->dms_per_cpu_offset_addr && !warned) {
		dms_warn("the kernel does not find its data symbols (CONFIG_KALLSYMS_ALL=n?): the caches' contents and idle domains are not shown");
		warned = true;
	}
}

/* ---- naming: what each domain serves ---- */

static void read_link_name(const char *path, char *buf, size_t len)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	target[n] = '\0';
	snprintf(buf, len, "%s", strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
}

/* The devices of an IOMMU group, from sysfs: first one, "+N" for more */
static void name_group(struct domain *d)
{
	char path[PATH_MAX], first[64] = "";
	struct dirent *e;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices", d->info.group);
	dir = opendir(path);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (!n || strcmp(e->d_name, first) < 0)
			snprintf(first, sizeof(first), "%s", e->d_name);
		n++;
	}
	closedir(dir);
	if (!n)
		return;
	if (n > 1)
		snprintf(d->device, sizeof(d->device), "%s+%d", first, n - 1);
	else
		snprintf(d->device, sizeof(d->device), "%s", first);
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices/%s/driver",
		 d->info.group, first);
	read_link_name(path, d->driver, sizeof(d->driver));
}

/* A private domain: who created it ("vduse", a module, a function) */
static void name_private(struct domain *d)
{
	char sym[128], *mod, *plus;

	snprintf(d->kind, sizeof(d->kind), "private");
	/* created before iovatop started: its owner is not known */
	snprintf(d->device, sizeof(d->device), "private");
	if (!d->info.owner_ip || !dms_kallsyms_name(d->info.owner_ip, sym, sizeof(sym)))
		return;
	if (strstr(sym, "vduse")) {
		snprintf(d->kind, sizeof(d->kind), "vduse");
		snprintf(d->device, sizeof(d->device), "vduse");
		return;
	}
	mod = strchr(sym, '[');
	if (mod) {
		plus = strchr(mod, ']');
		if (plus)
			*plus = '\0';
		snprintf(d->device, sizeof(d->device), "%s", mod + 1);
	} else {
		snprintf(d->device, sizeof(d->device), "%s", sym);
	}
}

/* Once, and again only when what the kernel told about it changed */
static void name_domain(struct domain *d)
{
	if (d->name[0] && d->named_as.group == d->info.group &&
	    d->named_as.kind == d->info.kind && d->named_as.owner_ip == d->info.owner_ip &&
	    !strcmp(d->named_as.device, d->info.device))
		return;
	d->named_as = d->info;
	d->driver[0] = '\0';
	if (d->info.group >= 0) {
		snprintf(d->kind, sizeof(d->kind), "iommu-dma");
		snprintf(d->name, sizeof(d->name), "group%d", d->info.group);
		name_group(d);
	} else if (d->info.kind == DOMAIN_IOMMU_DMA && d->info.device[0]) {
		snprintf(d->kind, sizeof(d->kind), "iommu-dma");
		snprintf(d->name, sizeof(d->name), "domain%d", d->id);
		snprintf(d->device, sizeof(d->device), "%s", d->info.device);
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", d->info.device);
		read_link_name(path, d->driver, sizeof(d->driver));
	} else {
		snprintf(d->name, sizeof(d->name), "private%d", d->id);
		name_private(d);
	}
	if (!d->driver[0])
		snprintf(d->driver, sizeof(d->driver), "-");
}

/* ---- the snapshot: deltas and derived numbers ---- */

static uint64_t sum_hits(const struct iova_counters *c)
{
	return c->alloc[ALLOC_LOADED] + c->alloc[ALLOC_PREV] + c->alloc[ALLOC_DEPOT] +
	       c->alloc[ALLOC_HIT];
}

static uint64_t sum_array(const __u64 *a, int n)
{
	uint64_t s = 0;

	while (n--)
		s += a[n];
	return s;
}

static uint64_t cpu_cached_bytes(const struct domain *d, int cpu)
{
	uint64_t bytes = 0;
	int o;

	for (o = 0; o < IOVATOP_CACHED_ORDERS; o++)
		bytes += (d->cache.loaded[o][cpu] + d->cache.prev[o][cpu]) *
			 (1ULL << o) * d->cache.granule;
	return bytes;
}

static uint64_t class_cached(const struct domain *d, int order)
{
	uint64_t n = d->cache.depot[order] * IOVATOP_MAG_SIZE;
	int cpu;

	for (cpu = 0; cpu < st.ncpus_read; cpu++)
		n += d->cache.loaded[order][cpu] + d->cache.prev[order][cpu];
	return n;
}

static void domain_totals(const struct iova_counters *per_class, struct iova_counters *all)
{
	int o;

	memset(all, 0, sizeof(*all));
	for (o = 0; o < NR_BUCKETS; o++)
		add_counters(all, &per_class[o]);
}

static void summarize(struct domain *d)
{
	struct summary *s = &d->s;
	struct iova_counters all;
	int o, k;

	memset(s, 0, sizeof(*s));
	domain_totals(d->delta, &all);
	s->hits = sum_hits(&all);
	s->misses = all.alloc[ALLOC_MISS];
	s->bypass = all.alloc[ALLOC_BYPASS];
	s->allocs = s->hits + s->misses + s->bypass;
	s->frees = sum_array(all.free, FREE_RESULTS);
	s->hit_ratio = s->hits + s->misses ? (double)s->hits / (s->hits + s->misses) : 0;
	s->tree_allocs = all.tree_alloc;
	s->tree_fail = all.tree_alloc_fail;
	s->tree_frees = all.tree_free;
	s->depot_push = all.depot_push;
	s->depot_pop = all.depot_pop;
	s->flushes = sum_array(all.flush, RECLAIM_REASONS);
	s->walk_max = all.walk_max;
	s->walk_avg = all.tree_alloc ? (double)all.walk_sum / all.tree_alloc : 0;
	s->depth_max = all.depth_max;
	s->depth_avg = all.depth_count ? (double)all.depth_sum / all.depth_count : 0;
	for (k = 0; k < LOCK_KINDS; k++) {
		s->lock_wait_ns += d->lock_delta[k].wait_ns;
		s->lock_count += d->lock_delta[k].count;
	}
	if (!d->cache_valid)
		return;
	s->nodes = d->cache.nodes;
	for (o = 0; o < IOVATOP_CACHED_ORDERS; o++) {
		uint64_t n = class_cached(d, o);

		s->cached += n;
		s->cached_bytes += n * (1ULL << o) * d->cache.granule;
		s->depot_mags += d->cache.depot[o];
	}
	/* every CPU holds two magazines per size class, plus the depot's */
	s->magazine_bytes = (2ULL * IOVATOP_CACHED_ORDERS * dms_ncpus() + s->depot_mags) *
			    IOVATOP_MAG_BYTES;
}

/*
 * Counters mode: the CPU caches' own counters give the cache outcomes;
 * sizes that bypass the caches are the rbtree's large allocations.
 */
static void apply_counters(struct domain *d)
{
	static const int free_slot[4] = { FREE_LOADED, FREE_PREV, FREE_NEW_MAG, FREE_NO_MAG };
	struct iova_counters *large = &d->total[IOVATOP_ORDER_LARGE];
	int o, r;

	if (!d->cache.has_counts)
		return;
	for (o = 0; o < IOVATOP_CACHED_ORDERS; o++) {
		for (r = 0; r < ALLOC_BYPASS; r++)
			d->total[o].alloc[r] = d->cache.alloc_count[o][r];
		for (r = 0; r < 4; r++)
			d->total[o].free[free_slot[r]] = d->cache.free_count[o][r];
	}
	large->alloc[ALLOC_BYPASS] = large->tree_alloc + large->tree_alloc_fail;
	large->free[FREE_BYPASS] = large->tree_free;
}

/*
 * Light views: an allocation of a cached size that allocated in the
 * rbtree was a miss.  Exact where only alloc_iova_fast() allocates in the
 * domain's rbtree (the DMA API's domains); a caller of alloc_iova() that
 * skips the caches would count as a miss.
 */
static void apply_light(struct domain *d)
{
	struct iova_counters *c;
	uint64_t misses;
	int o;

	for (o = 0; o < IOVATOP_CACHED_ORDERS; o++) {
		c = &d->total[o];
		misses = c->tree_alloc < c->alloc[ALLOC_HIT] ? c->tree_alloc : c->alloc[ALLOC_HIT];
		c->alloc[ALLOC_MISS] = misses;
		c->alloc[ALLOC_HIT] -= misses;
	}
}

/* Its lock addresses may be reused by other memory once it is freed */
static bool lock_of(const void *key, const void *value, void *ctx)
{
	(void)key;
	return ((const struct lock_owner *)value)->iovad == *(const uint64_t *)ctx;
}

static void forget_domain(struct domain *d)
{
	struct stats_key sk = { .iovad = d->iovad };
	struct lock_key lk = { .iovad = d->iovad };

	bpf_map_delete_elem(bpf_map__fd(st.skel->maps.domains), &d->iovad);
	bpf_map_delete_elem(bpf_map__fd(st.skel->maps.caches), &d->iovad);
	bpf_map_delete_elem(bpf_map__fd(st.skel->maps.light_calls), &d->iovad);
	for (sk.order = 0; sk.order < NR_BUCKETS; sk.order++)
		bpf_map_delete_elem(bpf_map__fd(st.skel->maps.stats), &sk);
	for (lk.kind = 0; lk.kind < LOCK_KINDS; lk.kind++)
		bpf_map_delete_elem(bpf_map__fd(st.skel->maps.lock_stats), &lk);
	dms_prune_map(st.skel->maps.lock_owners, lock_of, &d->iovad);
	dms_row_remove(&st.domains, d);
}

/* Destroyed domains were reported once more: forget them now. */
static void forget_destroyed(void)
{
	int i;

	for (i = st.domains.n - 1; i >= 0; i--)
		if (domain_at(i)->destroyed)
			forget_domain(domain_at(i));
}

static void warn_unmatched(void);

static void collect(void)
{
	bool counters = dms_mode_is("counters"), light = counting_light();
	int i, o, k;

	forget_destroyed();
	run_snapshot();
	read_maps();
	for (i = 0; i < st.domains.n; i++) {
		struct domain *d = domain_at(i);

		if (counters)
			apply_counters(d);
		else if (light)
			apply_light(d);
		for (o = 0; o < NR_BUCKETS; o++) {
			sub_counters(&d->delta[o], &d->total[o], &d->prev[o]);
			d->prev[o] = d->total[o];
		}
		for (k = 0; k < LOCK_KINDS; k++) {
			d->lock_delta[k].wait_ns = dms_delta(d->lock_total[k].wait_ns,
							     d->lock_prev[k].wait_ns);
			d->lock_delta[k].count = dms_delta(d->lock_total[k].count, d->lock_prev[k].count);
			d->lock_delta[k].max_ns = d->lock_total[k].max_ns;
			d->lock_prev[k] = d->lock_total[k];
		}
		name_domain(d);
		summarize(d);
	}
	warn_unmatched();
}

/* ---- selection and order ---- */

static bool matches(const struct domain *d)
{
	char id[16];

	if (!opt.match)
		return true;
	snprintf(id, sizeof(id), "%d", d->id);
	return !strcmp(id, opt.match) || strstr(d->name, opt.match) ||
	       strstr(d->device, opt.match) || strstr(d->driver, opt.match) ||
	       strstr(d->kind, opt.match);
}

static double sort_value(const struct domain *d)
{
	switch (opt.sort) {
	case SORT_ALLOCS: return d->s.allocs;
	case SORT_HIT: return d->s.hit_ratio;
	case SORT_TREE: return d->s.tree_allocs + d->s.tree_frees;
	case SORT_CACHED: return d->s.cached;
	case SORT_NODES: return d->s.nodes;
	case SORT_LOCK: return d->s.lock_wait_ns;
	case SORT_DEPOT: return d->s.depot_mags;
	case SORT_ID: return -d->id;
	}
	return 0;
}

static int compare_domains(const void *a, const void *b)
{
	const struct domain *x = *(struct domain *const *)a, *y = *(struct domain *const *)b;
	double vx = sort_value(x), vy = sort_value(y);

	if (vx != vy)
		return vx < vy ? 1 : -1;
	return x->id - y->id;
}

/* The domains to show, in order; returns how many */
/* Once, at the first read: a -d that matches nothing is likely a typo */
static void warn_unmatched(void)
{
	static bool checked;
	int i;

	if (checked || !opt.match)
		return;
	checked = true;
	for (i = 0; i < st.domains.n; i++)
		if (matches(domain_at(i)))
			return;
	dms_warn("--domain '%s' matches no domain present now (it may appear later)", opt.match);
}

static int selected(struct domain ***out)
{
	struct domain **list = dms_alloc(st.domains.n + 1, sizeof(*list));
	int i, n = 0;

	for (i = 0; i < st.domains.n; i++)
		if (matches(domain_at(i)))
			list[n++] = domain_at(i);
	qsort(list, n, sizeof(*list), compare_domains);
	*out = list;
	return n;
}

/* ---- table ---- */

static unsigned int flushes_seen(void);

static long screen_rows(void)
{
	struct winsize ws;

	if (opt.rows)
		return opt.rows;
	if (!dms_run.batch && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row > TABLE_CHROME)
		return ws.ws_row - TABLE_CHROME;
	return LONG_MAX;
}

static void table_domains(struct dms_buf *b, struct domain **list, int n, long rows)
{
	int i;

	dms_buf_printf(b, "%4s %-22s %-18s %9s %6s %8s %8s %8s %9s %5s %7s %5s %6s %9s %5s %5s\n",
		       "ID", "DEVICE", "DRIVER", "ALLOC/s", "HIT%", "TREE/s", "TOTREE/s",
		       "CACHED", "KiB", "DEPOT", "NODES", "DEPTH", "WALK", "LOCKus/s",
		       "FLUSH", "FAIL");
	for (i = 0; i < n && i < rows; i++) {
		const struct domain *d = list[i];
		const struct summary *s = &d->s;
		char hit[16];

		if (s->hits + s->misses)
			snprintf(hit, sizeof(hit), "%.1f", 100.0 * s->hit_ratio);
		else
			snprintf(hit, sizeof(hit), "-");
		dms_buf_printf(b, "%4d %-22.22s %-18.18s %9.0f %6s %8.0f %8.0f %8llu %9llu %5llu %7llu %5llu %6.1f %9.1f",
			       d->id, d->device, d->driver, dms_rate(s->allocs), hit,
			       dms_rate(s->tree_allocs), dms_rate(s->tree_frees),
			       (unsigned long long)s->cached,
			       (unsigned long long)(s->cached_bytes / KIB),
			       (unsigned long long)s->depot_mags, (unsigned long long)s->nodes,
			       (unsigned long long)s->depth_max, s->walk_avg,
			       dms_rate(s->lock_wait_ns) / NSEC_PER_USEC);
		dms_buf_field(b, 5, flushes_seen() != 0, "%.0f", s->flushes);
		dms_buf_printf(b, " %5llu\n", (unsigned long long)s->tree_fail);
	}
}

static void table_classes(struct dms_buf *b, struct domain **list, int n, long rows)
{
	long shown = 0;
	int i, o;

	dms_buf_printf(b, "%4s %-22s %5s %7s %9s %8s %8s %8s %8s %8s %9s %8s %8s %8s %6s\n",
		       "ID", "DEVICE", "ORDER", "PAGES", "ALLOC/s", "LOADED", "PREV",
		       "DEPOT", "MISS", "BYPASS", "FREE/s", "NEWMAG", "TOTREE", "CACHED",
		       "DEPOT#");
	for (i = 0; i < n; i++) {
		const struct domain *d = list[i];

		for (o = 0; o < IOVATOP_ORDERS && shown < rows; o++) {
			const struct iova_counters *c = &d->delta[o];
			uint64_t allocs = sum_array(c->alloc, ALLOC_RESULTS);
			uint64_t frees = sum_array(c->free, FREE_RESULTS);
			bool cached = o < IOVATOP_CACHED_ORDERS && d->cache_valid;
			char pages[16];

			if (!allocs && !frees && !(cached && class_cached(d, o)))
				continue;
			if (o == IOVATOP_ORDER_LARGE)
				snprintf(pages, sizeof(pages), ">=%d", 1 << o);
			else
				snprintf(pages, sizeof(pages), "%d", 1 << o);
			dms_buf_printf(b, "%4d %-22.22s %5d %7s %9.0f %8llu %8llu %8llu %8llu %8llu %9.0f %8llu %8llu %8llu %6llu\n",
				       d->id, d->device, o, pages, dms_rate(allocs),
				       (unsigned long long)(c->alloc[ALLOC_LOADED] + c->alloc[ALLOC_HIT]),
				       (unsigned long long)c->alloc[ALLOC_PREV],
				       (unsigned long long)c->alloc[ALLOC_DEPOT],
				       (unsigned long long)c->alloc[ALLOC_MISS],
				       (unsigned long long)c->alloc[ALLOC_BYPASS],
				       dms_rate(frees),
				       (unsigned long long)c->free[FREE_NEW_MAG],
				       (unsigned long long)c->tree_free,
				       (unsigned long long)(cached ? class_cached(d, o) : 0),
				       (unsigned long long)(cached ? d->cache.depot[o] : 0));
			shown++;
		}
	}
}

static void table_cpus(struct dms_buf *b, struct domain **list, int n, long rows)
{
	long shown = 0;
	int i, cpu, o;

	dms_buf_printf(b, "%4s %-22s %4s %8s %8s %10s   %s\n", "ID", "DEVICE", "CPU",
		       "LOADED", "PREV", "KiB", "BY ORDER (loaded+prev)");
	for (i = 0; i < n; i++) {
		const struct domain *d = list[i];

		if (!d->cache_valid)
			continue;
		for (cpu = 0; cpu < st.ncpus_read && shown < rows; cpu++) {
			uint64_t loaded = 0, prev = 0, bytes = 0;
			struct dms_buf orders = {};

			for (o = 0; o < IOVATOP_CACHED_ORDERS; o++) {
				uint64_t l = d->cache.loaded[o][cpu], p = d->cache.prev[o][cpu];

				loaded += l;
				prev += p;
				bytes += (l + p) * (1ULL << o) * d->cache.granule;
				dms_buf_printf(&orders, "%s%llu", o ? " " : "",
					       (unsigned long long)(l + p));
			}
			dms_buf_printf(b, "%4d %-22.22s %4d %8llu %8llu %10llu   %s\n", d->id,
				       d->device, cpu, (unsigned long long)loaded,
				       (unsigned long long)prev, (unsigned long long)(bytes / KIB),
				       orders.data);
			dms_buf_free(&orders);
			shown++;
		}
		if (shown < rows)
			dms_buf_printf(b, "%4d %-22.22s %4s %8llu %8s %10s   (%llu magazines)\n",
				       d->id, d->device, "dep",
				       (unsigned long long)(d->s.depot_mags * IOVATOP_MAG_SIZE), "-",
				       "-", (unsigned long long)d->s.depot_mags);
	}
}

static void table(struct dms_buf *b)
{
	struct domain **list;
	int n = selected(&list);
	long rows = screen_rows();
	char what[32];

	snprintf(what, sizeof(what), "%d domains", st.domains.n);
	dms_table_title(b, what);
	if (opt.view == VIEW_CLASSES)
		table_classes(b, list, n, rows);
	else if (opt.view == VIEW_CPUS)
		table_cpus(b, list, n, rows);
	else
		table_domains(b, list, n, rows);
	free(list);
}

/* ---- JSON and Prometheus: a table of metrics per record ---- */

static const char *const alloc_names[ALLOC_RESULTS] = {
	"loaded", "prev", "depot", "miss", "bypass", "hit" };
static const char *const free_names[FREE_RESULTS] = {
	"loaded", "prev", "new_mag", "depot_full", "no_mag", "bypass", "cached", "tree" };
static const char *const reason_names[RECLAIM_REASONS] = {
	"depot_full", "depot_trim", "alloc_retry", "cpu_dead", "idle", "teardown", "unknown" };
static const char *const lock_names[LOCK_KINDS] = { "rbtree", "depot", "cpu" };
static const char *const lost_names[LOST_KINDS] = {
	"domains_full", "stats_full", "locks_full", "reads", "nested", "cpus", "tree_walk" };
static const char *const op_names[] = { "push", "pop" };
static const char *const where_names[] = { "cpus", "depot" };

/*
 * The results each mode tells apart, as masks (bit r for result r).  A
 * result a mode cannot see is left out of the outputs: a 0 would read as
 * "never happened".
 */
#define ALL_OF(n)	((1U << (n)) - 1)
#define BIT_OF(r)	(1U << (r))

static bool fentry_mode(void)
{
	return dms_mode_is("fentry");
}

/* __iova_rcache_insert/get are inlined in unpatched kernels */
static bool sees_depot(void)
{
	return !fentry_mode();
}

static unsigned int allocs_seen(void)
{
	if (fentry_mode())
		return BIT_OF(ALLOC_MISS) | BIT_OF(ALLOC_BYPASS) | BIT_OF(ALLOC_HIT);
	return ALL_OF(ALLOC_RESULTS) & ~BIT_OF(ALLOC_HIT);
}

static unsigned int frees_seen(void)
{
	if (counting_light())
		return 0;
	if (fentry_mode())
		return BIT_OF(FREE_DEPOT_FULL) | BIT_OF(FREE_BYPASS) | BIT_OF(FREE_CACHED) |
		       BIT_OF(FREE_TREE);
	return ALL_OF(FREE_RESULTS) & ~(BIT_OF(FREE_CACHED) | BIT_OF(FREE_TREE));
}

static bool sees_frees(void)
{
	return frees_seen() != 0;
}

/* Magazines emptied: the fentry mode knows two reasons, if its hook is there */
static unsigned int releases_seen(void)
{
	if (!fentry_mode())
		return ALL_OF(RECLAIM_REASONS) & ~BIT_OF(RECLAIM_UNKNOWN);
	if (!dms_prog_attached("fexit_release"))
		return 0;
	if (counting_light())
		return BIT_OF(RECLAIM_UNKNOWN);
	return BIT_OF(RECLAIM_DEPOT_FULL) | BIT_OF(RECLAIM_ALLOC_RETRY) | BIT_OF(RECLAIM_UNKNOWN);
}

static bool sees_releases(void)
{
	return releases_seen() != 0;
}

static unsigned int flushes_seen(void)
{
	if (counting_light())
		return 0;
	if (fentry_mode())
		return BIT_OF(RECLAIM_ALLOC_RETRY);
	return ALL_OF(RECLAIM_REASONS) & ~BIT_OF(RECLAIM_UNKNOWN);
}

#define NS		1e-9
#define COUNTER(m)	offsetof(struct iova_counters, m)
#define SUMMARY(m)	offsetof(struct summary, m)
#define LOCK(m)		offsetof(struct lock_stats, m)
#define CLASS(m)	offsetof(struct class_cache, m)
#define CPU(m)		offsetof(struct cpu_cache, m)
#define TAG_CACHED	1	/* a size class the caches hold */
#define TAG_VALID	2	/* the domain's caches could be read */

_Static_assert(COUNTER(depot_pop) == COUNTER(depot_push) + sizeof(__u64),
	       "depot pushes and pops are an array of two");

/* What the caches hold of one size class, and of one CPU */
struct class_cache {
	__u64 all, where[2], depot_mags;	/* where: on the CPUs, in the depot */
};

struct cpu_cache {
	__u64 loaded, prev, iovas, bytes;
};

/* Per domain and size class */
static const struct dms_metric class_metrics[] = {
	{ "allocs", PROM("allocs_total"), "IOVA allocations by size class and where they were served from",
	  COUNTER(alloc), ALLOC_RESULTS, "result", alloc_names, .elements = allocs_seen },
	{ "frees", PROM("frees_total"), "IOVA frees by size class and where they went",
	  COUNTER(free), FREE_RESULTS, "result", free_names, .elements = frees_seen },
	{ NULL, PROM("depot_operations_total"), "Full magazines pushed to and popped from the depot",
	  COUNTER(depot_push), 2, "op", op_names, .needs = TAG_CACHED, .seen = sees_depot },
	{ "depot_pushes", NULL, NULL, COUNTER(depot_push), .seen = sees_depot },
	{ "depot_pops", NULL, NULL, COUNTER(depot_pop), .seen = sees_depot },
	{ "tree_allocs", NULL, NULL, COUNTER(tree_alloc) },
	{ "tree_frees", NULL, NULL, COUNTER(tree_free) },
	{}
};

static const struct dms_metric class_cache_metrics[] = {
	{ "cached_iovas", NULL, NULL, CLASS(all), .needs = TAG_CACHED | TAG_VALID },
	{ NULL, PROM("cached_iovas"), "IOVAs held by the CPU caches and the depot, by size class",
	  CLASS(where), 2, "where", where_names, .gauge = true, .needs = TAG_CACHED | TAG_VALID },
	{ "depot_magazines", PROM("depot_magazines"), "Full magazines in the depot, by size class",
	  CLASS(depot_mags), .gauge = true, .needs = TAG_CACHED | TAG_VALID },
	{}
};

/* Per domain, over all its size classes */
static const struct dms_metric domain_metrics[] = {
	{ "alloc_results", NULL, NULL, COUNTER(alloc), ALLOC_RESULTS, NULL, alloc_names,
	  .elements = allocs_seen },
	{ "free_results", NULL, NULL, COUNTER(free), FREE_RESULTS, NULL, free_names,
	  .elements = frees_seen },
	{ NULL, PROM("tree_allocs_total"), "rbtree allocations", COUNTER(tree_alloc) },
	{ NULL, PROM("tree_alloc_failures_total"), "rbtree allocations that found no room",
	  COUNTER(tree_alloc_fail) },
	{ NULL, PROM("tree_frees_total"), "IOVAs removed from the rbtree", COUNTER(tree_free) },
	{ NULL, PROM("tree_walk_nodes_total"), "rbtree nodes visited by allocations (not in fentry mode)",
	  COUNTER(walk_sum), .seen = sees_depot },
	{ NULL, PROM("tree_insert_depth_total"),
	  "Sum of the depths at which allocations inserted their rbtree node; over tree_inserts_measured_total, the mean depth",
	  COUNTER(depth_sum) },
	{ NULL, PROM("tree_inserts_measured_total"), "rbtree inserts whose depth was measured",
	  COUNTER(depth_count) },
	{ NULL, PROM("tree_depth_max"), "Deepest rbtree insert since the tool started",
	  COUNTER(depth_max), .gauge = true },
	{ "release_lock_ns", PROM("magazine_release_seconds_total"), "Time spent emptying magazines into the rbtree",
	  COUNTER(release_ns), .to_prom = NS, .seen = sees_releases },
	{}
};

/* The same, labelled with the reason but not the driver and kind */
static const struct dms_metric reason_metrics[] = {
	{ "magazines_released", PROM("released_magazines_total"), "Magazines emptied into the rbtree, by reason",
	  COUNTER(release), RECLAIM_REASONS, "reason", reason_names, .elements = releases_seen },
	{ "iovas_released", PROM("released_iovas_total"), "IOVAs returned from caches to the rbtree, by reason",
	  COUNTER(released), RECLAIM_REASONS, "reason", reason_names, .elements = releases_seen },
	{ "flushes", PROM("flushes_total"), "Cache flushes that returned IOVAs, by reason",
	  COUNTER(flush), RECLAIM_REASONS, "reason", reason_names, .elements = flushes_seen },
	{ "iovas_flushed", NULL, NULL, COUNTER(flushed), RECLAIM_REASONS, NULL, reason_names,
	  .elements = flushes_seen },
	{}
};

/* Per domain: the interval's summary (JSON), the caches now (both) */
static const struct dms_metric summary_metrics[] = {
	{ "allocs", NULL, NULL, SUMMARY(allocs) },
	{ "hits", NULL, NULL, SUMMARY(hits) },
	{ "misses", NULL, NULL, SUMMARY(misses) },
	{ "bypass", NULL, NULL, SUMMARY(bypass) },
	{ "frees", NULL, NULL, SUMMARY(frees), .seen = sees_frees },
	{ "depot_pushes", NULL, NULL, SUMMARY(depot_push), .seen = sees_depot },
	{ "depot_pops", NULL, NULL, SUMMARY(depot_pop), .seen = sees_depot },
	{ NULL, PROM("tree_nodes"), "IOVAs in the rbtree", SUMMARY(nodes), .gauge = true,
	  .needs = TAG_VALID },
	{ "cached_iovas", NULL, NULL, SUMMARY(cached), .needs = TAG_VALID },
	{ "cached_bytes", PROM("cached_bytes"), "IOVA space held by the caches",
	  SUMMARY(cached_bytes), .gauge = true, .needs = TAG_VALID },
	{ "depot_magazines", NULL, NULL, SUMMARY(depot_mags), .needs = TAG_VALID },
	{ "magazine_bytes", PROM("magazine_bytes"), "Memory of the domain's magazines",
	  SUMMARY(magazine_bytes), .gauge = true, .needs = TAG_VALID },
	{}
};

/* Per domain and lock */
static const struct dms_metric lock_metrics[] = {
	{ NULL, PROM("lock_wait_seconds_total"), "Time CPUs waited for the domain's locks",
	  LOCK(wait_ns), .to_prom = NS },
	{ NULL, PROM("lock_contentions_total"), "Contended acquisitions of the domain's locks",
	  LOCK(count) },
	{}
};

/* Per domain and CPU */
static const struct dms_metric cpu_metrics[] = {
	{ "loaded", NULL, NULL, CPU(loaded) },
	{ "prev", NULL, NULL, CPU(prev) },
	{ "cached_iovas", PROM("cpu_cached_iovas"), "IOVAs held by one CPU's cache, all size classes",
	  CPU(iovas), .gauge = true },
	{ NULL, PROM("cpu_cached_bytes"), "IOVA space held by one CPU's cache, all size classes",
	  CPU(bytes), .gauge = true },
	{}
};

static unsigned int domain_tags(const struct domain *d)
{
	return d->cache_valid ? TAG_VALID : 0;
}

static unsigned int class_tags(const struct domain *d, int order)
{
	return domain_tags(d) | (order < IOVATOP_CACHED_ORDERS ? TAG_CACHED : 0);
}

static void class_view(const struct domain *d, int order, struct class_cache *c)
{
	memset(c, 0, sizeof(*c));
	if (order >= IOVATOP_CACHED_ORDERS || !d->cache_valid)
		return;
	c->all = class_cached(d, order);
	c->depot_mags = d->cache.depot[order];
	c->where[1] = c->depot_mags * IOVATOP_MAG_SIZE;
	c->where[0] = c->all - c->where[1];
}

static void cpu_view(const struct domain *d, int cpu, struct cpu_cache *c)
{
	int o;

	memset(c, 0, sizeof(*c));
	for (o = 0; o < IOVATOP_CACHED_ORDERS; o++) {
		c->loaded += d->cache.loaded[o][cpu];
		c->prev += d->cache.prev[o][cpu];
	}
	c->iovas = c->loaded + c->prev;
	c->bytes = cpu_cached_bytes(d, cpu);
}

static void json_domain(struct dms_json *j, const struct domain *d)
{
	const struct summary *s = &d->s;
	struct iova_counters all;
	struct class_cache cc;
	struct cpu_cache c;
	int o, cpu, k;

	domain_totals(d->delta, &all);
	dms_json_object(j, NULL);
	dms_json_u64(j, "id", d->id);
	dms_json_str(j, "name", d->name);
	dms_json_str(j, "device", d->device);
	dms_json_str(j, "driver", d->driver);
	dms_json_str(j, "kind", d->kind);
	dms_json_i64(j, "group", d->info.group);
	dms_json_bool(j, "destroyed", d->destroyed);
	dms_json_u64(j, "granule", d->cache.granule);
	dms_json_bool(j, "cache_valid", d->cache_valid);
	dms_json_double(j, "hit_ratio", s->hit_ratio);
	dms_json_metrics(j, summary_metrics, s, domain_tags(d));
	dms_json_metrics(j, domain_metrics, &all, 0);
	dms_json_metrics(j, reason_metrics, &all, 0);
	dms_json_object(j, "tree");
	dms_json_u64(j, "allocs", s->tree_allocs);
	dms_json_u64(j, "alloc_failures", s->tree_fail);
	dms_json_u64(j, "retries", all.tree_retry);
	dms_json_u64(j, "frees", s->tree_frees);
	if (d->cache_valid)
		dms_json_u64(j, "nodes", s->nodes);
	dms_json_double(j, "walk_avg", s->walk_avg);
	dms_json_u64(j, "walk_max", s->walk_max);
	dms_json_double(j, "depth_avg", s->depth_avg);
	dms_json_u64(j, "depth_max", s->depth_max);
	dms_json_end_object(j);
	dms_json_object(j, "lock_wait_ns");
	for (k = 0; k < LOCK_KINDS; k++)
		dms_json_u64(j, lock_names[k], d->lock_delta[k].wait_ns);
	dms_json_end_object(j);
	dms_json_object(j, "lock_contentions");
	for (k = 0; k < LOCK_KINDS; k++)
		dms_json_u64(j, lock_names[k], d->lock_delta[k].count);
	dms_json_end_object(j);
	dms_json_array(j, "classes");
	for (o = 0; o < IOVATOP_ORDERS; o++) {
		dms_json_object(j, NULL);
		dms_json_u64(j, "order", o);
		dms_json_metrics(j, class_metrics, &d->delta[o], class_tags(d, o));
		class_view(d, o, &cc);
		dms_json_metrics(j, class_cache_metrics, &cc, class_tags(d, o));
		dms_json_end_object(j);
	}
	dms_json_end_array(j);
	dms_json_array(j, "cpus");
	for (cpu = 0; d->cache_valid && cpu < st.ncpus_read; cpu++) {
		cpu_view(d, cpu, &c);
		dms_json_object(j, NULL);
		dms_json_u64(j, "cpu", cpu);
		dms_json_metrics(j, cpu_metrics, &c, 0);
		dms_json_end_object(j);
	}
	dms_json_end_array(j);
	dms_json_end_object(j);
}

static void json(struct dms_json *j)
{
	struct domain **list;
	int n = selected(&list), i;

	dms_json_array(j, "domains");
	for (i = 0; i < n; i++)
		json_domain(j, list[i]);
	dms_json_end_array(j);
	free(list);
}

/* Prometheus: cumulative since the tool started */

static struct dms_record *add_record(struct dms_records *rs, const struct domain *d,
				     const void *data, unsigned int tags)
{
	struct dms_record *r = dms_record_add(rs, data, tags);

	dms_label(&r->labels, "domain", d->name);
	dms_label(&r->labels, "device", d->device);
	return r;
}

static void metrics_classes(struct dms_prom *p, struct domain **list, int n)
{
	struct class_cache *cc = dms_alloc(n * IOVATOP_ORDERS + 1, sizeof(*cc));
	struct dms_records counts = {}, caches = {};
	int i, o;

	for (i = 0; i < n; i++)
		for (o = 0; o < IOVATOP_ORDERS; o++) {
			unsigned int tags = class_tags(list[i], o);

			dms_label_u64(&add_record(&counts, list[i], &list[i]->total[o], tags)->labels,
				      "order", o);
			class_view(list[i], o, &cc[caches.n]);
			dms_label_u64(&add_record(&caches, list[i], &cc[caches.n], tags)->labels,
				      "order", o);
		}
	dms_prom_metrics(p, class_metrics, counts.r, counts.n);
	dms_prom_metrics(p, class_cache_metrics, caches.r, caches.n);
	dms_records_free(&counts);
	dms_records_free(&caches);
	free(cc);
}

static void metrics_domains(struct dms_prom *p, struct domain **list, int n)
{
	struct iova_counters *all = dms_alloc(n + 1, sizeof(*all));
	struct dms_records totals = {}, reasons = {}, summaries = {}, locks = {};
	struct dms_record *r;
	int i, k;

	for (i = 0; i < n; i++) {
		domain_totals(list[i]->total, &all[i]);
		add_record(&reasons, list[i], &all[i], 0);
		r = add_record(&totals, list[i], &all[i], 0);
		dms_label(&r->labels, "driver", list[i]->driver);
		dms_label(&r->labels, "kind", list[i]->kind);
		*dms_record_add(&summaries, NULL, 0) = *r;
		summaries.r[i].data = &list[i]->s;
		summaries.r[i].tags = domain_tags(list[i]);
		for (k = 0; k < LOCK_KINDS; k++)
			dms_label(&add_record(&locks, list[i], &list[i]->lock_total[k], 0)->labels,
				  "lock", lock_names[k]);
	}
	dms_prom_metrics(p, domain_metrics, totals.r, totals.n);
	dms_prom_metrics(p, reason_metrics, reasons.r, reasons.n);
	dms_prom_metrics(p, lock_metrics, locks.r, locks.n);
	dms_prom_metrics(p, summary_metrics, summaries.r, summaries.n);
	dms_records_free(&totals);
	dms_records_free(&reasons);
	dms_records_free(&summaries);
	dms_records_free(&locks);
	free(all);
}

static void metrics_cpus(struct dms_prom *p, struct domain **list, int n)
{
	struct cpu_cache *c = dms_alloc(n * st.ncpus_read + 1, sizeof(*c));
	struct dms_records cpus = {};
	int i, cpu;

	for (i = 0; i < n; i++)
		for (cpu = 0; list[i]->cache_valid && cpu < st.ncpus_read; cpu++) {
			cpu_view(list[i], cpu, &c[cpus.n]);
			dms_label_u64(&add_record(&cpus, list[i], &c[cpus.n], 0)->labels, "cpu", cpu);
		}
	dms_prom_metrics(p, cpu_metrics, cpus.r, cpus.n);
	dms_records_free(&cpus);
	free(c);
}

static void metrics(struct dms_prom *p)
{
	struct domain **list;
	int n = selected(&list);

	metrics_classes(p, list, n);
	metrics_domains(p, list, n);
	metrics_cpus(p, list, n);
	free(list);
}

static void hooks_note(FILE *f)
{
	if (dms_mode_is("counters"))
		fprintf(f, "note: iovatop sets %s to 1 while it runs; the last iovatop to stop sets it back to 0\n",
			STATS_PARAM);
	if (dms_ncpus() > IOVATOP_MAX_CPUS)
		fprintf(f, "note: the caches of CPUs %d and above are not read\n", IOVATOP_MAX_CPUS);
}

/* The default and -C views show no frees and no flushes */
static bool light(void)
{
	return opt.light || (opt.view != VIEW_CLASSES && !dms_run.json &&
			     !dms_run.listen_port && !dms_run.textfile);
}

static void started(void)
{
	if (dms_mode_is("counters"))
		enable_counters();
}

int main(int argc, char **argv)
{
	static const struct dms_tool tool = {
		.name = "iovatop",
		.usage = usage_text,
		.short_opts = "cCd:s:n:L",
		.long_opts = long_opts,
		.parse_opt = parse_opt,
		.metric_prefix = "dmascope_iova_",
		.lost_names = lost_names,
		.nlost = LOST_KINDS,
		.modes = modes,
		.common = common_hooks,
		.open = open_bpf,
		.load = load_bpf,
		.close = close_bpf,
		.unserved = unserved,
		.started = started,
		.collect = collect,
		.table = table,
		.json = json,
		.metrics = metrics,
		.light = light,
		.hooks_note = hooks_note,
	};

	return dms_main(&tool, argc, argv);
}
