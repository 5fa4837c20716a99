// SPDX-License-Identifier: GPL-2.0
/* libdmascope loop: the tool frame (see loop.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

/* the user-side error counts of the last interval, for the footer's deltas */
static uint64_t prev_user[3];

static const char shared_usage[] =
"Output:\n"
"  -b, --batch          plain lines, no redrawn screen (the default when the\n"
"                       output is not a terminal)\n"
"  -j, --json           one JSON object per interval (NDJSON) on stdout\n"
"  -p, --prometheus=ADDR:PORT\n"
"                       serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                       (\":9464\" listens on every IPv4 and IPv6 address)\n"
"  -t, --textfile=PATH  write the metrics to PATH at each interval for the\n"
"                       node_exporter textfile collector (atomic rename;\n"
"                       removed at exit)\n"
"  -q, --quiet          no table (with --prometheus or --textfile)\n"
"How to observe:\n"
"  -m, --mode=MODE      auto (default: the first that works of:%s)\n"
"  -v, --verbose        say which hook serves what, and why a mode failed;\n"
"                       -vv adds libbpf's messages\n"
"      --hooks          print the hooks, what is attached and what cannot\n"
"                       be seen, then exit\n"
"      --version        print the version and exit\n"
"  -h, --help           this help\n"
"\n"
"INTERVAL is in seconds (default 1, fractions allowed); COUNT stops after\n"
"that many intervals (default: until interrupted).\n"
"Exit status: 0 when done or interrupted (SIGINT, SIGTERM), 1 when the\n"
"kernel side cannot be set up, 2 for a bad command line.\n";

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
			dms_fail(EXIT_USAGE, "option '%s' needs an argument (see --help)", argv[optind - 1]);
		if (c == '?')
			dms_fail(EXIT_USAGE, "unknown option '%s' (see --help)", argv[optind - 1]);
		if (!parse_shared(c, optarg))
			tool->parse_opt(c, optarg);
	}
	if (optind < argc && !dms_parse_interval(argv[optind], &dms_run.interval_s))
		dms_fail(EXIT_USAGE, "the interval must be a positive number of seconds (at most a day), not '%s'", argv[optind]);
	if (optind + 1 < argc && !dms_parse_count(argv[optind + 1], &dms_run.count))
		dms_fail(EXIT_USAGE, "the count must be a positive integer, not '%s'", argv[optind + 1]);
	if (optind + 2 < argc)
		dms_fail(EXIT_USAGE, "too many arguments: '%s' (see --help)", argv[optind + 2]);
	if (!isatty(STDOUT_FILENO))
		dms_run.batch = true;
}

/* ---- health ---- */

static const char *const user_names[] = { "user_map_reads", "http", "textfile" };

static void user_errors(uint64_t v[3])
{
	v[0] = dms_run.map_read_errors;
	v[1] = dms_http_errors(dms_run.http);
	v[2] = dms_run.textfile_errors;
}

static void read_health(void)
{
	uint64_t before[DMS_LOST_MAX];
	int k;

	memcpy(before, dms_run.lost, sizeof(before));
	if (!dms_read_lost(dms_run.bpf.obj, dms_run.lost))
		dms_run.map_read_errors++;
	for (k = 0; k < DMS_LOST_MAX; k++)
		dms_run.lost_delta[k] = dms_run.lost[k] - before[k];
}

double dms_rate(uint64_t n)
{
	return dms_run.elapsed_s > 0 ? n / dms_run.elapsed_s : 0;
}

/* Only when something was lost in this interval, with its rate */
static void footer(struct dms_buf *b)
{
	uint64_t user[3];
	size_t start = b->len;
	int k;

	for (k = 0; k < tool->nlost; k++)
		if (dms_run.lost_delta[k])
			dms_buf_printf(b, "%s %llu %s (%.1f/s)", b->len == start ? "lost:" : ",",
				       (unsigned long long)dms_run.lost_delta[k],
				       tool->lost_names[k], dms_rate(dms_run.lost_delta[k]));
	user_errors(user);
	for (k = 0; k < 3; k++)
		if (user[k] != prev_user[k])
			dms_buf_printf(b, "%s %llu %s errors", b->len == start ? "lost:" : ",",
				       (unsigned long long)(user[k] - prev_user[k]), user_names[k]);
	if (b->len != start)
		dms_buf_printf(b, "\n");
}

static void json_health(struct dms_json *j)
{
	uint64_t user[3];
	int k;

	user_errors(user);
	dms_json_object(j, "lost");
	for (k = 0; k < tool->nlost; k++)
		dms_json_u64(j, tool->lost_names[k], dms_run.lost[k]);
	dms_json_u64(j, "user_map_reads", user[0]);
	dms_json_u64(j, "http_errors", user[1]);
	dms_json_u64(j, "textfile_errors", user[2]);
	dms_json_end_object(j);
	dms_json_object(j, "hooks");
	for (k = 0; k < dms_run.bpf.nhooks; k++)
		dms_json_bool(j, dms_run.bpf.hooks[k]->name, dms_run.bpf.attached[k]);
	dms_json_end_object(j);
}

static void metric_name(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s%s", tool->metric_prefix, name);
}

static void metrics_health(struct dms_prom *p)
{
	static char info[64], hooks[64], lost[64];
	struct dms_labels l = {};
	uint64_t user[3];
	int k;

	metric_name(info, sizeof(info), "info");
	metric_name(hooks, sizeof(hooks), "hook_attached");
	metric_name(lost, sizeof(lost), "lost_total");
	dms_prom_family(p, info, "gauge", "1, labelled with the way the tool observes the kernel");
	dms_label(&l, "mode", dms_run.bpf.mode->name);
	dms_label(&l, "version", DMASCOPE_VERSION);
	dms_prom_u64(p, &l, 1);
	dms_prom_family(p, hooks, "gauge", "1 for each hook attached, 0 for one that could not be");
	for (k = 0; k < dms_run.bpf.nhooks; k++) {
		struct dms_labels h = {};

		dms_label(&h, "hook", dms_run.bpf.hooks[k]->name);
		dms_prom_u64(p, &h, dms_run.bpf.attached[k]);
	}
	dms_prom_family(p, lost, "counter", "Events or reads the tool could not record, by kind");
	for (k = 0; k < tool->nlost; k++) {
		struct dms_labels h = {};

		dms_label(&h, "kind", tool->lost_names[k]);
		dms_prom_u64(p, &h, dms_run.lost[k]);
	}
	user_errors(user);
	for (k = 0; k < 3; k++) {
		struct dms_labels h = {};

		dms_label(&h, "kind", user_names[k]);
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
	if (dms_run.textfile &&
	    !dms_textfile_write(dms_run.textfile, metrics_text.data, metrics_text.len))
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

	if (dms_run.textfile && !dms_textfile_check(dms_run.textfile, err, sizeof(err)))
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
	if (dms_run.textfile)
		dms_textfile_remove(dms_run.textfile);
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
	if (tool->check)
		tool->check();
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
