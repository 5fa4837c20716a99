// SPDX-License-Identifier: GPL-2.0
/*
 * iovatop: the IOVA allocator live, per domain, size class and CPU.
 *
 * The BPF side (bpf/iovatop.bpf.c) counts allocator events and reads the
 * caches; this side turns that into one snapshot per interval and renders
 * it as a table, JSON lines, or Prometheus metrics.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "dmascope.h"
#include "iovatop.h"
#include "iovatop.skel.h"

#define NR_BUCKETS	(IOVATOP_ORDER_DOMAIN + 1)
#define MAX_LINKS	64
#define STATS_PARAM	"/sys/module/iova/parameters/stats"
#define STATS_LOCK	"/run/dmascope-iovatop.lock"

static const char usage_text[] =
"Usage: iovatop [OPTION]... [INTERVAL [COUNT]]\n"
"Show the IOVA allocator behind an IOMMU live: per domain (device), size\n"
"class and CPU, how often the per-CPU magazine caches serve allocations,\n"
"what the caches and the depot hold, the rbtree's size, depth and walks,\n"
"lock waits, flushes and failures.  Needs root (or CAP_BPF, CAP_PERFMON).\n"
"\n"
"INTERVAL is in seconds (default 1, fractions allowed); COUNT stops after\n"
"that many intervals (default: until interrupted).\n"
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
"  -b, --batch          print plain lines, do not redraw the screen (the\n"
"                       default when the output is not a terminal)\n"
"Machine output (from the same snapshot as the table):\n"
"  -j, --json           one JSON object per interval (NDJSON) on stdout\n"
"  -p, --prometheus=ADDR:PORT\n"
"                       serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                       (\":9464\" listens on all addresses)\n"
"  -t, --textfile=PATH  write the metrics to PATH at each interval, for the\n"
"                       node_exporter textfile collector (atomic rename)\n"
"  -q, --quiet          no table (useful with --prometheus or --textfile)\n"
"How to observe:\n"
"  -m, --mode=MODE      auto (default), counters (the dmascope patches'\n"
"                       iova.stats counters and their rare iova:* events),\n"
"                       tracepoint (every iova:* event: exact per call, but a\n"
"                       probe on every map and unmap) or fentry (exported\n"
"                       functions; any kernel with BTF)\n"
"  -v, --verbose        print which hook serves which metric at start-up\n"
"      --hooks          print the hooks and unavailable metrics, then exit\n"
"  -h, --help           this help\n"
"\n"
"Exit status: 0 when done or interrupted (SIGINT, SIGTERM), 1 when the\n"
"kernel side cannot be set up, 2 for a bad command line.\n"
"See iovatop(8) for the columns, the JSON schema and the metric names.\n";

enum sort_key { SORT_ALLOCS, SORT_HIT, SORT_TREE, SORT_CACHED, SORT_NODES,
		SORT_LOCK, SORT_DEPOT, SORT_ID };
static const char *const sort_names[] = { "allocs", "hit", "tree", "cached",
					  "nodes", "lock", "depot", "id", NULL };
enum view { VIEW_DOMAINS, VIEW_CLASSES, VIEW_CPUS };

static struct options {
	double interval;
	long count;
	enum view view;
	enum sort_key sort;
	const char *match;
	long rows;
	bool batch, json, quiet, verbose, hooks_only;
	char listen_host[256];
	int listen_port;
	const char *textfile;
	const char *mode;
} opt = { .interval = 1.0, .mode = "auto" };

/* ---- one domain as user space sees it ---- */

struct summary {
	uint64_t allocs, hits, misses, bypass, frees, tree_allocs, tree_fail;
	uint64_t tree_frees, depot_push, depot_pop, flushes, released;
	uint64_t cached, cached_bytes, depot_mags, magazine_bytes, nodes;
	uint64_t depth_max, walk_max, lock_wait_ns, lock_count;
	double hit_ratio, depth_avg, walk_avg;
};

struct domain {
	uint64_t iovad;
	int id;
	bool destroyed;
	struct domain_info info;
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

static struct state {
	struct iovatop_bpf *skel;
	enum iovatop_mode mode;
	bool have_release_hook;
	int ncpus;		/* possible CPUs */
	int ncpus_read;		/* of those, whose caches are read */
	struct domain *domains;
	int ndomains, cap_domains, next_id;
	__u64 lost[LOST_KINDS];
	uint64_t read_errors;	/* map reads that failed in user space */
	uint64_t textfile_errors;
	double interval;	/* the real length of the last interval */
	struct dms_http *http;
	struct dms_buf out, metrics;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	bool stdout_closed;
} st;

/* ---- command line ---- */

static int sort_from_name(const char *s)
{
	int i;

	for (i = 0; sort_names[i]; i++)
		if (!strcmp(s, sort_names[i]))
			return i;
	return -1;
}

static void parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "batch", no_argument, NULL, 'b' },
		{ "classes", no_argument, NULL, 'c' },
		{ "cpus", no_argument, NULL, 'C' },
		{ "domain", required_argument, NULL, 'd' },
		{ "sort", required_argument, NULL, 's' },
		{ "rows", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", required_argument, NULL, 'p' },
		{ "textfile", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "mode", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "hooks", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":bcCd:s:n:jp:t:qm:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': opt.batch = true; break;
		case 'c': opt.view = VIEW_CLASSES; break;
		case 'C': opt.view = VIEW_CPUS; break;
		case 'd': opt.match = optarg; break;
		case 's':
			s = sort_from_name(optarg);
			if (s < 0)
				dms_fail(EXIT_USAGE, "unknown sort key '%s' (allocs, hit, tree, cached, nodes, lock, depot, id)", optarg);
			opt.sort = s;
			break;
		case 'n':
			if (!dms_parse_count(optarg, &opt.rows))
				dms_fail(EXIT_USAGE, "--rows needs a positive number, not '%s'", optarg);
			break;
		case 'j': opt.json = true; break;
		case 'p':
			if (!dms_parse_listen(optarg, opt.listen_host, sizeof(opt.listen_host),
					      &opt.listen_port))
				dms_fail(EXIT_USAGE, "bad --prometheus address '%s' (expected ADDR:PORT or :PORT)", optarg);
			break;
		case 't': opt.textfile = optarg; break;
		case 'q': opt.quiet = true; break;
		case 'm':
			if (strcmp(optarg, "auto") && strcmp(optarg, "counters") &&
			    strcmp(optarg, "tracepoint") && strcmp(optarg, "fentry"))
				dms_fail(EXIT_USAGE, "unknown mode '%s' (auto, counters, tracepoint, fentry)", optarg);
			opt.mode = optarg;
			break;
		case 'v': opt.verbose = true; break;
		case 'H': opt.hooks_only = true; break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case ':':
			dms_fail(EXIT_USAGE, "option '%s' needs an argument (see --help)", argv[optind - 1]);
		default:
			dms_fail(EXIT_USAGE, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc && !dms_parse_interval(argv[optind], &opt.interval))
		dms_fail(EXIT_USAGE, "the interval must be a positive number of seconds, not '%s'", argv[optind]);
	if (optind + 1 < argc && !dms_parse_count(argv[optind + 1], &opt.count))
		dms_fail(EXIT_USAGE, "the count must be a positive integer, not '%s'", argv[optind + 1]);
	if (optind + 2 < argc)
		dms_fail(EXIT_USAGE, "too many arguments: '%s' (see --help)", argv[optind + 2]);
	if (!isatty(STDOUT_FILENO))
		opt.batch = true;
}

/* ---- start-up: which hooks, then load and attach ---- */

/* IOVATOP_DEBUG=1: where start-up time goes */
static void trace_startup(const char *step)
{
	static uint64_t t0;

	if (!getenv("IOVATOP_DEBUG"))
		return;
	if (!t0)
		t0 = dms_now_ns();
	fprintf(stderr, "iovatop: %6.1f ms %s\n", (dms_now_ns() - t0) / 1e6, step);
}


struct hook {
	const char *name;
	const char *serves;
};

static const struct hook tracepoint_hooks[] = {
	{ "tp_btf/iova_rcache_alloc", "allocations, hits (loaded/prev/depot), misses, bypass" },
	{ "tp_btf/iova_rcache_free", "frees and where they went" },
	{ "tp_btf/iova_depot_push, iova_depot_pop", "depot pushes and pops" },
	{ "tp_btf/iova_tree_alloc", "rbtree allocations, failures, walk length, insert depth" },
	{ "tp_btf/iova_tree_free", "rbtree frees" },
	{ "tp_btf/iova_magazine_release", "magazines emptied into the rbtree, their IOVAs and lock time" },
	{ "tp_btf/iova_cache_flush", "cache flushes and their reasons" },
	{ "tp_btf/iova_domain_init, _device, _destroy", "domains, their owners and devices" },
	{}
};

static const struct hook counter_hooks[] = {
	{ "iova.stats counters (read at each interval)", "allocations and where they were served; frees and where they went" },
	{ "tp_btf/iova_depot_push, iova_depot_pop", "depot pushes and pops" },
	{ "tp_btf/iova_tree_alloc", "rbtree allocations (misses, sizes that bypass the caches), walks, depth" },
	{ "tp_btf/iova_tree_free", "rbtree frees" },
	{ "tp_btf/iova_magazine_release", "magazines emptied into the rbtree, their IOVAs and lock time" },
	{ "tp_btf/iova_cache_flush", "cache flushes and their reasons" },
	{ "tp_btf/iova_domain_init, _device, _destroy", "domains, owners, devices; the last counts of a destroyed domain" },
	{}
};

static const struct hook fentry_hooks[] = {
	{ "fentry+fexit/alloc_iova_fast", "allocations; hit or miss (not which magazine), flush-and-retry" },
	{ "fexit/alloc_iova", "rbtree allocations, failures, insert depth" },
	{ "fentry+fexit/free_iova_fast", "frees: cached, or back to the rbtree" },
	{ "fentry/free_iova, __free_iova", "rbtree frees" },
	{ "fentry+fexit/iova_magazine_free_pfns", "magazines emptied into the rbtree (full depot, flushes) and their time" },
	{ "fentry/init_iova_domain, put_iova_domain", "domains created and destroyed" },
	{}
};

static const struct hook common_hooks[] = {
	{ "tp_btf/contention_begin, contention_end", "wait time on the rbtree, depot and CPU cache locks" },
	{ "syscall/snapshot (BPF_PROG_TEST_RUN)", "IOMMU groups' domains; IOVAs in each CPU cache and the depot; rbtree nodes" },
	{}
};

static const char *mode_name(void)
{
	static const char *const names[] = { "counters", "tracepoint", "fentry" };

	return names[st.mode];
}

static void print_hooks(FILE *f)
{
	static const char *const what[] = {
		"counters (iova.stats counters and the rare iova:* events of the dmascope patches)",
		"tracepoint (every iova:* event of the dmascope patches)",
		"fentry (exported IOVA functions; no iova:* events in this kernel)",
	};
	static const struct hook *const hooks[] = { counter_hooks, tracepoint_hooks, fentry_hooks };
	const struct hook *h;

	fprintf(f, "mode: %s\n", what[st.mode]);
	for (h = hooks[st.mode]; h->name; h++) {
		if (!st.have_release_hook && strstr(h->name, "magazine_free_pfns"))
			continue;
		fprintf(f, "  %-45s %s\n", h->name, h->serves);
	}
	for (h = common_hooks; h->name; h++)
		fprintf(f, "  %-45s %s\n", h->name, h->serves);
	fprintf(f, "unavailable:\n");
	if (st.mode == MODE_FENTRY) {
		fprintf(f, "  %-45s %s\n", "hit source (loaded/prev/depot)", "needs iova_rcache_alloc");
		fprintf(f, "  %-45s %s\n", "depot pushes and pops", "__iova_rcache_insert/get are inlined");
		fprintf(f, "  %-45s %s\n", "rbtree walk length", "needs iova_tree_alloc");
		fprintf(f, "  %-45s %s\n", "flush reasons other than alloc retry", "needs iova_cache_flush");
		if (!st.have_release_hook)
			fprintf(f, "  %-45s %s\n", "magazines emptied into the rbtree",
				"iova_magazine_free_pfns is not a function in this kernel");
	} else {
		fprintf(f, "  (none)\n");
	}
	if (st.mode == MODE_COUNTERS)
		fprintf(f, "note: iovatop sets %s to 1 while it runs; the last iovatop to stop sets it back to 0\n",
			STATS_PARAM);
	if (st.ncpus > IOVATOP_MAX_CPUS)
		fprintf(f, "  caches of CPUs %d and above: only %d CPUs are read\n",
			IOVATOP_MAX_CPUS, IOVATOP_MAX_CPUS);
}

static bool btf_has(const struct btf *btf, const char *name, int kind)
{
	return btf && btf__find_by_name_kind(btf, name, kind) > 0;
}

static void choose_mode(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool tp, fentry;

	if (!btf)
		dms_fail(EXIT_RUNTIME, "cannot load the kernel's BTF: %s", strerror(errno));
	tp = btf_has(btf, "btf_trace_iova_rcache_alloc", BTF_KIND_TYPEDEF);
	fentry = btf_has(btf, "alloc_iova_fast", BTF_KIND_FUNC) &&
		 btf_has(btf, "free_iova_fast", BTF_KIND_FUNC);
	st.have_release_hook = btf_has(btf, "iova_magazine_free_pfns", BTF_KIND_FUNC);
	btf__free(btf);

	if (!strcmp(opt.mode, "tracepoint") && !tp)
		dms_fail(EXIT_RUNTIME, "this kernel has no iova:* trace events (apply kernel-patches/), try --mode=fentry");
	if (!strcmp(opt.mode, "fentry") && !fentry)
		dms_fail(EXIT_RUNTIME, "this kernel has no alloc_iova_fast/free_iova_fast in its BTF");
	if (!tp && !fentry)
		dms_fail(EXIT_RUNTIME, "no IOVA allocator in this kernel (no iova:* events, no alloc_iova_fast in BTF): is CONFIG_IOMMU_IOVA set?");
	if (!strcmp(opt.mode, "counters") && (!tp || access(STATS_PARAM, W_OK)))
		dms_fail(EXIT_RUNTIME, "this kernel has no writable %s (apply kernel-patches/)", STATS_PARAM);
	if (tp && strcmp(opt.mode, "fentry"))
		st.mode = strcmp(opt.mode, "tracepoint") && !access(STATS_PARAM, W_OK) ?
			  MODE_COUNTERS : MODE_TRACEPOINT;
	else
		st.mode = MODE_FENTRY;
}

static void select_programs(struct iovatop_bpf *skel)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);
		bool load = true;

		if (!strncmp(name, "tp_rcache_", 10))
			load = st.mode == MODE_TRACEPOINT;
		else if (!strncmp(name, "tp_", 3))
			load = st.mode != MODE_FENTRY;
		else if (!strncmp(name, "fentry_", 7) || !strncmp(name, "fexit_", 6))
			load = st.mode == MODE_FENTRY;
		if (strstr(name, "release") && st.mode == MODE_FENTRY && !st.have_release_hook)
			load = false;
		bpf_program__set_autoload(prog, load);
	}
	/* run on demand, never attached */
	bpf_program__set_autoattach(skel->progs.snapshot, false);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && getenv("IOVATOP_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/*
 * fexit programs first: an fentry without its fexit would leave calls
 * that never end.  The links are closed with the process.
 */
static void attach_programs(struct iovatop_bpf *skel)
{
	struct bpf_program *prog;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		bpf_object__for_each_program(prog, skel->obj) {
			const char *name = bpf_program__name(prog);
			bool exit_prog = !strncmp(name, "fexit_", 6);

			if (!bpf_program__autoload(prog) || !bpf_program__autoattach(prog) ||
			    exit_prog != (pass == 0))
				continue;
			if (st.nlinks == MAX_LINKS)
				dms_fail(EXIT_RUNTIME, "too many BPF programs");
			st.links[st.nlinks] = bpf_program__attach(prog);
			if (!st.links[st.nlinks])
				dms_fail(EXIT_RUNTIME, "cannot attach %s: %s", name, strerror(errno));
			st.nlinks++;
		}
	}
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

static bool write_stats_param(const char *value)
{
	FILE *f = fopen(STATS_PARAM, "w");
	bool ok = f && fputs(value, f) >= 0;

	if (f && fclose(f))
		ok = false;
	return ok;
}

static void restore_counters(void)
{
	char mark[2];

	if (flock(stats_lock, LOCK_EX | LOCK_NB) == 0 &&
	    pread(stats_lock, mark, 2, 0) == 2 && !memcmp(mark, "on", 2)) {
		if (!write_stats_param("0\n"))
			dms_warn("cannot turn %s off: %s", STATS_PARAM, strerror(errno));
		else if (ftruncate(stats_lock, 0))
			dms_warn("cannot clear %s: %s", STATS_LOCK, strerror(errno));
	}
	close(stats_lock);
}

static void enable_counters(void)
{
	char was = '?';
	FILE *f;

	stats_lock = open(STATS_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (stats_lock >= 0 && flock(stats_lock, LOCK_SH)) {
		close(stats_lock);
		stats_lock = -1;
	}
	if (stats_lock < 0)
		dms_warn("cannot lock %s (%s): %s will stay on after iovatop",
			 STATS_LOCK, strerror(errno), STATS_PARAM);
	/* read under the lock: an iovatop that is stopping may turn it off */
	f = fopen(STATS_PARAM, "r");
	if (f) {
		was = fgetc(f);
		fclose(f);
	}
	if (was != '1' && was != 'Y') {
		if (!write_stats_param("1\n"))
			dms_fail(EXIT_RUNTIME, "cannot enable %s: %s", STATS_PARAM, strerror(errno));
		if (stats_lock >= 0 && pwrite(stats_lock, "on\n", 3, 0) != 3)
			dms_warn("cannot write %s: %s", STATS_LOCK, strerror(errno));
	}
	if (stats_lock >= 0)
		atexit(restore_counters);
}

static void setup_bpf(void)
{
	struct iovatop_bpf *skel;
	int err;

	libbpf_set_print(libbpf_quiet);
	skel = iovatop_bpf__open();
	if (!skel)
		dms_fail(EXIT_RUNTIME, "cannot open the BPF object: %s", strerror(errno));
	st.ncpus = dms_possible_cpus();
	st.ncpus_read = st.ncpus < IOVATOP_MAX_CPUS ? st.ncpus : IOVATOP_MAX_CPUS;
	skel->rodata->nr_cpus = st.ncpus;
	trace_startup("open");
	{
		static const char *const names[] = { "__per_cpu_offset", "iommu_group_kset",
						     "cpuhp_hp_states", NULL };
		uint64_t addr[3];

		dms_kallsyms_addrs(names, addr);
		skel->rodata->dms_per_cpu_offset_addr = addr[0];
		skel->rodata->group_kset_addr = addr[1];
		skel->rodata->cpuhp_states_addr = addr[2];
	}
	if (!skel->rodata->dms_per_cpu_offset_addr)
		dms_fail(EXIT_RUNTIME, "cannot find __per_cpu_offset in /proc/kallsyms (kptr_restrict?)");
	select_programs(skel);
	trace_startup("kallsyms");
	err = iovatop_bpf__load(skel);
	trace_startup("load");
	if (err)
		dms_fail(EXIT_RUNTIME, "cannot load the BPF programs: %s (IOVATOP_DEBUG=1 shows the verifier log)",
			 strerror(-err));
	attach_programs(skel);
	st.skel = skel;
	if (st.mode == MODE_COUNTERS)
		enable_counters();
}

/* ---- reading the BPF maps ---- */

static struct domain *find_domain(uint64_t iovad, bool create)
{
	int i;

	for (i = 0; i < st.ndomains; i++)
		if (st.domains[i].iovad == iovad)
			return &st.domains[i];
	if (!create)
		return NULL;
	if (st.ndomains == st.cap_domains) {
		int cap = st.cap_domains ? st.cap_domains * 2 : 16;
		struct domain *grown = realloc(st.domains, cap * sizeof(*grown));

		if (!grown)
			dms_fail(EXIT_RUNTIME, "out of memory");
		st.domains = grown;
		st.cap_domains = cap;
	}
	struct domain *d = &st.domains[st.ndomains++];

	memset(d, 0, sizeof(*d));
	d->iovad = iovad;
	d->id = ++st.next_id;
	return d;
}

static void add_counters(struct iova_counters *sum, const struct iova_counters *c)
{
	const __u64 *src = (const __u64 *)c;
	__u64 *dst = (__u64 *)sum;
	size_t i;

	for (i = 0; i < sizeof(*c) / sizeof(__u64); i++) {
		/* the maxima are maxima, not sums */
		if (&dst[i] == &sum->walk_max || &dst[i] == &sum->depth_max)
			dst[i] = dst[i] > src[i] ? dst[i] : src[i];
		else
			dst[i] += src[i];
	}
}

static void sub_counters(struct iova_counters *out, const struct iova_counters *now,
			 const struct iova_counters *before)
{
	const __u64 *a = (const __u64 *)now, *b = (const __u64 *)before;
	__u64 *o = (__u64 *)out;
	size_t i;

	for (i = 0; i < sizeof(*now) / sizeof(__u64); i++)
		o[i] = a[i] - b[i];
	/* a cumulative maximum says nothing about this interval if unchanged */
	out->walk_max = now->walk_max > before->walk_max ? now->walk_max : 0;
	out->depth_max = now->depth_max > before->depth_max ? now->depth_max : 0;
}

static void read_domains(void)
{
	int fd = bpf_map__fd(st.skel->maps.domains);
	uint64_t key, next, *prev = NULL;
	struct domain_info info;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &info)) {
			st.read_errors++;
			continue;
		}
		struct domain *d = find_domain(key, true);

		d->info = info;
		d->destroyed = info.destroyed_ns != 0;
	}
}

/*
 * Call fn with each key of a per-CPU hash map and the values of all
 * possible CPUs.  Keys are at most 16 bytes here.
 */
static void for_each_percpu(int fd, size_t value_size,
			    void (*fn)(const void *key, const void *values))
{
	char key[16], next[16];
	void *values = calloc(st.ncpus, value_size);
	bool first = true;

	if (!values)
		dms_fail(EXIT_RUNTIME, "out of memory");
	while (!bpf_map_get_next_key(fd, first ? NULL : key, next)) {
		memcpy(key, next, sizeof(key));
		first = false;
		if (bpf_map_lookup_elem(fd, key, values)) {
			st.read_errors++;
			continue;
		}
		fn(key, values);
	}
	free(values);
}

_Static_assert(sizeof(struct stats_key) <= 16 && sizeof(struct lock_key) <= 16,
	       "for_each_percpu() keys are at most 16 bytes");

static void add_stats(const void *k, const void *values)
{
	const struct stats_key *key = k;
	const struct iova_counters *percpu = values;
	struct domain *d = find_domain(key->iovad, true);
	int cpu;

	if (key->order >= NR_BUCKETS)
		return;
	for (cpu = 0; cpu < st.ncpus; cpu++)
		add_counters(&d->total[key->order], &percpu[cpu]);
}

static void add_lock_stats(const void *k, const void *values)
{
	const struct lock_key *key = k;
	const struct lock_stats *percpu = values;
	struct domain *d = find_domain(key->iovad, false);
	struct lock_stats *t;
	int cpu;

	if (!d || key->kind >= LOCK_KINDS)
		return;
	t = &d->lock_total[key->kind];
	for (cpu = 0; cpu < st.ncpus; cpu++) {
		t->wait_ns += percpu[cpu].wait_ns;
		t->count += percpu[cpu].count;
		if (percpu[cpu].max_ns > t->max_ns)
			t->max_ns = percpu[cpu].max_ns;
	}
}

/* The BPF counters are cumulative: sum them afresh at each interval. */
static void read_stats(void)
{
	int i;

	for (i = 0; i < st.ndomains; i++) {
		memset(st.domains[i].total, 0, sizeof(st.domains[i].total));
		memset(st.domains[i].lock_total, 0, sizeof(st.domains[i].lock_total));
	}
	for_each_percpu(bpf_map__fd(st.skel->maps.stats), sizeof(struct iova_counters),
			add_stats);
	for_each_percpu(bpf_map__fd(st.skel->maps.lock_stats), sizeof(struct lock_stats),
			add_lock_stats);
}

static void read_caches(void)
{
	int fd = bpf_map__fd(st.skel->maps.caches);
	int i;

	for (i = 0; i < st.ndomains; i++) {
		struct domain *d = &st.domains[i];

		d->cache_valid = !bpf_map_lookup_elem(fd, &d->iovad, &d->cache) &&
				 d->cache.valid;
	}
}

static void read_lost(void)
{
	int fd = bpf_map__fd(st.skel->maps.dms_lost);
	uint64_t *percpu = calloc(st.ncpus, sizeof(uint64_t));
	uint32_t k;

	if (!percpu)
		dms_fail(EXIT_RUNTIME, "out of memory");
	for (k = 0; k < LOST_KINDS; k++) {
		st.lost[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, percpu)) {
			st.read_errors++;
			continue;
		}
		for (int cpu = 0; cpu < st.ncpus; cpu++)
			st.lost[k] += percpu[cpu];
	}
	free(percpu);
}

static void run_snapshot(void)
{
	LIBBPF_OPTS(bpf_test_run_opts, topts);

	if (bpf_prog_test_run_opts(bpf_program__fd(st.skel->progs.snapshot), &topts))
		st.read_errors++;
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

static void name_domain(struct domain *d)
{
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

/* IOVAs one CPU caches, over all size classes */
static uint64_t cpu_cached(const struct domain *d, int cpu)
{
	uint64_t n = 0;
	int o;

	for (o = 0; o < IOVATOP_CACHED_ORDERS; o++)
		n += d->cache.loaded[o][cpu] + d->cache.prev[o][cpu];
	return n;
}

static uint64_t class_cached(const struct domain *d, int order)
{
	uint64_t n = d->cache.depot[order] * IOVATOP_MAG_SIZE;
	int cpu;

	for (cpu = 0; cpu < st.ncpus_read; cpu++)
		n += d->cache.loaded[order][cpu] + d->cache.prev[order][cpu];
	return n;
}

static void summarize(struct domain *d)
{
	struct summary *s = &d->s;
	struct iova_counters all = {};
	int o, k;

	memset(s, 0, sizeof(*s));
	for (o = 0; o < NR_BUCKETS; o++)
		add_counters(&all, &d->delta[o]);
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
	s->released = sum_array(all.released, RECLAIM_REASONS);
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
	s->magazine_bytes = (2ULL * IOVATOP_CACHED_ORDERS * st.ncpus + s->depot_mags) *
			    IOVATOP_MAG_BYTES;
}

/* Its lock addresses may be reused by other memory once it is freed */
static void forget_locks(uint64_t iovad)
{
	int fd = bpf_map__fd(st.skel->maps.lock_owners);
	uint64_t key, next, *doomed = NULL;
	struct lock_owner owner;
	size_t n = 0, cap = 0;
	bool first = true;

	/* collect first: deleting while walking would restart the walk */
	while (!bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		key = next;
		first = false;
		if (bpf_map_lookup_elem(fd, &key, &owner) || owner.iovad != iovad)
			continue;
		if (n == cap) {
			uint64_t *grown = realloc(doomed, (cap = cap ? 2 * cap : 64) * sizeof(*grown));

			if (!grown)
				dms_fail(EXIT_RUNTIME, "out of memory");
			doomed = grown;
		}
		doomed[n++] = key;
	}
	while (n)
		bpf_map_delete_elem(fd, &doomed[--n]);
	free(doomed);
}

static void forget_domain(struct domain *d)
{
	struct stats_key sk = { .iovad = d->iovad };
	struct lock_key lk = { .iovad = d->iovad };
	int i;

	bpf_map_delete_elem(bpf_map__fd(st.skel->maps.domains), &d->iovad);
	bpf_map_delete_elem(bpf_map__fd(st.skel->maps.caches), &d->iovad);
	for (sk.order = 0; sk.order < NR_BUCKETS; sk.order++)
		bpf_map_delete_elem(bpf_map__fd(st.skel->maps.stats), &sk);
	for (lk.kind = 0; lk.kind < LOCK_KINDS; lk.kind++)
		bpf_map_delete_elem(bpf_map__fd(st.skel->maps.lock_stats), &lk);
	forget_locks(d->iovad);
	i = d - st.domains;
	memmove(d, d + 1, (st.ndomains - i - 1) * sizeof(*d));
	st.ndomains--;
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

static void collect(void)
{
	int i, o, k;

	run_snapshot();
	read_domains();
	read_stats();
	read_caches();
	read_lost();
	for (i = 0; i < st.ndomains; i++) {
		struct domain *d = &st.domains[i];

		if (st.mode == MODE_COUNTERS)
			apply_counters(d);

		for (o = 0; o < NR_BUCKETS; o++) {
			sub_counters(&d->delta[o], &d->total[o], &d->prev[o]);
			d->prev[o] = d->total[o];
		}
		for (k = 0; k < LOCK_KINDS; k++) {
			d->lock_delta[k].wait_ns = d->lock_total[k].wait_ns - d->lock_prev[k].wait_ns;
			d->lock_delta[k].count = d->lock_total[k].count - d->lock_prev[k].count;
			d->lock_delta[k].max_ns = d->lock_total[k].max_ns;
			d->lock_prev[k] = d->lock_total[k];
		}
		name_domain(d);
		summarize(d);
	}
}

/* Destroyed domains are reported once more, then forgotten. */
static void forget_destroyed(void)
{
	int i;

	for (i = st.ndomains - 1; i >= 0; i--)
		if (st.domains[i].destroyed)
			forget_domain(&st.domains[i]);
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
static int selected(struct domain ***out)
{
	struct domain **list = calloc(st.ndomains + 1, sizeof(*list));
	int i, n = 0;

	if (!list)
		dms_fail(EXIT_RUNTIME, "out of memory");
	for (i = 0; i < st.ndomains; i++)
		if (matches(&st.domains[i]))
			list[n++] = &st.domains[i];
	qsort(list, n, sizeof(*list), compare_domains);
	*out = list;
	return n;
}

/* ---- table ---- */

static double per_second(uint64_t n)
{
	return st.interval > 0 ? n / st.interval : 0;
}

static long screen_rows(void)
{
	struct winsize ws;

	if (opt.rows)
		return opt.rows;
	if (!opt.batch && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row > 6)
		return ws.ws_row - 6;
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
		dms_buf_printf(b, "%4d %-22.22s %-18.18s %9.0f %6s %8.0f %8.0f %8llu %9llu %5llu %7llu %5llu %6.1f %9.1f %5llu %5llu\n",
			       d->id, d->device, d->driver, per_second(s->allocs), hit,
			       per_second(s->tree_allocs), per_second(s->tree_frees),
			       (unsigned long long)s->cached,
			       (unsigned long long)(s->cached_bytes / 1024),
			       (unsigned long long)s->depot_mags, (unsigned long long)s->nodes,
			       (unsigned long long)s->depth_max, s->walk_avg,
			       per_second(s->lock_wait_ns) / 1000.0,
			       (unsigned long long)s->flushes, (unsigned long long)s->tree_fail);
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
				       d->id, d->device, o, pages, per_second(allocs),
				       (unsigned long long)(c->alloc[ALLOC_LOADED] + c->alloc[ALLOC_HIT]),
				       (unsigned long long)c->alloc[ALLOC_PREV],
				       (unsigned long long)c->alloc[ALLOC_DEPOT],
				       (unsigned long long)c->alloc[ALLOC_MISS],
				       (unsigned long long)c->alloc[ALLOC_BYPASS],
				       per_second(frees),
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
				       (unsigned long long)prev, (unsigned long long)(bytes / 1024),
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

static void footer(struct dms_buf *b)
{
	dms_buf_printf(b, "lost: %llu domains-full, %llu stats-full, %llu locks-full, %llu reads, %llu nested, %llu tree-walks; user: %llu map reads, %llu http, %llu textfile\n",
		       (unsigned long long)st.lost[LOST_DOMAINS_FULL],
		       (unsigned long long)st.lost[LOST_STATS_FULL],
		       (unsigned long long)st.lost[LOST_LOCKS_FULL],
		       (unsigned long long)st.lost[LOST_READS],
		       (unsigned long long)st.lost[LOST_NESTED],
		       (unsigned long long)st.lost[LOST_TREE_WALK],
		       (unsigned long long)st.read_errors,
		       (unsigned long long)dms_http_errors(st.http),
		       (unsigned long long)st.textfile_errors);
}

/* Write the rendered text; a closed stdout (iovatop | head) ends the tool. */
static void emit(void)
{
	if (fwrite(st.out.data, 1, st.out.len, stdout) != st.out.len || fflush(stdout))
		st.stdout_closed = true;
}

static void render_table(void)
{
	struct domain **list;
	int n = selected(&list);
	long rows = screen_rows();
	char when[32];
	time_t now = time(NULL);

	dms_buf_reset(&st.out);
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	if (!opt.batch)
		dms_buf_printf(&st.out, "\033[H\033[2J");
	dms_buf_printf(&st.out, "iovatop %s  mode %s  %d domains  interval %.2fs\n", when,
		       mode_name(), st.ndomains,
		       st.interval);
	if (opt.view == VIEW_CLASSES)
		table_classes(&st.out, list, n, rows);
	else if (opt.view == VIEW_CPUS)
		table_cpus(&st.out, list, n, rows);
	else
		table_domains(&st.out, list, n, rows);
	footer(&st.out);
	if (opt.batch)
		dms_buf_printf(&st.out, "\n");
	emit();
	free(list);
}

/* ---- JSON ---- */

static const char *const alloc_names[ALLOC_RESULTS] = {
	"loaded", "prev", "depot", "miss", "bypass", "hit" };
static const char *const free_names[FREE_RESULTS] = {
	"loaded", "prev", "new_mag", "depot_full", "no_mag", "bypass", "cached", "tree" };
static const char *const reason_names[RECLAIM_REASONS] = {
	"depot_full", "depot_trim", "alloc_retry", "cpu_dead", "idle", "teardown", "unknown" };
static const char *const lock_names[LOCK_KINDS] = { "rbtree", "depot", "cpu" };
static const char *const lost_names[LOST_KINDS] = {
	"domains_full", "stats_full", "locks_full", "reads", "nested", "cpus", "tree_walk" };

static void json_results(struct dms_json *j, const char *key, const __u64 *v,
			 const char *const *names, int n)
{
	int i;

	dms_json_object(j, key);
	for (i = 0; i < n; i++)
		dms_json_u64(j, names[i], v[i]);
	dms_json_end_object(j);
}

static void json_class(struct dms_json *j, const struct domain *d, int o)
{
	const struct iova_counters *c = &d->delta[o];

	dms_json_object(j, NULL);
	dms_json_u64(j, "order", o);
	json_results(j, "allocs", c->alloc, alloc_names, ALLOC_RESULTS);
	json_results(j, "frees", c->free, free_names, FREE_RESULTS);
	dms_json_u64(j, "depot_pushes", c->depot_push);
	dms_json_u64(j, "depot_pops", c->depot_pop);
	dms_json_u64(j, "tree_allocs", c->tree_alloc);
	dms_json_u64(j, "tree_frees", c->tree_free);
	if (o < IOVATOP_CACHED_ORDERS && d->cache_valid) {
		dms_json_u64(j, "cached_iovas", class_cached(d, o));
		dms_json_u64(j, "depot_magazines", d->cache.depot[o]);
	}
	dms_json_end_object(j);
}

static void json_domain(struct dms_json *j, const struct domain *d)
{
	const struct summary *s = &d->s;
	struct iova_counters all = {};
	int o, cpu, k;

	for (o = 0; o < NR_BUCKETS; o++)
		add_counters(&all, &d->delta[o]);
	dms_json_object(j, NULL);
	dms_json_u64(j, "id", d->id);
	dms_json_str(j, "name", d->name);
	dms_json_str(j, "device", d->device);
	dms_json_str(j, "driver", d->driver);
	dms_json_str(j, "kind", d->kind);
	dms_json_i64(j, "group", d->info.group);
	dms_json_bool(j, "destroyed", d->destroyed);
	dms_json_u64(j, "granule", d->cache.granule);
	dms_json_u64(j, "allocs", s->allocs);
	dms_json_u64(j, "hits", s->hits);
	dms_json_u64(j, "misses", s->misses);
	dms_json_u64(j, "bypass", s->bypass);
	dms_json_double(j, "hit_ratio", s->hit_ratio);
	dms_json_u64(j, "frees", s->frees);
	json_results(j, "alloc_results", all.alloc, alloc_names, ALLOC_RESULTS);
	json_results(j, "free_results", all.free, free_names, FREE_RESULTS);
	dms_json_u64(j, "depot_pushes", s->depot_push);
	dms_json_u64(j, "depot_pops", s->depot_pop);
	dms_json_object(j, "tree");
	dms_json_u64(j, "allocs", s->tree_allocs);
	dms_json_u64(j, "alloc_failures", s->tree_fail);
	dms_json_u64(j, "retries", all.tree_retry);
	dms_json_u64(j, "frees", s->tree_frees);
	dms_json_u64(j, "nodes", s->nodes);
	dms_json_double(j, "walk_avg", s->walk_avg);
	dms_json_u64(j, "walk_max", s->walk_max);
	dms_json_double(j, "depth_avg", s->depth_avg);
	dms_json_u64(j, "depth_max", s->depth_max);
	dms_json_end_object(j);
	json_results(j, "magazines_released", all.release, reason_names, RECLAIM_REASONS);
	json_results(j, "iovas_released", all.released, reason_names, RECLAIM_REASONS);
	dms_json_u64(j, "release_lock_ns", all.release_ns);
	json_results(j, "flushes", all.flush, reason_names, RECLAIM_REASONS);
	json_results(j, "iovas_flushed", all.flushed, reason_names, RECLAIM_REASONS);
	dms_json_bool(j, "cache_valid", d->cache_valid);
	dms_json_u64(j, "cached_iovas", s->cached);
	dms_json_u64(j, "cached_bytes", s->cached_bytes);
	dms_json_u64(j, "depot_magazines", s->depot_mags);
	dms_json_u64(j, "magazine_bytes", s->magazine_bytes);
	dms_json_object(j, "lock_wait_ns");
	for (k = 0; k < LOCK_KINDS; k++)
		dms_json_u64(j, lock_names[k], d->lock_delta[k].wait_ns);
	dms_json_end_object(j);
	dms_json_object(j, "lock_contentions");
	for (k = 0; k < LOCK_KINDS; k++)
		dms_json_u64(j, lock_names[k], d->lock_delta[k].count);
	dms_json_end_object(j);
	dms_json_array(j, "classes");
	for (o = 0; o < IOVATOP_ORDERS; o++)
		json_class(j, d, o);
	dms_json_end_array(j);
	dms_json_array(j, "cpus");
	for (cpu = 0; d->cache_valid && cpu < st.ncpus_read; cpu++) {
		uint64_t loaded = 0, prev = 0;

		for (o = 0; o < IOVATOP_CACHED_ORDERS; o++) {
			loaded += d->cache.loaded[o][cpu];
			prev += d->cache.prev[o][cpu];
		}
		dms_json_object(j, NULL);
		dms_json_u64(j, "cpu", cpu);
		dms_json_u64(j, "loaded", loaded);
		dms_json_u64(j, "prev", prev);
		dms_json_u64(j, "cached_iovas", loaded + prev);
		dms_json_end_object(j);
	}
	dms_json_end_array(j);
	dms_json_end_object(j);
}

static void render_json(void)
{
	struct domain **list;
	int n = selected(&list), i, k;
	struct dms_json j;

	dms_buf_reset(&st.out);
	dms_json_begin(&j, &st.out);
	dms_json_object(&j, NULL);
	dms_json_double(&j, "time", dms_wall_time());
	dms_json_double(&j, "interval_s", st.interval);
	dms_json_str(&j, "mode", mode_name());
	dms_json_array(&j, "domains");
	for (i = 0; i < n; i++)
		json_domain(&j, list[i]);
	dms_json_end_array(&j);
	dms_json_object(&j, "lost");
	for (k = 0; k < LOST_KINDS; k++)
		dms_json_u64(&j, lost_names[k], st.lost[k]);
	dms_json_u64(&j, "user_map_reads", st.read_errors);
	dms_json_u64(&j, "http_errors", dms_http_errors(st.http));
	dms_json_u64(&j, "textfile_errors", st.textfile_errors);
	dms_json_end_object(&j);
	dms_json_end_object(&j);
	dms_buf_printf(&st.out, "\n");
	emit();
	free(list);
}

/* ---- Prometheus (cumulative counters since the tool started) ---- */

#define PROM(name) "dmascope_iova_" name

static void prom_counter_by(struct dms_buf *b, const char *name, const char *label,
			    const char *const *names, int n, const struct domain *d,
			    const char *order, const __u64 *v)
{
	int i;

	for (i = 0; i < n; i++) {
		const char *labels[] = { "domain", d->name, "device", d->device, "order", order,
					 label, names[i], NULL };

		if (!order)	/* no order label */
			labels[4] = label, labels[5] = names[i], labels[6] = NULL;
		dms_prom_sample(b, name, labels, v[i]);
	}
}

static void prom_domain(struct dms_buf *b, const char *name, const struct domain *d,
			double v)
{
	const char *labels[] = { "domain", d->name, "device", d->device, "driver", d->driver,
				 "kind", d->kind, NULL };

	dms_prom_sample(b, name, labels, v);
}

static void render_metrics(void)
{
	struct dms_buf *b = &st.metrics;
	struct domain **list;
	int n = selected(&list), i, o, cpu, k;
	char order[8], cpu_s[8];

	dms_buf_reset(b);
	dms_prom_header(b, PROM("info"), "gauge", "1, with the way iovatop observes the allocator");
	{
		const char *labels[] = { "mode", mode_name(), NULL };

		dms_prom_sample(b, PROM("info"), labels, 1);
	}
	dms_prom_header(b, PROM("allocs_total"), "counter", "IOVA allocations by size class and where they were served from");
	for (i = 0; i < n; i++)
		for (o = 0; o < IOVATOP_ORDERS; o++) {
			snprintf(order, sizeof(order), "%d", o);
			prom_counter_by(b, PROM("allocs_total"), "result", alloc_names,
					ALLOC_RESULTS, list[i], order, list[i]->total[o].alloc);
		}
	dms_prom_header(b, PROM("frees_total"), "counter", "IOVA frees by size class and where they went");
	for (i = 0; i < n; i++)
		for (o = 0; o < IOVATOP_ORDERS; o++) {
			snprintf(order, sizeof(order), "%d", o);
			prom_counter_by(b, PROM("frees_total"), "result", free_names,
					FREE_RESULTS, list[i], order, list[i]->total[o].free);
		}
	dms_prom_header(b, PROM("depot_operations_total"), "counter", "Full magazines pushed to and popped from the depot");
	for (i = 0; i < n; i++)
		for (o = 0; o < IOVATOP_CACHED_ORDERS; o++) {
			static const char *const ops[] = { "push", "pop" };
			__u64 v[] = { list[i]->total[o].depot_push, list[i]->total[o].depot_pop };

			snprintf(order, sizeof(order), "%d", o);
			prom_counter_by(b, PROM("depot_operations_total"), "op", ops, 2, list[i],
					order, v);
		}
	dms_prom_header(b, PROM("tree_allocs_total"), "counter", "rbtree allocations");
	dms_prom_header(b, PROM("tree_alloc_failures_total"), "counter", "rbtree allocations that found no room");
	dms_prom_header(b, PROM("tree_frees_total"), "counter", "IOVAs removed from the rbtree");
	dms_prom_header(b, PROM("tree_walk_nodes_total"), "counter", "rbtree nodes visited by allocations (tracepoint mode)");
	dms_prom_header(b, PROM("magazine_release_seconds_total"), "counter", "Time spent emptying magazines into the rbtree");
	for (i = 0; i < n; i++) {
		struct iova_counters all = {};

		for (o = 0; o < NR_BUCKETS; o++)
			add_counters(&all, &list[i]->total[o]);
		prom_domain(b, PROM("tree_allocs_total"), list[i], all.tree_alloc);
		prom_domain(b, PROM("tree_alloc_failures_total"), list[i], all.tree_alloc_fail);
		prom_domain(b, PROM("tree_frees_total"), list[i], all.tree_free);
		prom_domain(b, PROM("tree_walk_nodes_total"), list[i], all.walk_sum);
		prom_domain(b, PROM("magazine_release_seconds_total"), list[i], all.release_ns / 1e9);
	}
	dms_prom_header(b, PROM("released_iovas_total"), "counter", "IOVAs returned from caches to the rbtree, by reason");
	dms_prom_header(b, PROM("flushes_total"), "counter", "Cache flushes that returned IOVAs, by reason");
	for (i = 0; i < n; i++) {
		struct iova_counters all = {};

		for (o = 0; o < NR_BUCKETS; o++)
			add_counters(&all, &list[i]->total[o]);
		prom_counter_by(b, PROM("released_iovas_total"), "reason", reason_names,
				RECLAIM_REASONS, list[i], NULL, all.released);
		prom_counter_by(b, PROM("flushes_total"), "reason", reason_names,
				RECLAIM_REASONS, list[i], NULL, all.flush);
	}
	dms_prom_header(b, PROM("lock_wait_seconds_total"), "counter", "Time CPUs waited for the domain's locks");
	dms_prom_header(b, PROM("lock_contentions_total"), "counter", "Contended acquisitions of the domain's locks");
	for (i = 0; i < n; i++) {
		uint64_t wait[LOCK_KINDS], count[LOCK_KINDS];
		double secs[LOCK_KINDS];

		for (k = 0; k < LOCK_KINDS; k++) {
			wait[k] = list[i]->lock_total[k].wait_ns;
			count[k] = list[i]->lock_total[k].count;
			secs[k] = wait[k] / 1e9;
		}
		for (k = 0; k < LOCK_KINDS; k++) {
			const char *labels[] = { "domain", list[i]->name, "device", list[i]->device,
						 "lock", lock_names[k], NULL };

			dms_prom_sample(b, PROM("lock_wait_seconds_total"), labels, secs[k]);
			dms_prom_sample(b, PROM("lock_contentions_total"), labels, count[k]);
		}
	}
	dms_prom_header(b, PROM("tree_nodes"), "gauge", "IOVAs in the rbtree");
	dms_prom_header(b, PROM("cached_bytes"), "gauge", "IOVA space held by the caches");
	dms_prom_header(b, PROM("magazine_bytes"), "gauge", "Memory of the domain's magazines");
	for (i = 0; i < n; i++) {
		if (!list[i]->cache_valid)
			continue;
		prom_domain(b, PROM("tree_nodes"), list[i], list[i]->s.nodes);
		prom_domain(b, PROM("cached_bytes"), list[i], list[i]->s.cached_bytes);
		prom_domain(b, PROM("magazine_bytes"), list[i], list[i]->s.magazine_bytes);
	}
	dms_prom_header(b, PROM("cached_iovas"), "gauge", "IOVAs held by the CPU caches and the depot, by size class");
	dms_prom_header(b, PROM("depot_magazines"), "gauge", "Full magazines in the depot, by size class");
	for (i = 0; i < n; i++) {
		const struct domain *d = list[i];

		for (o = 0; d->cache_valid && o < IOVATOP_CACHED_ORDERS; o++) {
			uint64_t depot = d->cache.depot[o] * IOVATOP_MAG_SIZE;
			const char *lc[] = { "domain", d->name, "device", d->device, "order", order,
					     "where", "cpus", NULL };

			snprintf(order, sizeof(order), "%d", o);
			dms_prom_sample(b, PROM("cached_iovas"), lc, class_cached(d, o) - depot);
			lc[7] = "depot";
			dms_prom_sample(b, PROM("cached_iovas"), lc, depot);
			lc[6] = NULL;
			dms_prom_sample(b, PROM("depot_magazines"), lc, d->cache.depot[o]);
		}
	}
	dms_prom_header(b, PROM("cpu_cached_iovas"), "gauge", "IOVAs held by one CPU's cache, all size classes");
	for (i = 0; i < n; i++)
		for (cpu = 0; list[i]->cache_valid && cpu < st.ncpus_read; cpu++) {
			const char *labels[] = { "domain", list[i]->name, "device", list[i]->device,
						 "cpu", cpu_s, NULL };

			snprintf(cpu_s, sizeof(cpu_s), "%d", cpu);
			dms_prom_sample(b, PROM("cpu_cached_iovas"), labels, cpu_cached(list[i], cpu));
		}
	dms_prom_header(b, PROM("lost_total"), "counter", "Events or reads iovatop could not record, by kind");
	for (k = 0; k < LOST_KINDS; k++) {
		const char *labels[] = { "kind", lost_names[k], NULL };

		dms_prom_sample(b, PROM("lost_total"), labels, st.lost[k]);
	}
	{
		const char *l1[] = { "kind", "user_map_reads", NULL };
		const char *l2[] = { "kind", "http", NULL };
		const char *l3[] = { "kind", "textfile", NULL };

		dms_prom_sample(b, PROM("lost_total"), l1, st.read_errors);
		dms_prom_sample(b, PROM("lost_total"), l2, dms_http_errors(st.http));
		dms_prom_sample(b, PROM("lost_total"), l3, st.textfile_errors);
	}
	free(list);
	if (st.http)
		dms_http_set_body(st.http, b->data, b->len);
	if (opt.textfile && !dms_textfile_write(opt.textfile, b->data, b->len))
		st.textfile_errors++;
}

/* ---- main ---- */

static void setup_outputs(void)
{
	char err[512];

	if (opt.textfile && !dms_textfile_check(opt.textfile, err, sizeof(err)))
		dms_fail(EXIT_USAGE, "%s", err);
	if (opt.listen_port) {
		st.http = dms_http_listen(opt.listen_host, opt.listen_port, err, sizeof(err));
		if (!st.http)
			dms_fail(EXIT_USAGE, "%s", err);
	}
}

static void render(void)
{
	if (opt.listen_port || opt.textfile)
		render_metrics();
	if (opt.json)
		render_json();
	else if (!opt.quiet)
		render_table();
}

int main(int argc, char **argv)
{
	uint64_t start, last, deadline;
	const char *problem;
	long done = 0;

	dms_prog = "iovatop";
	trace_startup("start");
	parse_options(argc, argv);
	problem = dms_privilege_problem();
	if (problem)
		dms_fail(EXIT_RUNTIME, "%s", problem);
	problem = dms_btf_problem();
	if (problem)
		dms_fail(EXIT_RUNTIME, "%s", problem);
	trace_startup("options");
	choose_mode();
	trace_startup("mode");
	if (opt.hooks_only) {
		st.ncpus = dms_possible_cpus();
		print_hooks(stdout);
		return 0;
	}
	setup_outputs();
	dms_catch_signals();
	setup_bpf();
	trace_startup("bpf");
	if (opt.verbose)
		print_hooks(stderr);

	/* the first read only establishes the baseline for the deltas */
	collect();
	trace_startup("first read");
	forget_destroyed();
	start = last = dms_now_ns();
	deadline = start;
	for (;;) {
		deadline += (uint64_t)(opt.interval * 1e9);
		bool go_on = dms_wait_until(deadline, st.http);
		uint64_t now = dms_now_ns();

		st.interval = (now - last) / 1e9;
		last = now;
		collect();
		render();
		forget_destroyed();
		if (!go_on || st.stdout_closed || (opt.count && ++done >= opt.count))
			break;
	}
	dms_http_close(st.http);
	while (st.nlinks)
		bpf_link__destroy(st.links[--st.nlinks]);
	iovatop_bpf__destroy(st.skel);
	return 0;
}
