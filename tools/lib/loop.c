// SPDX-License-Identifier: GPL-2.0
/* libdmascope loop: the tool frame (see loop.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "loop.h"

#ifndef DMASCOPE_VERSION
#define DMASCOPE_VERSION "unknown"
#endif

#define MAX_WATCHED	8
#define MAX_OPTS	64
#define POLL_MAX	(1 + MAX_WATCHED + DMS_HTTP_POLLFDS)
#define DEFAULT_INTERVAL_S 1.0

struct dms_run dms_run = { .interval_s = DEFAULT_INTERVAL_S, .mode_name = "auto" };

static const struct dms_tool *tool;
static struct dms_buf out, metrics_text;
static bool stdout_closed;

static struct watched {
	int fd;
	void (*fn)(void *ctx);
	void *ctx;
} watched[MAX_WATCHED];
static int nwatched;

/*
 * What went wrong on the user side: the kind as metrics and JSON name it,
 * and the footer's words
 */
#define USER_KINDS 4
static const struct {
	const char *kind, *json, *words;
} user_kinds[USER_KINDS] = {
	{ "user_map_reads", "user_map_reads", "failed map reads" },
	{ "http", "http_errors", "HTTP errors" },
	{ "textfile", "textfile_errors", "textfile errors" },
	{ "counter_resets", "counter_resets", "counters that went backwards" },
};

/* the user-side error counts of the last interval, for the footer's deltas */
static uint64_t prev_user[USER_KINDS];

static const char shared_usage[] =
"Output:\n"
"  -b, --batch          plain lines, no redrawn screen (the default when the\n"
"                       output is not a terminal)\n"
"  -j, --json           one JSON object per interval (NDJSON) on stdout\n"
"  -p, --prometheus=ADDR:PORT\n"
"                       serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                       (\":9464\" listens on every IPv4 and IPv6 address)\n"
"  -t, --textfile=PATH  write the metrics to PATH, a *.prom file, at each\n"
"                       interval for the node_exporter textfile collector\n"
"                       (atomic rename; one writer; removed at exit)\n"
"  -q, --quiet          no table (with --prometheus or --textfile)\n"
"How to observe:\n"
"  -m, --mode=MODE      auto (default: the first that works of:%s)\n"
"  -v, --verbose        say which hook serves what, and why a mode failed;\n"
"                       -vv adds libbpf's messages\n"
"      --hooks          print the modes and why each serves here or not,\n"
"                       the hooks, what is attached and what cannot be\n"
"                       seen, then exit\n"
"      --version        print the version and exit\n"
"  -h, --help           this help\n"
"\n"
"INTERVAL is in seconds (default 1, at least 0.1, fractions allowed);\n"
"COUNT stops after that many intervals (default: until interrupted).\n"
"Exit status: 0 when done or stopped (SIGINT, SIGTERM, SIGHUP), 1 when the\n"
"kernel side cannot be set up, 2 for a bad command line.  However it\n"
"stops, the tool undoes what it changed in the kernel and removes its\n"
"textfile.\n";

enum { OPT_HOOKS = 0x100, OPT_VERSION };

static const struct option shared_opts[] = {
	{ "batch", no_argument, NULL, 'b' },
	{ "json", no_argument, NULL, 'j' },
	{ "prometheus", required_argument, NULL, 'p' },
	{ "textfile", required_argument, NULL, 't' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "mode", required_argument, NULL, 'm' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "hooks", no_argument, NULL, OPT_HOOKS },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, 'h' },
};

#define NSHARED (int)(sizeof(shared_opts) / sizeof(shared_opts[0]))

static void __attribute__((noreturn)) usage(void)
{
	const struct dms_mode *m;
	char modes[256] = "";
	size_t used = 0;

	for (m = tool->modes; m->name && used < sizeof(modes); m++)
		used += snprintf(modes + used, sizeof(modes) - used, " %s", m->name);
	fputs(tool->usage, stdout);
	printf(shared_usage, modes);
	exit(0);
}

static void parse_mode(const char *arg)
{
	const struct dms_mode *m;

	if (!strcmp(arg, "auto")) {
		dms_run.mode_name = arg;
		return;
	}
	for (m = tool->modes; m->name; m++)
		if (!strcmp(arg, m->name)) {
			dms_run.mode_name = arg;
			return;
		}
	dms_fail(EXIT_USAGE, "unknown mode '%s' (see --help)", arg);
}

static bool parse_shared(int c, const char *arg)
{
	switch (c) {
	case 'b': dms_run.batch = true; break;
	case 'j': dms_run.json = true; break;
	case 'p':
		if (!dms_parse_listen(arg, dms_run.listen_host, sizeof(dms_run.listen_host),
				      &dms_run.listen_port))
			dms_fail(EXIT_USAGE, "bad --prometheus address '%s' (expected ADDR:PORT or :PORT)", arg);
		break;
	case 't': dms_run.textfile = arg; break;
	case 'q': dms_run.quiet = true; break;
	case 'm': parse_mode(arg); break;
	case 'v': dms_verbosity++; break;
	case OPT_HOOKS: dms_run.hooks_only = true; break;
	case OPT_VERSION:
		printf("%s (dmascope) %s\n", tool->name, DMASCOPE_VERSION);
		exit(0);
	case 'h': usage();
	default: return false;
	}
	return true;
}

/*
 * The option getopt() stopped at.  In a group such as "-bZ" it is the
 * character (optopt), not the word argv[optind - 1]; a long option has
 * no character.
 */
static const char *option_name(char **argv, int opt)
{
	static char name[3];
	const char *word = argv[optind - 1];

	if (opt > 0 && opt < 0x100 && strncmp(word, "--", 2)) {
		snprintf(name, sizeof(name), "-%c", opt);
		return name;
	}
	return word;
}

/* Options that cannot work together, refused alike in every tool */
static void refuse_conflicts(void)
{
	bool sink = dms_run.listen_port || dms_run.textfile;

	if (dms_run.hooks_only)
		return;
	if (dms_run.quiet && dms_run.json)
		dms_fail(EXIT_USAGE, "--quiet and --json cannot be combined");
	if (dms_run.quiet && !sink)
		dms_fail(EXIT_USAGE, "--quiet needs --prometheus or --textfile (it would show nothing)");
}

static void parse_options(int argc, char **argv)
{
	struct option longopts[MAX_OPTS] = {};
	char shortopts[128];
	int n = 0, c;

	if (tool->default_mode)
		dms_run.mode_name = tool->default_mode;
	for (c = 0; tool->long_opts && tool->long_opts[c].name; c++)
		longopts[n++] = tool->long_opts[c];
	if (n + NSHARED >= MAX_OPTS)
		dms_fail(EXIT_RUNTIME, "bug: too many options");
	memcpy(longopts + n, shared_opts, sizeof(shared_opts));
	snprintf(shortopts, sizeof(shortopts), ":%sbjp:t:qm:vh",
		 tool->short_opts ? tool->short_opts : "");
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == ':')
			dms_fail(EXIT_USAGE, "option '%s' needs an argument (see --help)",
				 option_name(argv, optopt));
		if (c == '?')
			dms_fail(EXIT_USAGE, "unknown option '%s' (see --help)", option_name(argv, optopt));
		if (!parse_shared(c, optarg))
			tool->parse_opt(c, optarg);
	}
	if (optind < argc && !dms_parse_interval(argv[optind], &dms_run.interval_s))
		dms_fail(EXIT_USAGE, "the interval must be a number of seconds from %.1f to %d (such as 1 or 0.5), not '%s'",
			 MIN_INTERVAL_S, MAX_INTERVAL_S, argv[optind]);
	if (optind + 1 < argc && !dms_parse_count(argv[optind + 1], &dms_run.count))
		dms_fail(EXIT_USAGE, "the count must be a positive integer, not '%s'", argv[optind + 1]);
	if (optind + 2 < argc)
		dms_fail(EXIT_USAGE, "too many arguments: '%s' (see --help)", argv[optind + 2]);
	refuse_conflicts();
	if (!isatty(STDOUT_FILENO))
		dms_run.batch = true;
}

/* ---- health ---- */

static void user_errors(uint64_t v[USER_KINDS])
{
	v[0] = dms_run.map_read_errors;
	v[1] = dms_http_errors(dms_run.http);
	v[2] = dms_run.textfile_errors;
	v[3] = dms_run.counter_resets;
}

static void read_health(void)
{
	uint64_t before[DMS_LOST_MAX];

	memcpy(before, dms_run.lost, sizeof(before));
	if (!dms_read_lost(dms_run.bpf.obj, dms_run.lost)) {
		/* a failed read is no counter going backwards */
		memcpy(dms_run.lost, before, sizeof(before));
		dms_run.map_read_errors++;
	}
	dms_sub_u64s(dms_run.lost_delta, dms_run.lost, before, DMS_LOST_MAX);
}

uint64_t dms_delta(uint64_t now, uint64_t before)
{
	if (now >= before)
		return now - before;
	dms_run.counter_resets++;
	return 0;
}

void dms_sub_u64s(uint64_t *out, const uint64_t *now, const uint64_t *before, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = dms_delta(now[i], before[i]);
}

double dms_rate(uint64_t n)
{
	return dms_run.elapsed_s > 0 ? n / dms_run.elapsed_s : 0;
}

void dms_time_of_day(char *buf, size_t len)
{
	time_t now = dms_run.wall_ns / NSEC_PER_SEC;

	strftime(buf, len, "%H:%M:%S", localtime(&now));
}

void dms_table_title(struct dms_buf *b, const char *what)
{
	char when[16];

	dms_time_of_day(when, sizeof(when));
	dms_buf_printf(b, "%s %s  mode %s  %s%sinterval %.2fs\n", tool->name, when,
		       dms_run.bpf.mode->name, what ? what : "", what ? "  " : "",
		       dms_run.elapsed_s);
}

/* Only when something was lost in this interval, with its rate */
static void footer(struct dms_buf *b)
{
	uint64_t user[USER_KINDS];
	size_t start = b->len;
	int k;

	for (k = 0; k < tool->nlost; k++)
		if (dms_run.lost_delta[k])
			dms_buf_printf(b, "%s %llu %s (%.1f/s)", b->len == start ? "lost:" : ",",
				       (unsigned long long)dms_run.lost_delta[k],
				       tool->lost_names[k], dms_rate(dms_run.lost_delta[k]));
	user_errors(user);
	for (k = 0; k < USER_KINDS; k++)
		if (user[k] != prev_user[k])
			dms_buf_printf(b, "%s %llu %s", b->len == start ? "lost:" : ",",
				       (unsigned long long)(user[k] - prev_user[k]), user_kinds[k].words);
	if (b->len != start)
		dms_buf_printf(b, "\n");
}

/* A hook detached after it did its work is attached no more */
static bool hook_attached_now(int k)
{
	return dms_run.bpf.attached[k] && !dms_run.bpf.done[k];
}

static void json_health(struct dms_json *j)
{
	uint64_t user[USER_KINDS];
	int k;

	user_errors(user);
	dms_json_object(j, "lost");
	for (k = 0; k < tool->nlost; k++)
		dms_json_u64(j, tool->lost_names[k], dms_run.lost[k]);
	for (k = 0; k < USER_KINDS; k++)
		dms_json_u64(j, user_kinds[k].json, user[k]);
	dms_json_end_object(j);
	dms_json_object(j, "hooks");
	for (k = 0; k < dms_run.bpf.nhooks; k++)
		if (!dms_run.bpf.unneeded[k])
			dms_json_bool(j, dms_run.bpf.hooks[k]->name, hook_attached_now(k));
	dms_json_end_object(j);
	dms_json_array(j, "hooks_done");
	for (k = 0; k < dms_run.bpf.nhooks; k++)
		if (dms_run.bpf.done[k])
			dms_json_str(j, NULL, dms_run.bpf.hooks[k]->name);
	dms_json_end_array(j);
}

static void metric_name(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s%s", tool->metric_prefix, name);
}

static void metrics_health(struct dms_prom *p)
{
	static char info[64], hooks[64], done[64], lost[64];
	struct dms_labels l = {};
	uint64_t user[USER_KINDS];
	int k;

	metric_name(info, sizeof(info), "info");
	metric_name(hooks, sizeof(hooks), "hook_attached");
	metric_name(done, sizeof(done), "hook_done");
	metric_name(lost, sizeof(lost), "lost_total");
	dms_prom_family(p, info, "gauge", "1, labelled with the way the tool observes the kernel");
	dms_label(&l, "mode", dms_run.bpf.mode->name);
	dms_label(&l, "version", DMASCOPE_VERSION);
	dms_prom_u64(p, &l, 1);
	dms_prom_family(p, hooks, "gauge",
			"1 for each hook attached, 0 for one that could not be (hooks detached after their work: hook_done)");
	for (k = 0; k < dms_run.bpf.nhooks; k++) {
		struct dms_labels h = {};

		if (dms_run.bpf.done[k] || dms_run.bpf.unneeded[k])
			continue;
		dms_label(&h, "hook", dms_run.bpf.hooks[k]->name);
		dms_prom_u64(p, &h, dms_run.bpf.attached[k]);
	}
	dms_prom_family(p, done, "gauge", "1 for each hook detached after it did its work");
	for (k = 0; k < dms_run.bpf.nhooks; k++) {
		struct dms_labels h = {};

		if (!dms_run.bpf.done[k])
			continue;
		dms_label(&h, "hook", dms_run.bpf.hooks[k]->name);
		dms_prom_u64(p, &h, 1);
	}
	dms_prom_family(p, lost, "counter", "Events or reads the tool could not record, by kind");
	for (k = 0; k < tool->nlost; k++) {
		struct dms_labels h = {};

		dms_label(&h, "kind", tool->lost_names[k]);
		dms_prom_u64(p, &h, dms_run.lost[k]);
	}
	user_errors(user);
	for (k = 0; k < USER_KINDS; k++) {
		struct dms_labels h = {};

		dms_label(&h, "kind", user_kinds[k].kind);
		dms_prom_u64(p, &h, user[k]);
	}
}

/* ---- rendering ---- */

/* A closed stdout (tool | head) ends the tool. */
static void emit(void)
{
	if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout))
		stdout_closed = true;
}

static void render_metrics(void)
{
	struct dms_prom p;

	dms_buf_reset(&metrics_text);
	dms_prom_begin(&p, &metrics_text);
	tool->metrics(&p);
	metrics_health(&p);
	if (dms_run.http)
		dms_http_set_body(dms_run.http, metrics_text.data, metrics_text.len);
	/* a textfile written as the tool stops would only be removed again */
	if (dms_run.textfile && !dms_stopping() &&
	    !dms_textfile_write(metrics_text.data, metrics_text.len))
		dms_run.textfile_errors++;
}

static void render_json(void)
{
	struct dms_json j;

	dms_buf_reset(&out);
	dms_json_begin(&j, &out);
	dms_json_object(&j, NULL);
	dms_json_seconds(&j, "time", dms_run.wall_ns);
	dms_json_double(&j, "interval_s", dms_run.elapsed_s);
	dms_json_str(&j, "mode", dms_run.bpf.mode->name);
	tool->json(&j);
	json_health(&j);
	dms_json_end_object(&j);
	dms_buf_printf(&out, "\n");
	emit();
}

static void render_table(void)
{
	dms_buf_reset(&out);
	if (!dms_run.batch && !tool->lines)
		dms_buf_printf(&out, "\033[H\033[2J");
	tool->table(&out);
	footer(&out);
	if (dms_run.batch && !tool->lines)
		dms_buf_printf(&out, "\n");
	emit();
}

static void render(void)
{
	if (dms_run.listen_port || dms_run.textfile)
		render_metrics();
	if (dms_run.json)
		render_json();
	else if (!dms_run.quiet)
		render_table();
	user_errors(prev_user);
}

bool dms_mode_is(const char *name)
{
	return !strcmp(dms_run.bpf.mode->name, name);
}

bool dms_prog_attached(const char *prog)
{
	int i, p;

	for (i = 0; i < dms_run.bpf.nhooks; i++)
		for (p = 0; p < DMS_HOOK_MAX_PROGS && dms_run.bpf.hooks[i]->progs[p]; p++)
			if (!strcmp(dms_run.bpf.hooks[i]->progs[p], prog))
				return dms_run.bpf.attached[i];
	return false;
}

void dms_read_map(const struct bpf_map *map,
		  void (*fn)(const void *key, const void *value, void *ctx), void *ctx)
{
	dms_run.map_read_errors += dms_map_for_each(map, fn, ctx);
}

void dms_prune_map(const struct bpf_map *map,
		   bool (*doomed)(const void *key, const void *value, void *ctx), void *ctx)
{
	dms_run.map_read_errors += dms_map_delete_if(map, doomed, ctx);
}

void dms_run_prog(struct bpf_program *prog)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts))
		dms_run.map_read_errors++;
}

/* ---- the loop ---- */

void dms_watch_fd(int fd, void (*fn)(void *ctx), void *ctx)
{
	if (nwatched == MAX_WATCHED)
		dms_fail(EXIT_RUNTIME, "bug: more than %d watched fds", MAX_WATCHED);
	watched[nwatched++] = (struct watched){ fd, fn, ctx };
}

bool dms_wait_until(uint64_t deadline)
{
	struct pollfd fds[POLL_MAX];
	uint64_t now, next;
	int i, n, nhttp;

	while (!dms_stopping()) {
		now = dms_now_ns();
		if (now >= deadline)
			return true;
		n = 0;
		fds[n++] = (struct pollfd){ .fd = dms_signal_fd(), .events = POLLIN };
		for (i = 0; i < nwatched; i++)
			fds[n++] = (struct pollfd){ .fd = watched[i].fd, .events = POLLIN };
		nhttp = dms_run.http ? dms_http_pollfds(dms_run.http, fds + n, now) : 0;
		next = dms_run.http ? dms_http_next_ns(dms_run.http) : UINT64_MAX;
		if (next > deadline)
			next = deadline;
		if (next < now)
			next = now;
		if (poll(fds, n + nhttp, (int)((next - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC)) < 0 &&
		    errno != EINTR)
			dms_fail(EXIT_RUNTIME, "poll: %s", strerror(errno));
		for (i = 0; i < nwatched; i++)
			if (fds[1 + i].revents)
				watched[i].fn(watched[i].ctx);
		if (dms_run.http)
			dms_http_serve(dms_run.http, fds + n, nhttp, dms_now_ns());
	}
	return false;
}

static void setup_outputs(void)
{
	char err[512];

	if (dms_run.textfile && !dms_textfile_open(dms_run.textfile, err, sizeof(err)))
		dms_fail(EXIT_USAGE, "%s", err);
	if (dms_run.listen_port) {
		dms_run.http = dms_http_listen(dms_run.listen_host, dms_run.listen_port, err,
					       sizeof(err));
		if (!dms_run.http)
			dms_fail(EXIT_USAGE, "%s", err);
	}
}

static void attach(void)
{
	const struct dms_ladder ladder = {
		.modes = tool->modes, .common = tool->common, .want = dms_run.mode_name,
		.open = tool->open, .load = tool->load, .close = tool->close,
		.light = tool->light && tool->light(),
	};

	dms_libbpf_messages();
	dms_ladder_run(&ladder, &dms_run.bpf);
}

static void print_hooks(FILE *f)
{
	dms_ladder_print(f, &dms_run.bpf);
	if (tool->hooks_note)
		tool->hooks_note(f);
}

static void finish(void)
{
	dms_ladder_detach(&dms_run.bpf);
	tool->close();
	dms_http_close(dms_run.http);
	dms_textfile_close();
	dms_buf_free(&out);
	dms_buf_free(&metrics_text);
}

int dms_main(const struct dms_tool *t, int argc, char **argv)
{
	uint64_t deadline, last;
	const char *problem;
	long done = 0;
	bool go_on;

	tool = t;
	dms_prog = t->name;
	parse_options(argc, argv);
	problem = dms_privilege_problem();
	if (!problem)
		problem = dms_btf_problem();
	if (problem)
		dms_fail(EXIT_RUNTIME, "%s", problem);
	problem = tool->unserved ? tool->unserved() : NULL;
	if (problem && dms_run.hooks_only) {
		dms_modes_print(stdout, tool->modes, problem);
		return EXIT_RUNTIME;
	}
	if (problem)
		dms_fail(EXIT_RUNTIME, "%s", problem);
	dms_info("checked the machine");
	if (!dms_run.hooks_only)
		setup_outputs();
	dms_catch_signals();
	attach();
	if (dms_run.hooks_only || dms_verbosity)
		print_hooks(dms_run.hooks_only ? stdout : stderr);
	if (dms_run.hooks_only) {
		finish();
		return 0;
	}
	if (tool->started)
		tool->started();
	/* the first read only sets the baseline of the deltas */
	tool->collect();
	read_health();
	dms_info("first read");
	last = deadline = dms_now_ns();
	do {
		deadline += (uint64_t)(dms_run.interval_s * NSEC_PER_SEC);
		go_on = dms_wait_until(deadline);
		dms_run.wall_ns = dms_wall_ns();
		dms_run.elapsed_s = (dms_now_ns() - last) / (double)NSEC_PER_SEC;
		last = dms_now_ns();
		tool->collect();
		read_health();
		render();
	} while (go_on && !stdout_closed && !(dms_run.count && ++done >= dms_run.count));
	if (tool->finished && !stdout_closed)
		tool->finished();
	finish();
	return 0;
}
