/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libdmascope, layer 4b: the tool frame.  Every dmascope tool is a
 * struct dms_tool handed to dms_main(), which does everything tools
 * share: the options "[INTERVAL [COUNT]]" -b -j -p -t -q -v -m --hooks
 * --version -h; the checks for privileges and BTF; the attach ladder
 * (hooks.h); the interval loop over a set of file descriptors (signals,
 * the HTTP server, the tool's own, e.g. a ring buffer); the health
 * counters (events the BPF side lost, failed map reads, HTTP and
 * textfile errors, which hooks are attached), shown in every output;
 * and the outputs: table, JSON lines, Prometheus over HTTP or textfile.
 *
 * A tool gives
 *   - its own options (short_opts, long_opts, parse_opt) and usage text;
 *   - its modes: a table of hooks per mode, best first (hooks.h), and
 *     open()/load()/close() for its BPF object (the bpftool skeleton);
 *   - collect(): reads the maps once and fills the tool's one snapshot
 *     (the frame calls it at each interval, and once before the first
 *     to set the baseline);
 *   - renderers that read only that snapshot: table(), json(),
 *     metrics().  The frame adds the time, the mode and the health.
 *
 * A second tool, say a vmstat-like swiotlbstat with one row per
 * interval, is then about this much:
 *
 *	static const struct dms_hook tp_hooks[] = {
 *		{ "tp_btf/swiotlb_bounced", { "tp_bounced" }, "bounced bytes" },
 *		{ "syscall/snapshot", { "snapshot" }, "slots used", DMS_HOOK_RUN },
 *		{}
 *	};
 *	static const struct dms_mode modes[] = {
 *		{ "tracepoint", "swiotlb:* events", { tp_hooks }, NULL, no_events },
 *		{ "fentry", "exported functions", { fentry_hooks }, fentry_blind },
 *		{}
 *	};
 *	static struct swiotlbstat_bpf *skel;
 *	static struct snap { uint64_t used, total, bounced; } now, before;
 *
 *	static struct bpf_object *open_bpf(const struct dms_mode *m)
 *	{
 *		skel = swiotlbstat_bpf__open();
 *		return skel ? skel->obj : NULL;
 *	}
 *	static int load_bpf(void) { return swiotlbstat_bpf__load(skel); }
 *	static void close_bpf(void) { swiotlbstat_bpf__destroy(skel); }
 *	static void collect(void) { before = now; ...read skel->maps... }
 *	static void table(struct dms_buf *b)
 *	{
 *		dms_buf_printf(b, "%10llu %10llu\n", now.used, now.bounced - before.bounced);
 *	}
 *	static void json(struct dms_json *j) { dms_json_u64(j, "used", now.used); }
 *	static void metrics(struct dms_prom *p)
 *	{
 *		dms_prom_family(p, "dmascope_swiotlb_used_slots", "gauge", "Slots in use");
 *		dms_prom_u64(p, NULL, now.used);
 *	}
 *	int main(int argc, char **argv)
 *	{
 *		static const struct dms_tool tool = {
 *			.name = "swiotlbstat", .usage = usage, .metric_prefix =
 *			"dmascope_swiotlb_", .modes = modes, .open = open_bpf,
 *			.load = load_bpf, .close = close_bpf, .collect = collect, .table = table,
 *			.json = json, .metrics = metrics,
 *		};
 *		return dms_main(&tool, argc, argv);
 *	}
 *
 * and its BPF side includes bpf/dmascope.bpf.h for the lost counters and
 * the helpers every tool needs.
 */
#ifndef DMASCOPE_LOOP_H
#define DMASCOPE_LOOP_H

#include <getopt.h>

#include "hooks.h"
#include "sinks.h"
#include "text.h"

struct dms_tool {
	const char *name;		/* "iovatop" */
	/* "Usage: ..." line, what the tool does, and its own options */
	const char *usage;
	const char *short_opts;		/* its own, e.g. "cCd:" */
	const struct option *long_opts;	/* its own, ending with {} */
	/* one of its own options; ends the tool with EXIT_USAGE on bad input */
	void (*parse_opt)(int key, const char *arg);
	const char *metric_prefix;	/* "dmascope_iova_" */
	const char *const *lost_names;	/* the kinds of its dms_lost map */
	int nlost;

	const struct dms_mode *modes;	/* best first, ending with {} */
	const struct dms_hook *common;	/* hooks of every mode, or NULL */
	const char *default_mode;	/* NULL: "auto" */
	/*
	 * vmstat-like: the table of each interval is appended to the last
	 * (no screen redraw, no blank line between intervals)
	 */
	bool lines;
	struct bpf_object *(*open)(const struct dms_mode *mode);
	int (*load)(void);		/* the skeleton's X__load() */
	void (*close)(void);

	/*
	 * before the BPF side: why this machine cannot be served at all, or
	 * NULL (or no function)
	 */
	const char *(*unserved)(void);
	/* after attaching, before the first collect() (or NULL) */
	void (*started)(void);
	void (*collect)(void);
	void (*table)(struct dms_buf *out);
	void (*json)(struct dms_json *j);
	void (*metrics)(struct dms_prom *p);
	/*
	 * whether the output asked for needs none of the DETAIL hooks (a
	 * view that does not show their numbers), or NULL: it needs them
	 */
	bool (*light)(void);
	/* extra lines for --hooks and -v (or NULL) */
	void (*hooks_note)(FILE *f);
	/*
	 * after the last interval, the BPF side still loaded, when stdout is
	 * still open: a summary such as swiotlbstat's --advise (or NULL)
	 */
	void (*finished)(void);
};

/* What the frame knows; tools read it, and count their read errors in it */
struct dms_run {
	/* shared options */
	double interval_s;
	long count;
	bool batch, json, quiet, hooks_only;
	const char *mode_name;		/* -m */
	char listen_host[256];
	int listen_port;
	const char *textfile;

	struct dms_attached bpf;	/* the mode and what is attached */
	/* the interval just ended */
	uint64_t wall_ns;		/* its end, ns since the epoch */
	double elapsed_s;		/* its real length */
	uint64_t lost[DMS_LOST_MAX];	/* cumulative */
	uint64_t lost_delta[DMS_LOST_MAX];
	uint64_t map_read_errors;	/* cumulative; tools add theirs */
	uint64_t textfile_errors;
	uint64_t counter_resets;	/* deltas that would have gone negative */
	struct dms_http *http;
};

extern struct dms_run dms_run;

/* Wake the loop when fd is readable and call fn (e.g. a ring buffer) */
void dms_watch_fd(int fd, void (*fn)(void *ctx), void *ctx);
/*
 * Serve the watched fds and the HTTP server until the monotonic deadline;
 * false at once when SIGINT, SIGTERM or SIGHUP asked to stop.
 */
bool dms_wait_until(uint64_t deadline_ns);
/*
 * now - before for a counter that only grows.  One that went backwards
 * (a reset, or a read that caught CPUs at different moments) gives 0,
 * never a wrapped 1.8e19, and is counted in counter_resets; the next
 * delta starts from the new value.
 */
uint64_t dms_delta(uint64_t now, uint64_t before);
/* dms_delta() of n counters */
void dms_sub_u64s(uint64_t *out, const uint64_t *now, const uint64_t *before, size_t n);
/* Per second over the interval just ended */
double dms_rate(uint64_t n);
/* The end of the interval just ended as HH:MM:SS, local time */
void dms_time_of_day(char *buf, size_t len);
/* "tool HH:MM:SS  mode M  [what  ]interval 1.00s", the first line of a table */
void dms_table_title(struct dms_buf *b, const char *what);
/* Whether the ladder settled on this mode */
bool dms_mode_is(const char *name);
/* Whether the hook that runs this BPF program is attached */
bool dms_prog_attached(const char *prog);
/*
 * dms_map_for_each() and dms_map_delete_if() (hooks.h), the elements
 * that could not be read counted in map_read_errors
 */
void dms_read_map(const struct bpf_map *map,
		  void (*fn)(const void *key, const void *value, void *ctx), void *ctx);
void dms_prune_map(const struct bpf_map *map,
		   bool (*doomed)(const void *key, const void *value, void *ctx), void *ctx);
/* Run a syscall program (a snapshot) once; a failure counts as a failed read */
void dms_run_prog(struct bpf_program *prog);

int dms_main(const struct dms_tool *tool, int argc, char **argv);

#endif /* DMASCOPE_LOOP_H */
