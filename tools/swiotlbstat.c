// SPDX-License-Identifier: GPL-2.0
/*
 * swiotlbstat: the software IO TLB (bounce buffers) live, in the style
 * of vmstat: one line per interval, or a row per pool or per device.
 *
 * The BPF side (bpf/swiotlbstat.bpf.c) counts events and reads the pools;
 * this side turns that into one snapshot per interval and renders it.
 * Options, modes and hooks, the loop and the outputs are the frame's
 * (tools/lib/loop.h).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "loop.h"
#include "swiotlbstat.h"
#include "swiotlbstat.skel.h"

#define PROM(name)	"dmascope_swiotlb_" name
#define MIB		(1024.0 * 1024.0)
#define MB		1e6
#define HEADER_EVERY	20	/* lines between repeated headers */
#define NO_AGE		(~0ULL)
/* A device attribute whose dev_attr_show() call reveals io_tlb_default_mem */
#define PROBE_ATTR	"/sys/devices/virtual/mem/null/dev"
#define PROBE_BLOCK	4096	/* a direct read, so that a bio is queued */
#define SEGMENT_SLOTS	128	/* IO_TLB_SEGSIZE: swiotlb= is rounded to it */
#define MIN_SLOTS	512	/* IO_TLB_MIN_SLABS: 1 MiB */
#define PAGE_BYTES	4096	/* x86-64: mappings from a page on are page aligned */
#define TRUST_SECONDS	60	/* advice from less is said to be untrusted */
#define TRUST_MAPS	1000
#define DYN_PARAMS	"/sys/module/swiotlb/parameters/"	/* the dmascope patches */

_Static_assert(LOST_KINDS <= DMS_LOST_MAX, "swiotlbstat's lost kinds fit dms_lost");

static const char usage_text[] =
"Usage: swiotlbstat [OPTION]... [INTERVAL [COUNT]]\n"
"Show the software IO TLB (SWIOTLB bounce buffers) live, one line per\n"
"interval as vmstat does: pools, total and used size, high-water mark,\n"
"maps and unmaps, bounced bytes, map failures (\"swiotlb buffer is\n"
"full\"), pools added and removed, map latency.  Needs root.\n"
"\n"
"Views (one at a time):\n"
"  (default)            one line per interval, the header repeated\n"
"  -P, --pools          one row per pool at each interval\n"
"  -D, --devices        one row per device that mapped at each interval\n"
"  -L, --latency        also time each map (P50/P99) and count the bytes\n"
"                       mapped in each direction.  In tracepoint mode this\n"
"                       adds fentry and fexit on the map function, which\n"
"                       cost each map several times what the trace events\n"
"                       do; -D needs it too.  The other modes always have it.\n"
"Sizing:\n"
"  -a, --advise         at exit, recommend a swiotlb= size (and, on kernels\n"
"                       with dmascope's dynamic pools, the initial size, cap\n"
"                       and idle time), each with the evidence behind it\n"
"      --advise-after=SECONDS\n"
"                       the same, after SECONDS of observation, then exit\n"
"Modes (-m): tracepoint (the swiotlb:* events of the dmascope patches),\n"
"fentry (swiotlb_tbl_map_single and the unmap function; any kernel with\n"
"BTF), bounced (upstream's swiotlb_bounced event only, for kernels that\n"
"refuse fentry).  All read the pools from io_tlb_default_mem.  A kernel\n"
"that set up no SWIOTLB at boot (behind an IOMMU, or with memory that every\n"
"device can address) has no pool: swiotlbstat says so and shows zeroes.\n"
"See swiotlbstat(8) for the columns, the JSON schema and the metric names.\n"
"\n";

static const char *const kind_names[KINDS] = { "default", "dynamic", "transient" };
static const char *const dir_names[DIRS] = { "bidirectional", "to_device", "from_device" };
static const char *const lost_names[LOST_KINDS] = {
	"devices_full", "pools_full", "reads", "walk", "unpaired", "nested", "locks_full",
	"live_full" };

enum view { VIEW_LINE, VIEW_POOLS, VIEW_DEVICES };
static enum view view;
static bool latency;	/* -L */

/* A row of the devices table: its key (the struct device) first */
struct dev {
	uint64_t key;
	struct device_info info;
	struct device_counters total, prev, delta;
};

/* The pools as the outputs show them, in slots */
struct occupancy {
	__u64 pools[KINDS];
	__u64 total, used, hiwater, events_hiwater, transient;
};

/* The snapshot: everything the renderers read */
static struct snap {
	struct swiotlbstat_bpf *skel;
	struct swiotlb_counters total, prev, delta;
	struct swiotlb_state st;
	/* hiwater: the kernel's, else the events', else the highest seen */
	struct occupancy occ;
	uint64_t lat_p50_ns, lat_p99_ns;	/* bucket upper bounds, 0: no maps */
	struct dms_rows devs;
	long lines;		/* printed since the last header */
	bool mem_tried;
	unsigned int hz;	/* the kernel's, once two reads tell it; 0 before */
	uint64_t first_jiffies, first_ktime_ns;
} s = { .devs = { .size = sizeof(struct dev) } };

/* What --advise bases its numbers on, gathered at each interval */
static struct observed {
	uint64_t start_ns;
	uint64_t peak_total;	/* slots */
	uint64_t *busy_used;	/* used slots at intervals that mapped */
	size_t nbusy, cap_busy;
	bool removed;		/* a dynamic pool was given back ... */
	bool churn;		/* ... and another added after that */
} obs;

static bool advise;
static double advise_after_s;	/* 0: at exit */

enum { OPT_ADVISE_AFTER = 0x200 };

static const struct option long_opts[] = {
	{ "pools", no_argument, NULL, 'P' },
	{ "devices", no_argument, NULL, 'D' },
	{ "latency", no_argument, NULL, 'L' },
	{ "advise", no_argument, NULL, 'a' },
	{ "advise-after", required_argument, NULL, OPT_ADVISE_AFTER },
	{}
};

static void parse_opt(int key, const char *arg)
{
	if (key == 'L') {
		latency = true;
		return;
	}
	if (key == 'a') {
		advise = true;
		return;
	}
	if (key == OPT_ADVISE_AFTER) {
		if (!dms_parse_interval(arg, &advise_after_s))
			dms_fail(EXIT_USAGE, "--advise-after needs a positive number of seconds (at most a day), not '%s'", arg);
		advise = true;
		return;
	}
	if (view != VIEW_LINE)
		dms_fail(EXIT_USAGE, "--pools and --devices cannot be combined");
	view = key == 'P' ? VIEW_POOLS : VIEW_DEVICES;
}

/* ---- modes and their hooks, best first ---- */

static const struct dms_hook tp_hooks[] = {
	{ "tp_btf/swiotlb_slot_alloc, swiotlb_slot_release",
	  { "tp_slot_alloc", "tp_slot_release" },
	  "maps, unmaps, slots taken from another CPU's area", DMS_HOOK_PER_IO },
	{ "tp_btf/swiotlb_map_fail", { "tp_map_fail" }, "map failures, their size and device" },
	{ "tp_btf/swiotlb_pool_add, swiotlb_pool_remove", { "tp_pool_add", "tp_pool_remove" },
	  "pools added and removed, by kind; allocation time", DMS_HOOK_OPTIONAL },
	{ "tp_btf/swiotlb_grow_fail", { "tp_grow_fail" }, "pools that could not be added",
	  DMS_HOOK_OPTIONAL },
	{}
};

static const struct dms_hook fentry_hooks[] = {
	{ "fentry/swiotlb_tbl_unmap_single", { "fentry_unmap" }, "unmaps (6.1 to 6.9)",
	  DMS_HOOK_OPTIONAL | DMS_HOOK_PER_IO },
	{ "fentry/__swiotlb_tbl_unmap_single", { "fentry_unmap_pool" },
	  "unmaps (6.10 and later)", DMS_HOOK_OPTIONAL | DMS_HOOK_PER_IO },
	{}
};

/* fexit before fentry: a map seen starting is seen ending */
#define MAP_EXIT_HOOKS(flags)									\
	{ "fentry+fexit/swiotlb_tbl_map_single", { "fexit_map", "fentry_map" },			\
	  "map latency, bounced bytes, bytes by direction, largest mapping; fentry mode: maps, failures", \
	  DMS_HOOK_PER_IO | (flags) },								\
	{ "fentry+fexit/swiotlb_map", { "fexit_swiotlb_map", "fentry_swiotlb_map" },		\
	  "the same for dma-direct's maps, where the one above takes too many arguments (6.1)",	\
	  DMS_HOOK_INSTEAD | DMS_HOOK_PER_IO | (flags) },					\
	{ "fentry/dev_attr_show", { "fentry_dev_attr_show" },					\
	  "finds io_tlb_default_mem through a device when kallsyms does not list it",		\
	  DMS_HOOK_OPTIONAL }

static const struct dms_hook map_hooks[] = {
	MAP_EXIT_HOOKS(0),
	{}
};

/*
 * The trace events count maps and unmaps themselves: timing each map
 * (a trampoline around the map function, two timestamps) is for the
 * outputs that show latency or bytes by direction, and costs several
 * times what the events do.  Otherwise the swiotlb_bounced event
 * counts the bytes.
 */
static const struct dms_hook tp_map_hooks[] = {
	MAP_EXIT_HOOKS(DMS_HOOK_DETAIL),
	{ "tp_btf/swiotlb_bounced", { "tp_bounced" },
	  "bounced bytes, largest mapping, per device (without --latency)",
	  DMS_HOOK_LIGHT | DMS_HOOK_PER_IO },
	{}
};

/* Where no fexit sees maps end */
static const struct dms_hook bounced_hooks[] = {
	{ "tp_btf/swiotlb_bounced", { "tp_bounced" }, "bounced bytes, largest mapping, per device",
	  DMS_HOOK_PER_IO },
	{}
};

static const struct dms_hook base_hooks[] = {
	{ "tp_btf/block_bio_queue", { "tp_bio_queue" },
	  "finds io_tlb_default_mem through a block device when kallsyms does not list it",
	  DMS_HOOK_OPTIONAL | DMS_HOOK_PER_IO },
	{ "tp_btf/contention_begin, contention_end", { "contention_begin", "contention_end" },
	  "time waited for the area locks (5.19 and later)", DMS_HOOK_OPTIONAL },
	{ "syscall/snapshot (BPF_PROG_TEST_RUN)", { "snapshot" },
	  "pools, total and used slots, high-water: read from io_tlb_default_mem",
	  DMS_HOOK_RUN },
	{}
};

static const char *const fentry_blind[] = {
	"pools added and removed, their kind and allocation time: needs swiotlb_pool_add/remove",
	"slots taken from another CPU's area: needs swiotlb_slot_alloc",
	NULL
};

static const char *const bounced_blind[] = {
	"maps that do not bounce through swiotlb_map() (dma-iommu): needs swiotlb_tbl_map_single",
	"unmaps, map failures, map latency, bytes by direction: need fentry/fexit",
	"pools added and removed: need swiotlb_pool_add/remove",
	"high-water between two reads, unless the kernel keeps io_tlb_used_hiwater (6.4+ with debugfs)",
	NULL
};

/* The last needs no fentry: for kernels that refuse it (lockdown, policy) */
static const struct dms_mode modes[] = {
	{ "tracepoint", "the swiotlb:* events of the dmascope patches",
	  { tp_hooks, tp_map_hooks, base_hooks },
	  .needs = { { "btf_trace_swiotlb_slot_alloc", BTF_KIND_TYPEDEF } },
	  .missing = "this kernel has no swiotlb:* events of the dmascope patches (apply kernel-patches/)" },
	{ "fentry", "the map and unmap functions; no swiotlb:* events in this kernel",
	  { fentry_hooks, map_hooks, base_hooks }, fentry_blind,
	  .needs = { { "swiotlb_tbl_map_single", BTF_KIND_FUNC } },
	  .missing = "no swiotlb_tbl_map_single in the kernel's BTF" },
	{ "bounced", "upstream's swiotlb_bounced event only; no fentry/fexit",
	  { bounced_hooks, base_hooks }, bounced_blind },
	{}
};

static const char *unserved(void)
{
	if (!dms_btf_has("io_tlb_mem", BTF_KIND_STRUCT))
		return "this kernel has no SWIOTLB (CONFIG_SWIOTLB is not set): no bounce buffers to show";
	return NULL;
}

/* ---- the BPF object ---- */

static struct bpf_object *open_bpf(const struct dms_mode *mode)
{
	s.skel = swiotlbstat_bpf__open();
	if (!s.skel)
		return NULL;
	s.skel->rodata->count_maps = !strcmp(mode->name, "fentry");
	/* only fentry follows mappings one by one: no 2 MiB table elsewhere */
	if (!s.skel->rodata->count_maps)
		bpf_map__set_max_entries(s.skel->maps.live, 1);
	/* only the trace events say which pool a slot is in; only -P shows it */
	s.skel->rodata->follow_pools = !strcmp(mode->name, "tracepoint") && view == VIEW_POOLS;
	if (!s.skel->rodata->follow_pools)
		bpf_map__set_max_entries(s.skel->maps.pool_use, 1);
	s.skel->rodata->self_tgid = getpid();
	return s.skel->obj;
}

/* The same per pool, in the table the trace events keep up to date */
static void set_pool_baselines(void)
{
	const struct swiotlb_state *st = &s.skel->bss->state;
	int fd = bpf_map__fd(s.skel->maps.pool_use);
	uint32_t i;

	for (i = 0; i < st->npools && i < SWIOTLBSTAT_MAX_POOLS; i++) {
		struct pool_use use = { .in_use = st->pools[i].used, .peak = st->pools[i].used };

		bpf_map_update_elem(fd, &st->pools[i].addr, &use, BPF_ANY);
	}
}

/* The highest use of a pool since swiotlbstat started (tracepoint mode, -P) */
static bool pool_peak(uint64_t addr, uint64_t *peak)
{
	struct pool_use use;

	if (!s.skel->rodata->follow_pools ||
	    bpf_map_lookup_elem(bpf_map__fd(s.skel->maps.pool_use), &addr, &use) ||
	    use.peak < 0)
		return false;
	*peak = use.peak;
	return true;
}

/*
 * Where the slots followed through maps and unmaps start from: the pools'
 * use, read before anything is attached
 */
static void set_baseline(void)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct bpf_program *snapshot = s.skel->progs.snapshot;

	if (bpf_program__fd(snapshot) < 0 ||
	    bpf_prog_test_run_opts(bpf_program__fd(snapshot), &opts))
		return;
	s.skel->bss->slots_in_use = s.skel->bss->state.used;
	s.skel->bss->slots_peak = s.skel->bss->state.used;
	if (s.skel->rodata->follow_pools)
		set_pool_baselines();
}

static int load_bpf(void)
{
	int err = swiotlbstat_bpf__load(s.skel);

	if (!err)
		set_baseline();
	return err;
}

static void close_bpf(void)
{
	swiotlbstat_bpf__destroy(s.skel);
	s.skel = NULL;
}

/* fexit on one of the map functions: latency, bytes, largest mapping */
static bool have_map_exit(void)
{
	return dms_prog_attached("fexit_map") || dms_prog_attached("fexit_swiotlb_map");
}

/* The outputs asked for need no map latency nor bytes by direction */
static bool light(void)
{
	return !latency && view != VIEW_DEVICES;
}

static bool have_maps(void)
{
	return dms_mode_is("tracepoint") || have_map_exit();
}

/* fexit sees every map end; bounced mode has the swiotlb_bounced event */
static bool have_bounced(void)
{
	return dms_prog_attached("tp_bounced") || have_map_exit();
}

static bool have_unmaps(void)
{
	return dms_mode_is("tracepoint") || dms_prog_attached("fentry_unmap") || dms_prog_attached("fentry_unmap_pool");
}

/* An area lock of a pool this snapshot did not find: gone with the pool */
static bool stale_lock(const void *key, const void *value, void *ctx)
{
	(void)key;
	(void)ctx;
	return *(const uint64_t *)value != s.st.generation;
}

static void forget_stale_locks(void)
{
	dms_prune_map(s.skel->maps.area_locks, stale_lock, NULL);
}

static bool have_lock_waits(void)
{
	return dms_prog_attached("contention_begin");
}

static bool have_events(void)
{
	return dms_mode_is("tracepoint");
}

static bool have_growth(void)
{
	return dms_prog_attached("tp_pool_add");
}

static bool have_grow_failures(void)
{
	return dms_prog_attached("tp_grow_fail");
}

/*
 * Every map and every unmap seen, with its slots: an exact high-water.
 * Followed only where the kernel keeps none (bpf/swiotlbstat.bpf.c).
 */
static bool have_events_peak(void)
{
	return !s.st.has_hiwater &&
	       (dms_mode_is("tracepoint") || (dms_mode_is("fentry") && have_unmaps()));
}

static const char *hiwater_source(void)
{
	if (s.st.has_hiwater)
		return "kernel";
	return have_events_peak() ? "events" : "sampled";
}

static void run_snapshot(void)
{
	dms_run_prog(s.skel->progs.snapshot);
	s.st = s.skel->bss->state;
	forget_stale_locks();
	/* the hooks that look for io_tlb_default_mem: every block I/O runs one */
	if (s.st.mem) {
		dms_hook_done(&dms_run.bpf, "fentry_dev_attr_show");
		dms_hook_done(&dms_run.bpf, "tp_bio_queue");
	}
}

/*
 * kallsyms first (the snapshot looks it up); else one read of a device
 * attribute, which the dev_attr_show hook turns into the device's
 * dma_io_tlb_mem.
 */
static void find_mem(void)
{
	char buf[64];
	void *block;
	int fd;

	if (s.mem_tried)
		return;
	s.mem_tried = true;
	run_snapshot();
	if (s.st.mem)
		return;
	fd = open(PROBE_ATTR, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf)) < 0)
			dms_info("cannot read %s", PROBE_ATTR);
		close(fd);
	}
	/* one block read from the disk, past the page cache */
	fd = open("/proc/self/exe", O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd >= 0 && !posix_memalign(&block, PROBE_BLOCK, PROBE_BLOCK)) {
		if (pread(fd, block, PROBE_BLOCK, 0) < 0)
			dms_info("cannot read a block of /proc/self/exe");
		free(block);
	}
	if (fd >= 0)
		close(fd);
	run_snapshot();
}

static const char *found_how(void)
{
	switch (s.st.found) {
	case FOUND_KALLSYMS: return "kallsyms";
	case FOUND_DEVICE: return "a device's dma_io_tlb_mem";
	}
	return "not found";
}

static void hooks_note(FILE *f)
{
	find_mem();
	if (s.st.mem)
		fprintf(f, "io_tlb_default_mem: found through %s (%s layout); the hooks that look for it are detached\n",
			found_how(), s.st.layout == LAYOUT_SINGLE ? "6.1 single pool" : "pool list");
	else
		fprintf(f, "io_tlb_default_mem: not found (not in kallsyms, no device seen): pools, total, used and high-water are shown as '-'\n");
	if (s.st.has_hiwater)
		fprintf(f, "high-water: the kernel's own (io_tlb_used_hiwater)\n");
	else if (s.st.mem)
		fprintf(f, "high-water: the kernel keeps none; %s\n", have_events_peak() ?
			"followed through every map and unmap since swiotlbstat started" :
			"the highest used slots seen at the intervals (this mode sees no unmaps)");
}

static void started(void)
{
	long intervals;

	obs.start_ns = dms_now_ns();
	if (advise_after_s) {
		intervals = (long)(advise_after_s / dms_run.interval_s + 0.999);
		if (intervals < 1)
			intervals = 1;
		if (!dms_run.count || dms_run.count > intervals)
			dms_run.count = intervals;
	}
	find_mem();
	if (!s.st.mem)
		dms_warn("io_tlb_default_mem not found (not in kallsyms, no device seen): pools, total, used and high-water are shown as '-'");
	else if (!s.st.nslabs && !s.st.npools)
		dms_warn("no bounce buffer pool: the kernel set up no SWIOTLB at boot (an IOMMU, or memory that every device can address), so nothing is bounced");
}

/* ---- reading the maps ---- */

static void add_global(const void *key, const void *values, void *ctx)
{
	(void)key;
	(void)ctx;
	dms_percpu_fold(values, sizeof(struct swiotlb_counters), (uint64_t *)&s.total,
			sizeof(s.total) / sizeof(uint64_t), 0);
}

#define DEVICE_MAXIMA	(DMS_FIELD_BIT(struct device_counters, largest) | \
			 DMS_FIELD_BIT(struct device_counters, largest_failure))

/* A device's row, named when it is made (read_devices() looks for its driver) */
static struct dev *device_row(uint64_t key)
{
	bool made;
	struct dev *d = dms_row_get(&s.devs, key, &made);

	if (made && bpf_map_lookup_elem(bpf_map__fd(s.skel->maps.device_names), &key, &d->info))
		snprintf(d->info.name, sizeof(d->info.name), "%#llx", (unsigned long long)key);
	return d;
}

static void add_device(const void *key, const void *values, void *ctx)
{
	struct dev *d = device_row(*(const uint64_t *)key);

	(void)ctx;
	dms_percpu_fold(values, sizeof(struct device_counters), (uint64_t *)&d->total,
			sizeof(d->total) / sizeof(uint64_t), DEVICE_MAXIMA);
}

/* Each CPU's counters of the device it saw last, not in devices yet */
static void add_recent(const void *key, const void *values, void *ctx)
{
	size_t stride = dms_percpu_stride(sizeof(struct recent_device));
	const struct recent_device *r;
	int cpu;

	(void)key;
	(void)ctx;
	for (cpu = 0; cpu < dms_ncpus(); cpu++) {
		r = (const void *)((const char *)values + cpu * stride);
		if (r->dev)
			dms_fold_u64s((uint64_t *)&device_row(r->dev)->total, (const uint64_t *)&r->c,
				      sizeof(r->c) / sizeof(uint64_t), DEVICE_MAXIMA);
	}
}

static void sub_u64s(void *out, const void *now, const void *before, size_t size)
{
	dms_sub_u64s(out, now, before, size / sizeof(uint64_t));
}

/* The upper bound of the bucket where the q-th fraction of maps falls */
static uint64_t quantile_ns(const __u64 *buckets, double q)
{
	uint64_t n = 0, seen = 0;
	int b;

	for (b = 0; b < SWIOTLBSTAT_LAT_BUCKETS; b++)
		n += buckets[b];
	if (!n)
		return 0;
	for (b = 0; b < SWIOTLBSTAT_LAT_BUCKETS; b++) {
		seen += buckets[b];
		if (seen >= q * n)
			break;
	}
	return 2ULL << b;
}

/*
 * CONFIG_HZ from how far jiffies went in a known time: the nearest of the
 * values x86 kernels are built with.
 */
static void learn_hz(void)
{
	static const unsigned int known[] = { 100, 250, 300, 1000 };
	double seconds, hz;
	unsigned int i, best = 0;

	if (!s.first_ktime_ns) {
		s.first_jiffies = s.st.jiffies;
		s.first_ktime_ns = s.st.ktime_ns;
		return;
	}
	seconds = (s.st.ktime_ns - s.first_ktime_ns) / (double)NSEC_PER_SEC;
	if (seconds < 0.1)
		return;
	hz = (s.st.jiffies - s.first_jiffies) / seconds;
	for (i = 1; i < sizeof(known) / sizeof(known[0]); i++)
		if (fabs(hz - known[i]) < fabs(hz - known[best]))
			best = i;
	s.hz = known[best];
}

/* A pool's age in ms, or NO_AGE */
static uint64_t pool_age_ms(const struct pool_state *p)
{
	if (p->created == NO_AGE || !s.hz || p->created > s.st.jiffies)
		return NO_AGE;
	return (s.st.jiffies - p->created) * 1000 / s.hz;
}

/* Remember what --advise needs from this interval */
static void observe(void)
{
	if (s.st.nslabs > obs.peak_total)
		obs.peak_total = s.st.nslabs;
	if (s.delta.pools_added[KIND_DYNAMIC] && obs.removed)
		obs.churn = true;
	if (s.delta.pools_removed[KIND_DYNAMIC])
		obs.removed = true;
	if (!s.st.mem || !(s.delta.maps || s.delta.bounced))
		return;
	if (obs.nbusy == obs.cap_busy) {
		obs.cap_busy = obs.cap_busy ? 2 * obs.cap_busy : 64;
		obs.busy_used = dms_realloc(obs.busy_used, obs.cap_busy, sizeof(*obs.busy_used));
	}
	obs.busy_used[obs.nbusy++] = s.st.used;
}

static uint64_t pools_of(int kind)
{
	uint32_t i;
	uint64_t n = 0;

	for (i = 0; i < s.st.npools && i < SWIOTLBSTAT_MAX_POOLS; i++)
		n += s.st.pools[i].kind == (uint32_t)kind;
	return n;
}

static void read_devices(void)
{
	struct dev *d;
	int i;

	for (i = 0; i < s.devs.n; i++) {
		d = dms_row_at(&s.devs, i);
		memset(&d->total, 0, sizeof(d->total));
	}
	/* a device's first events can be in either map (see devices_nested) */
	dms_read_map(s.skel->maps.devices, add_device, NULL);
	dms_read_map(s.skel->maps.devices_nested, add_device, NULL);
	/* after devices: counters moving from one to the other meanwhile count later, not twice */
	dms_read_map(s.skel->maps.recent, add_recent, NULL);
	for (i = 0; i < s.devs.n; i++) {
		d = dms_row_at(&s.devs, i);
		/* once per row and interval: a driver may bind after the first map */
		if (!d->info.driver[0])
			bpf_map_lookup_elem(bpf_map__fd(s.skel->maps.device_names), &d->key, &d->info);
		sub_u64s(&d->delta, &d->total, &d->prev, sizeof(d->total));
		d->delta.largest = d->total.largest;
		d->delta.largest_failure = d->total.largest_failure;
		d->prev = d->total;
	}
}

/* The reads at the intervals are a floor the events never stay under */
static void read_occupancy(void)
{
	struct occupancy *o = &s.occ;
	int k;

	for (k = 0; k < KINDS; k++)
		o->pools[k] = pools_of(k);
	o->total = s.st.nslabs;
	o->used = s.st.used;
	o->transient = s.st.transient_nslabs;
	if (have_events_peak() && s.skel->bss->slots_peak > 0)
		o->events_hiwater = s.skel->bss->slots_peak;
	if (s.st.has_hiwater)
		o->hiwater = s.st.hiwater;
	else if (s.st.used > o->hiwater)
		o->hiwater = s.st.used;
	if (!s.st.has_hiwater && o->events_hiwater > o->hiwater)
		o->hiwater = o->events_hiwater;
}

static void collect(void)
{
	run_snapshot();
	learn_hz();
	memset(&s.total, 0, sizeof(s.total));
	dms_read_map(s.skel->maps.counters, add_global, NULL);
	sub_u64s(&s.delta, &s.total, &s.prev, sizeof(s.total));
	s.prev = s.total;
	read_devices();
	read_occupancy();
	s.lat_p50_ns = quantile_ns(s.delta.latency, 0.50);
	s.lat_p99_ns = quantile_ns(s.delta.latency, 0.99);
	observe();
}

/* ---- table ---- */

static double mib(uint64_t slots)
{
	return slots * SWIOTLBSTAT_SLOT_SIZE / MIB;
}

static void table_line(struct dms_buf *b)
{
	const struct occupancy *o = &s.occ;
	const struct swiotlb_counters *c = &s.delta;
	bool mem = s.st.mem != 0, lat = have_map_exit(), grow = have_growth();
	char when[16], pools[24] = "-";

	if (s.lines++ % HEADER_EVERY == 0)
		dms_buf_printf(b, "%8s %9s %9s %8s %8s %5s %9s %9s %9s %6s %5s %5s %8s %8s %8s\n",
			       "TIME", "POOLS", "TOTAL_MiB", "USED_MiB", "HIGH_MiB", "USE%",
			       "MAPS/s", "UNMAPS/s", "BNC_MB/s", "FAIL", "GROW", "RMVD",
			       "P50_us", "P99_us", "LOCKus/s");
	dms_time_of_day(when, sizeof(when));
	if (mem)
		snprintf(pools, sizeof(pools), "%llu/%llu/%llu", o->pools[KIND_DEFAULT],
			 o->pools[KIND_DYNAMIC], o->pools[KIND_TRANSIENT]);
	dms_buf_printf(b, "%8s %9s", when, pools);
	dms_buf_field(b, 9, mem, "%.1f", mib(o->total));
	dms_buf_field(b, 8, mem, "%.2f", mib(o->used));
	dms_buf_field(b, 8, mem, "%.2f", mib(o->hiwater));
	dms_buf_field(b, 5, mem && o->total, "%.1f", 100.0 * o->used / (o->total ? o->total : 1));
	dms_buf_field(b, 9, have_maps(), "%.0f", dms_rate(c->maps));
	dms_buf_field(b, 9, have_unmaps(), "%.0f", dms_rate(c->unmaps));
	dms_buf_field(b, 9, have_bounced(), "%.2f", dms_rate(c->bounced_bytes) / MB);
	dms_buf_field(b, 6, have_maps(), "%.0f", c->map_failures);
	dms_buf_field(b, 5, grow, "%.0f", c->pools_added[KIND_DYNAMIC] +
		      c->pools_added[KIND_TRANSIENT]);
	dms_buf_field(b, 5, grow, "%.0f", c->pools_removed[KIND_DYNAMIC] +
		      c->pools_removed[KIND_TRANSIENT]);
	dms_buf_field(b, 8, lat && s.lat_p50_ns, "%.1f", s.lat_p50_ns / 1e3);
	dms_buf_field(b, 8, lat && s.lat_p99_ns, "%.1f", s.lat_p99_ns / 1e3);
	dms_buf_field(b, 8, have_lock_waits(), "%.0f", dms_rate(c->area_lock_wait_ns) / 1e3);
	dms_buf_printf(b, "\n");
}

static bool pool_info(uint64_t addr, struct pool_info *info)
{
	return !bpf_map_lookup_elem(bpf_map__fd(s.skel->maps.pools), &addr, info);
}

static void table_pools(struct dms_buf *b)
{
	uint32_t i;

	dms_buf_printf(b, "%-9s %18s %8s %8s %8s %8s %5s %5s %10s %8s\n", "KIND", "POOL", "SLOTS",
		       "MiB", "USED", "HIGH", "USE%", "AREAS", "AGE_s", "ALLOC_ms");
	if (!s.st.mem)
		dms_buf_printf(b, "(io_tlb_default_mem not found: see --hooks)\n");
	for (i = 0; i < s.st.npools && i < SWIOTLBSTAT_MAX_POOLS; i++) {
		const struct pool_state *p = &s.st.pools[i];
		struct pool_info info;
		bool known = pool_info(p->addr, &info);
		uint64_t peak = 0;
		bool has_peak = pool_peak(p->addr, &peak);

		dms_buf_printf(b, "%-9s %#18llx %8llu %8.2f %8llu", kind_names[p->kind % KINDS],
			       (unsigned long long)p->addr, (unsigned long long)p->nslabs,
			       mib(p->nslabs), (unsigned long long)p->used);
		dms_buf_field(b, 8, has_peak, "%.0f", (double)peak);
		dms_buf_field(b, 5, p->nslabs, "%.1f", 100.0 * p->used / (p->nslabs ? p->nslabs : 1));
		dms_buf_printf(b, " %5u", p->nareas);
		dms_buf_field(b, 10, pool_age_ms(p) != NO_AGE, "%.1f", pool_age_ms(p) / 1e3);
		dms_buf_field(b, 8, known, "%.2f", info.alloc_ns / 1e6);
		dms_buf_printf(b, "\n");
	}
	if (s.st.truncated)
		dms_buf_printf(b, "(more than %d pools: the others are not shown)\n",
			       SWIOTLBSTAT_MAX_POOLS);
}

static void table_devices(struct dms_buf *b)
{
	int i;

	dms_buf_printf(b, "%-20s %-14s %9s %9s %9s %9s %9s %9s %6s %9s\n", "DEVICE", "DRIVER",
		       "MAPS/s", "UNMAPS/s", "TODEV_MB", "FROMDEV_MB", "BIDI_MB", "BNC_MB",
		       "FAIL", "LARGEST");
	for (i = 0; i < s.devs.n; i++) {
		const struct dev *d = dms_row_at(&s.devs, i);
		const struct device_counters *c = &d->delta;

		if (!c->maps && !c->unmaps && !c->failures && !c->bounced_bytes)
			continue;
		dms_buf_printf(b, "%-20.20s %-14.14s %9.0f", d->info.name,
			       d->info.driver[0] ? d->info.driver : "-", dms_rate(c->maps));
		dms_buf_field(b, 9, have_unmaps(), "%.0f", dms_rate(c->unmaps));
		dms_buf_printf(b, " %9.2f %9.2f %9.2f %9.2f %6llu %9llu\n",
			       c->bytes[DIR_TO_DEVICE] / MB, c->bytes[DIR_FROM_DEVICE] / MB,
			       c->bytes[DIR_BIDIRECTIONAL] / MB, c->bounced_bytes / MB,
			       (unsigned long long)c->failures, (unsigned long long)c->largest);
	}
}

static void table(struct dms_buf *b)
{
	if (view == VIEW_LINE) {
		table_line(b);
		return;
	}
	dms_table_title(b, NULL);
	if (view == VIEW_POOLS)
		table_pools(b);
	else
		table_devices(b);
	dms_buf_printf(b, "\n");
}

/* ---- JSON and Prometheus: what the mode cannot see is absent ---- */

#define SLOT		SWIOTLBSTAT_SLOT_SIZE
#define NS		1e-9
#define OCC(m)		offsetof(struct occupancy, m)
#define COUNT(m)	offsetof(struct swiotlb_counters, m)
#define DEV(m)		offsetof(struct device_counters, m)
#define TAG_TRANSIENT	1	/* the kernel has transient pools */

/* JSON in slots, Prometheus in bytes */
static const struct dms_metric occupancy_metrics[] = {
	{ "pools", PROM("pools"), "Pools, by kind", OCC(pools), KINDS, "kind", kind_names,
	  .gauge = true },
	{ "total_slots", PROM("total_bytes"), "Bounce buffer memory of all pools but the transient ones (io_tlb_nslabs)",
	  OCC(total), .to_prom = SLOT, .gauge = true },
	{ "used_slots", PROM("used_bytes"), "Bounce buffer memory in use (io_tlb_used)",
	  OCC(used), .to_prom = SLOT, .gauge = true },
	{ "hiwater_slots", NULL, NULL, OCC(hiwater) },
	{ "events_hiwater_slots", NULL, NULL, OCC(events_hiwater), .seen = have_events_peak },
	{ "transient_slots", PROM("transient_bytes"), "Memory of transient pools",
	  OCC(transient), .to_prom = SLOT, .gauge = true, .needs = TAG_TRANSIENT },
	{}
};

/* labelled with where the number comes from */
static const struct dms_metric hiwater_metric[] = {
	{ NULL, PROM("used_hiwater_bytes"), "Highest use: the kernel's io_tlb_used_hiwater, else followed through maps and unmaps (events), else the highest read (sampled)",
	  OCC(hiwater), .to_prom = SLOT, .gauge = true },
	{}
};

static const struct dms_metric counter_metrics[] = {
	{ "maps", PROM("maps_total"), "Bounce buffers mapped", COUNT(maps), .seen = have_maps },
	{ "map_failures", PROM("map_failures_total"), "Maps that found no room (swiotlb buffer is full)",
	  COUNT(map_failures), .seen = have_maps },
	{ "map_failure_bytes", PROM("map_failure_bytes_total"), "Bytes of the maps that failed",
	  COUNT(map_failure_bytes), .seen = have_maps },
	{ "unmaps", PROM("unmaps_total"), "Bounce buffers unmapped", COUNT(unmaps),
	  .seen = have_unmaps },
	{ "mapped_bytes", PROM("mapped_bytes_total"), "Bytes mapped through bounce buffers",
	  COUNT(map_bytes), .seen = have_map_exit },
	{ "bounced", PROM("bounced_total"), "Buffers bounced (swiotlb_bounced events)",
	  COUNT(bounced), .seen = have_bounced },
	{ "bounced_bytes", PROM("bounced_bytes_total"), "Bytes bounced (swiotlb_bounced)",
	  COUNT(bounced_bytes), .seen = have_bounced },
	{ "crossed_areas", NULL, NULL, COUNT(crossed), .seen = have_events },
	{ "pools_added", PROM("pools_added_total"), "Pools added, by kind", COUNT(pools_added),
	  KINDS, "kind", kind_names, .seen = have_growth },
	{ "pools_removed", PROM("pools_removed_total"), "Pools removed, by kind",
	  COUNT(pools_removed), KINDS, "kind", kind_names, .seen = have_growth },
	{ "pool_alloc_ns", NULL, NULL, COUNT(pool_alloc_ns), .seen = have_growth },
	{ "grow_failures", PROM("grow_failures_total"), "Pools that could not be added",
	  COUNT(grow_failures), .seen = have_grow_failures },
	{ "area_lock_waits", PROM("area_lock_waits_total"), "Times an area lock was found taken",
	  COUNT(area_lock_waits), .seen = have_lock_waits },
	{ "area_lock_wait_ns", PROM("area_lock_wait_seconds_total"), "Time waited for the area locks",
	  COUNT(area_lock_wait_ns), .to_prom = NS, .seen = have_lock_waits },
	{}
};

static const struct dms_metric device_metrics[] = {
	{ "maps", PROM("device_maps_total"), "Bounce buffers mapped, per device", DEV(maps),
	  .seen = have_maps },
	{ "map_failures", PROM("device_map_failures_total"), "Maps that found no room, per device",
	  DEV(failures), .seen = have_maps },
	{ "map_failure_bytes", NULL, NULL, DEV(failure_bytes), .seen = have_maps },
	{ "largest_failure_bytes", NULL, NULL, DEV(largest_failure), .seen = have_maps },
	{ "unmaps", NULL, NULL, DEV(unmaps), .seen = have_unmaps },
	{ "mapped_bytes", PROM("device_mapped_bytes_total"), "Bytes mapped, per device and direction",
	  DEV(bytes), DIRS, "direction", dir_names, .seen = have_map_exit },
	{ "largest_map_bytes", NULL, NULL, DEV(largest), .seen = have_bounced },
	{ "bounced_bytes", PROM("device_bounced_bytes_total"), "Bytes bounced (swiotlb_bounced), per device",
	  DEV(bounced_bytes), .seen = have_bounced },
	{}
};

static unsigned int occupancy_tags(void)
{
	return s.st.has_transient ? TAG_TRANSIENT : 0;
}

static void json_pools(struct dms_json *j)
{
	uint32_t i;

	dms_json_array(j, "pool_list");
	for (i = 0; i < s.st.npools && i < SWIOTLBSTAT_MAX_POOLS; i++) {
		const struct pool_state *p = &s.st.pools[i];
		struct pool_info info;
		uint64_t peak;

		dms_json_object(j, NULL);
		dms_json_str(j, "kind", kind_names[p->kind % KINDS]);
		dms_json_u64(j, "slots", p->nslabs);
		dms_json_u64(j, "used_slots", p->used);
		if (pool_peak(p->addr, &peak))
			dms_json_u64(j, "hiwater_slots", peak);
		dms_json_u64(j, "areas", p->nareas);
		if (pool_age_ms(p) != NO_AGE)
			dms_json_u64(j, "age_ms", pool_age_ms(p));
		if (pool_info(p->addr, &info))
			dms_json_u64(j, "alloc_ns", info.alloc_ns);
		dms_json_end_object(j);
	}
	dms_json_end_array(j);
}

static void json(struct dms_json *j)
{
	int i;

	dms_json_u64(j, "slot_bytes", SWIOTLBSTAT_SLOT_SIZE);
	if (s.st.mem) {
		dms_json_metrics(j, occupancy_metrics, &s.occ, occupancy_tags());
		dms_json_str(j, "hiwater_source", hiwater_source());
	}
	dms_json_metrics(j, counter_metrics, &s.delta, 0);
	if (have_map_exit() && s.lat_p50_ns) {
		dms_json_u64(j, "map_latency_p50_ns", s.lat_p50_ns);
		dms_json_u64(j, "map_latency_p99_ns", s.lat_p99_ns);
	}
	json_pools(j);
	dms_json_array(j, "devices");
	for (i = 0; i < s.devs.n; i++) {
		const struct dev *d = dms_row_at(&s.devs, i);

		dms_json_object(j, NULL);
		dms_json_str(j, "device", d->info.name);
		dms_json_str(j, "driver", d->info.driver);
		dms_json_metrics(j, device_metrics, &d->delta, 0);
		dms_json_end_object(j);
	}
	dms_json_end_array(j);
}

static void metrics_latency(struct dms_prom *p)
{
	double bounds[SWIOTLBSTAT_LAT_BUCKETS - 1];
	uint64_t counts[SWIOTLBSTAT_LAT_BUCKETS];
	int b;

	if (!have_map_exit())
		return;
	for (b = 0; b < SWIOTLBSTAT_LAT_BUCKETS; b++) {
		counts[b] = s.total.latency[b];
		if (b < SWIOTLBSTAT_LAT_BUCKETS - 1)
			bounds[b] = (double)(2ULL << b) / NSEC_PER_SEC;
	}
	dms_prom_family(p, PROM("map_latency_seconds"), "histogram", "Time swiotlb_tbl_map_single() took");
	dms_prom_histogram(p, NULL, bounds, counts, SWIOTLBSTAT_LAT_BUCKETS - 1,
			   (double)s.total.latency_ns / NSEC_PER_SEC);
}

static void metrics(struct dms_prom *p)
{
	struct dms_record state = { &s.occ, .tags = occupancy_tags() };
	struct dms_record hiwater = { &s.occ }, global = { &s.total };
	struct dms_records devices = {};
	struct dms_record *r;
	int i;

	if (s.st.mem) {
		dms_prom_metrics(p, occupancy_metrics, &state, 1);
		dms_label(&hiwater.labels, "source", hiwater_source());
		dms_prom_metrics(p, hiwater_metric, &hiwater, 1);
	}
	dms_prom_metrics(p, counter_metrics, &global, 1);
	metrics_latency(p);
	for (i = 0; i < s.devs.n; i++) {
		const struct dev *d = dms_row_at(&s.devs, i);

		r = dms_record_add(&devices, &d->total, 0);
		dms_label(&r->labels, "device", d->info.name);
		dms_label(&r->labels, "driver", d->info.driver[0] ? d->info.driver : "-");
	}
	dms_prom_metrics(p, device_metrics, devices.r, devices.n);
	dms_records_free(&devices);
}

/* ---- --advise: sizes derived from what was seen, with the evidence ---- */

struct advice {
	double seconds;
	uint64_t hiwater, largest_map, largest_failure, failures, maps, map_bytes;
	/* the mean mapping: of the maps seen ending (fexit), else of the bounces */
	uint64_t sized, sized_bytes;
	uint64_t fixed;			/* swiotlb= for a fixed pool, in slots */
	bool dynamic;			/* the kernel has dmascope's dynamic pools */
	uint64_t median_busy, initial;	/* slots */
	uint64_t cap_mb;
	long idle_ms_now, idle_ms;
	uint64_t cvm_bytes;		/* the confidential-VM rule, here */
	const char *untrusted[6];
	int nuntrusted;
};

static uint64_t slots_of(uint64_t bytes)
{
	return (bytes + SWIOTLBSTAT_SLOT_SIZE - 1) / SWIOTLBSTAT_SLOT_SIZE;
}

/*
 * What swiotlb= is, once the kernel took it: at least 1 MiB, and a power
 * of two (from 6.0 on, a size that is not one is rounded up to one, so
 * that the pool divides into areas of whole segments).
 */
static uint64_t pool_slots(uint64_t want)
{
	uint64_t slots = MIN_SLOTS;

	while (slots < want)
		slots *= 2;
	return slots;
}

/* A parameter of the dmascope patches, or -1 when the kernel has none */
static long dyn_param(const char *name)
{
	char path[128], text[32];

	snprintf(path, sizeof(path), DYN_PARAMS "%s", name);
	return dms_read_line(path, text, sizeof(text)) ? strtol(text, NULL, 10) : -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median_busy_used(void)
{
	if (!obs.nbusy)
		return 0;
	qsort(obs.busy_used, obs.nbusy, sizeof(*obs.busy_used), cmp_u64);
	return obs.busy_used[obs.nbusy / 2];
}

static void devices_largest(struct advice *a)
{
	const struct dev *d;
	int i;

	for (i = 0; i < s.devs.n; i++) {
		d = dms_row_at(&s.devs, i);
		if (d->total.largest > a->largest_map)
			a->largest_map = d->total.largest;
		if (d->total.largest_failure > a->largest_failure)
			a->largest_failure = d->total.largest_failure;
	}
}

static void distrust(struct advice *a, const char *why)
{
	if (a->nuntrusted < (int)(sizeof(a->untrusted) / sizeof(a->untrusted[0])))
		a->untrusted[a->nuntrusted++] = why;
}

/*
 * The slots one mapping of this many bytes keeps from others: from a page
 * on, a mapping starts on a page boundary (an even slot), so an odd
 * count leaves the slot after it unusable.  No mapping is longer than a
 * segment.
 */
static uint64_t blocked_slots(uint64_t bytes)
{
	uint64_t n = slots_of(bytes);

	if (bytes >= PAGE_BYTES && n % 2)
		n++;
	if (n > SEGMENT_SLOTS)
		n = SEGMENT_SLOTS;
	return n ? n : 1;
}

/*
 * A fixed pool that holds a peak of this many slots in use.  A mapping
 * never crosses a segment of 128 slots, so a segment holds only whole
 * mappings: of the largest size seen, L slots, it fits floor(128 / L)
 * (two of 65 slots do not fit in one: half of it stays free).  The peak,
 * padded by the slot that each mapping in flight may leave free for
 * alignment, is spread over segments that full, and one segment more
 * takes the next mapping and what other devices hold.  Measured in the
 * lab (vanilla 6.1, swiotlb=512, four areas) with mappings of one size
 * held until one failed, from 1 to 128 slots: a pool holds floor(128 / L)
 * per segment, sometimes one less (tests/host/advice.sh replays it).
 */
static uint64_t fixed_for(const struct advice *a, uint64_t peak)
{
	uint64_t per_map = blocked_slots(a->largest_map);
	uint64_t usable = SEGMENT_SLOTS / per_map * per_map;
	uint64_t padded = peak, avg_slots;

	if (a->largest_map >= PAGE_BYTES) {
		avg_slots = a->sized ? slots_of(a->sized_bytes / a->sized) : 1;
		if (!avg_slots)
			avg_slots = 1;
		padded += (peak + avg_slots - 1) / avg_slots;
	}
	return pool_slots(((padded + usable - 1) / usable + 1) * SEGMENT_SLOTS);
}

/*
 * After failures the high-water only says the pool was full: the demand
 * was at least the largest total seen plus the largest mapping that
 * failed.
 */
static void advice_compute(struct advice *a)
{
	uint64_t need, cap;

	memset(a, 0, sizeof(*a));
	a->seconds = (dms_now_ns() - obs.start_ns) / (double)NSEC_PER_SEC;
	a->hiwater = s.occ.hiwater;
	a->maps = s.total.maps;
	a->map_bytes = s.total.map_bytes;
	a->sized = have_map_exit() ? a->maps : s.total.bounced;
	a->sized_bytes = have_map_exit() ? a->map_bytes : s.total.bounced_bytes;
	a->failures = s.total.map_failures;
	devices_largest(a);
	need = a->hiwater;
	if (a->failures)
		need = (need > obs.peak_total ? need : obs.peak_total) + slots_of(a->largest_failure);
	a->fixed = fixed_for(a, need);
	a->idle_ms_now = dyn_param("pool_idle_ms");
	a->dynamic = a->idle_ms_now >= 0;
	if (a->dynamic) {
		a->median_busy = median_busy_used();
		a->initial = pool_slots(a->median_busy + a->median_busy / 4);
		cap = 2 * a->fixed > obs.peak_total ? 2 * a->fixed : obs.peak_total;
		a->cap_mb = (cap * SWIOTLBSTAT_SLOT_SIZE + (1 << 20) - 1) >> 20;
		a->idle_ms = obs.churn && a->idle_ms_now ? 2 * a->idle_ms_now : a->idle_ms_now;
	}
	if (!s.st.mem)
		distrust(a, "io_tlb_default_mem was not found: no high-water mark");
	else if (!s.st.nslabs)
		distrust(a, "this kernel allocated no bounce buffer pool: nothing was sized");
	else if (!strcmp(hiwater_source(), "sampled"))
		distrust(a, "the high-water was read at the intervals only (this mode sees no unmaps): a lower bound, peaks between reads are missed");
	if (a->seconds < TRUST_SECONDS)
		distrust(a, "observed for less than a minute: watch a busy period, the longer the better");
	if (have_maps() && a->maps < TRUST_MAPS)
		distrust(a, "fewer than 1000 maps seen");
	if (a->failures)
		distrust(a, "maps failed: the demand was above what the pool had, and is not known; run again with this size");
	a->cvm_bytes = (uint64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE) * 6 / 100;
	if (a->cvm_bytes > 1ULL << 30)
		a->cvm_bytes = 1ULL << 30;
}

static const char *hiwater_words(void)
{
	if (s.st.has_hiwater)
		return "the kernel's, since boot or its last reset";
	if (have_events_peak())
		return "followed through every map and unmap since swiotlbstat started";
	return "the highest seen at the intervals: a lower bound, this mode sees no unmaps";
}

static void advice_text(struct dms_buf *b, const struct advice *a)
{
	int i;

	dms_buf_printf(b, "\nswiotlbstat advice after %.0f s (mode %s):\n", a->seconds,
		       dms_run.bpf.mode->name);
	dms_buf_printf(b, "  swiotlb=%-20llu a fixed pool of %.2f MiB: high-water %llu slots (%.2f MiB, %s)",
		       (unsigned long long)a->fixed, mib(a->fixed), (unsigned long long)a->hiwater,
		       mib(a->hiwater), hiwater_words());
	if (a->failures)
		dms_buf_printf(b, ", raised to the largest total seen, %.2f MiB, plus the largest failed mapping, %llu bytes, as %llu maps failed",
			       mib(obs.peak_total), (unsigned long long)a->largest_failure,
			       (unsigned long long)a->failures);
	dms_buf_printf(b, "; spread over segments of 128 slots that each hold whole mappings of the largest size seen, %llu bytes (%llu slots), with a slot of alignment per mapping from a page on; + 1 segment; up to a power of two, as the kernel rounds it\n",
		       (unsigned long long)a->largest_map, (unsigned long long)blocked_slots(a->largest_map));
	if (a->dynamic) {
		dms_buf_printf(b, "  swiotlb=%-20llu dynamic pools, initial size %.2f MiB: the median use while mapping, %llu slots over %zu intervals, + 25%%\n",
			       (unsigned long long)a->initial, mib(a->initial),
			       (unsigned long long)a->median_busy, obs.nbusy);
		dms_buf_printf(b, "  swiotlb.max_mb=%-13llu dynamic pools, cap: twice the fixed pool above, or the largest total seen (%.2f MiB) if more\n",
			       (unsigned long long)a->cap_mb, mib(obs.peak_total));
		dms_buf_printf(b, "  swiotlb.pool_idle_ms=%-7ld dynamic pools, idle time before one is given back: %s (now %ld)\n",
			       a->idle_ms, obs.churn ? "doubled, as pools were added again after one was given back" :
			       "kept, as no pool was added again after one was given back", a->idle_ms_now);
	}
	for (i = 0; i < a->nuntrusted; i++)
		dms_buf_printf(b, "  not to be trusted yet: %s\n", a->untrusted[i]);
	dms_buf_printf(b, "  for comparison: the confidential-VM rule (6%% of RAM, at most 1 GiB) reserves %.1f MiB here\n",
		       a->cvm_bytes / MIB);
}

static void advice_json(struct dms_buf *b, const struct advice *a)
{
	struct dms_json j;
	int i;

	dms_json_begin(&j, b);
	dms_json_object(&j, NULL);
	dms_json_object(&j, "advice");
	dms_json_double(&j, "observed_s", a->seconds);
	dms_json_u64(&j, "swiotlb", a->fixed);
	dms_json_u64(&j, "swiotlb_bytes", a->fixed * SWIOTLBSTAT_SLOT_SIZE);
	if (a->dynamic) {
		dms_json_object(&j, "dynamic");
		dms_json_u64(&j, "swiotlb", a->initial);
		dms_json_u64(&j, "max_mb", a->cap_mb);
		dms_json_i64(&j, "pool_idle_ms", a->idle_ms);
		dms_json_end_object(&j);
	}
	dms_json_object(&j, "evidence");
	dms_json_u64(&j, "hiwater_slots", a->hiwater);
	dms_json_str(&j, "hiwater_source", hiwater_source());
	dms_json_u64(&j, "largest_map_bytes", a->largest_map);
	dms_json_u64(&j, "maps", a->maps);
	if (have_map_exit())
		dms_json_u64(&j, "map_bytes", a->map_bytes);
	if (have_bounced()) {
		dms_json_u64(&j, "bounced", s.total.bounced);
		dms_json_u64(&j, "bounced_bytes", s.total.bounced_bytes);
	}
	dms_json_u64(&j, "map_failures", a->failures);
	dms_json_u64(&j, "largest_failure_bytes", a->largest_failure);
	dms_json_u64(&j, "peak_total_slots", obs.peak_total);
	dms_json_u64(&j, "median_busy_used_slots", median_busy_used());
	dms_json_u64(&j, "busy_intervals", obs.nbusy);
	dms_json_bool(&j, "pools_added_after_removal", obs.churn);
	dms_json_end_object(&j);
	dms_json_bool(&j, "trusted", !a->nuntrusted);
	dms_json_array(&j, "untrusted_because");
	for (i = 0; i < a->nuntrusted; i++)
		dms_json_str(&j, NULL, a->untrusted[i]);
	dms_json_end_array(&j);
	dms_json_u64(&j, "cvm_rule_bytes", a->cvm_bytes);
	dms_json_end_object(&j);
	dms_json_end_object(&j);
	dms_buf_printf(b, "\n");
}

static void finished(void)
{
	struct dms_buf b = {};
	struct advice a;

	if (!advise)
		return;
	advice_compute(&a);
	if (dms_run.json)
		advice_json(&b, &a);
	else
		advice_text(&b, &a);
	if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout))
		dms_error("cannot write the advice to stdout");
	dms_buf_free(&b);
}

int main(int argc, char **argv)
{
	static const struct dms_tool tool = {
		.name = "swiotlbstat",
		.usage = usage_text,
		.short_opts = "PDLa",
		.long_opts = long_opts,
		.parse_opt = parse_opt,
		.metric_prefix = "dmascope_swiotlb_",
		.lost_names = lost_names,
		.nlost = LOST_KINDS,
		.modes = modes,
		.lines = true,
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
		.finished = finished,
	};

	return dms_main(&tool, argc, argv);
}
