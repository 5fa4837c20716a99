// SPDX-License-Identifier: GPL-2.0
/*
 * libdmascope hooks: the attach ladder and map reads.  Whether a mode
 * works is found out the way libbpf-tools does it, by trying: its
 * programs are loaded and attached for real, and libbpf finds their
 * targets in vmlinux or in a module's BTF.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "hooks.h"

#define REASON_MAX 256
#define MAX_MODES 8

/* What the ladder found of each mode, for --hooks: "" if not tried */
static struct {
	const struct dms_mode *modes;
	const char *want;
	char why[MAX_MODES][REASON_MAX];
} tried;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if ((level == LIBBPF_WARN && dms_verbosity >= 1) ||
	    (level == LIBBPF_INFO && dms_verbosity >= 2) || dms_verbosity >= 3)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

void dms_libbpf_messages(void)
{
	libbpf_set_print(print_libbpf);
}

/* ---- BTF ---- */

static bool split_btf_has(const char *module, struct btf *vmlinux, const char *name,
			  int kind)
{
	struct btf *btf = btf__load_module_btf(module, vmlinux);
	bool found;

	if (!btf)
		return false;
	found = btf__find_by_name_kind(btf, name, kind) > 0;
	btf__free(btf);
	return found;
}

/* Parsed once: the ladder asks many questions */
static struct btf *vmlinux_btf(void)
{
	static struct btf *btf;

	if (!btf)
		btf = btf__load_vmlinux_btf();
	return btf;
}

bool dms_btf_has(const char *name, int kind)
{
	struct btf *vmlinux = vmlinux_btf();
	struct dirent *e;
	bool found;
	DIR *dir;

	if (!vmlinux)
		return false;
	found = btf__find_by_name_kind(vmlinux, name, kind) > 0;
	dir = found ? NULL : opendir("/sys/kernel/btf");
	while (dir && !found && (e = readdir(dir)))
		if (e->d_name[0] != '.' && strcmp(e->d_name, "vmlinux"))
			found = split_btf_has(e->d_name, vmlinux, name, kind);
	if (dir)
		closedir(dir);
	return found;
}

/* ---- the ladder ---- */

static void add_hooks(struct dms_attached *a, const struct dms_hook *h)
{
	for (; h && h->name; h++) {
		if (a->nhooks == DMS_MAX_HOOKS)
			dms_fail(EXIT_RUNTIME, "bug: more than %d hooks", DMS_MAX_HOOKS);
		a->hooks[a->nhooks++] = h;
	}
}

static bool hook_has(const struct dms_hook *h, const char *prog)
{
	int i;

	for (i = 0; i < DMS_HOOK_MAX_PROGS && h->progs[i]; i++)
		if (!strcmp(h->progs[i], prog))
			return true;
	return false;
}

/*
 * Whether the kernel has what a program attaches to, the way
 * libbpf-tools probes before loading: a function for fentry/fexit, a
 * trace event's BTF typedef for tp_btf.  Other kinds are assumed present.
 */
static bool target_present(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog), *target = strchr(sec, '/');
	char typedef_name[128];

	if (!target)
		return true;
	target++;
	if (!strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6))
		return dms_btf_has(target, BTF_KIND_FUNC);
	if (!strncmp(sec, "tp_btf/", 7)) {
		snprintf(typedef_name, sizeof(typedef_name), "btf_trace_%s", target);
		return dms_btf_has(typedef_name, BTF_KIND_TYPEDEF);
	}
	return true;
}

/* An optional hook whose targets are all in this kernel */
static bool hook_present(struct bpf_object *obj, const struct dms_hook *h)
{
	int i;

	for (i = 0; i < DMS_HOOK_MAX_PROGS && h->progs[i]; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(obj, h->progs[i]);

		if (!prog || !target_present(prog))
			return false;
	}
	return true;
}

/*
 * Load only the programs of this mode's hooks, and of its optional hooks
 * only those the kernel has: one missing target would fail the load.
 */
static void select_programs(struct dms_attached *a, bool light, bool *skip)
{
	unsigned int not_now = light ? DMS_HOOK_DETAIL : DMS_HOOK_LIGHT;
	struct bpf_program *prog;
	int i;

	for (i = 0; i < a->nhooks; i++) {
		a->unneeded[i] = a->hooks[i]->flags & not_now;
		skip[i] = a->unneeded[i] || ((a->hooks[i]->flags & DMS_HOOK_OPTIONAL) &&
					     !hook_present(a->obj, a->hooks[i]));
		if (a->unneeded[i])
			dms_info("%s: not needed by this output", a->hooks[i]->name);
		else if (skip[i])
			dms_info("%s: not in this kernel; not counted: %s", a->hooks[i]->name,
				 a->hooks[i]->serves);
	}
	bpf_object__for_each_program(prog, a->obj) {
		bool load = false;

		for (i = 0; i < a->nhooks && !load; i++)
			load = !skip[i] && hook_has(a->hooks[i], bpf_program__name(prog));
		bpf_program__set_autoload(prog, load);
		bpf_program__set_autoattach(prog, false);
	}
}

/* In the reverse order of attach_hook() */
static void detach_hook(struct dms_attached *a, int i)
{
	int p;

	for (p = DMS_HOOK_MAX_PROGS - 1; p >= 0; p--) {
		bpf_link__destroy(a->links[i][p]);
		a->links[i][p] = NULL;
	}
}

/* All programs of hook i, or none */
static bool attach_hook(struct dms_attached *a, int i)
{
	const struct dms_hook *h = a->hooks[i];
	int p;

	for (p = 0; p < DMS_HOOK_MAX_PROGS && h->progs[p]; p++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(a->obj, h->progs[p]);

		a->links[i][p] = prog ? bpf_program__attach(prog) : NULL;
		if (!a->links[i][p]) {
			detach_hook(a, i);
			return false;
		}
	}
	return true;
}

/*
 * Why an attach failed.  The kernel's ENOTSUPP (524) has no text in libc:
 * it is what a trampoline says of a function with too many arguments.
 */
static const char *attach_error(int err)
{
	return err == 524 ? "not supported by this kernel (ENOTSUPP)" : strerror(err);
}

/* What the mode cannot see, as one line */
static void blind_list(const struct dms_mode *m, char *buf, size_t len)
{
	const char *const *b;
	size_t used = 0;

	buf[0] = '\0';
	for (b = m->blind; b && *b && used < len; b++) {
		size_t what = strcspn(*b, ":");

		used += snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "", (int)what, *b);
	}
	if (!buf[0])
		snprintf(buf, len, "nothing");
}

/* Why the mode cannot work on this kernel, found without trying; or NULL */
static const char *mode_problem(const struct dms_mode *m)
{
	const char *problem = m->problem ? m->problem() : NULL;
	int i;

	for (i = 0; !problem && i < DMS_MODE_NEEDS && m->needs[i].name; i++)
		if (!dms_btf_has(m->needs[i].name, m->needs[i].kind))
			problem = m->missing;
	return problem;
}

/* Try one mode; on failure, say why in reason and leave nothing behind */
static bool try_mode(const struct dms_ladder *l, const struct dms_mode *m,
		     struct dms_attached *a, char *reason, size_t len)
{
	const char *problem = mode_problem(m), *why;
	bool skip[DMS_MAX_HOOKS];
	int i, err;

	memset(a, 0, sizeof(*a));
	if (problem) {
		snprintf(reason, len, "%s", problem);
		return false;
	}
	a->mode = m;
	for (i = 0; i < DMS_MODE_TABLES; i++)
		add_hooks(a, m->hooks[i]);
	add_hooks(a, l->common);
	dms_info("mode %s: opening", m->name);
	a->obj = l->open(m);
	if (!a->obj) {
		snprintf(reason, len, "cannot open the BPF object: %s", strerror(errno));
		return false;
	}
	select_programs(a, l->light, skip);
	dms_info("mode %s: loading", m->name);
	err = l->load();
	if (err) {
		snprintf(reason, len, "cannot load its BPF programs: %s%s", strerror(-err),
			 dms_verbosity ? "" : " (-v shows the verifier's log)");
		l->close();
		return false;
	}
	for (i = 0; i < a->nhooks; i++) {
		const struct dms_hook *h = a->hooks[i];
		bool has_stand_in = i + 1 < a->nhooks && (a->hooks[i + 1]->flags & DMS_HOOK_INSTEAD);

		if (skip[i] || ((h->flags & DMS_HOOK_INSTEAD) && a->attached[i - 1]))
			continue;
		if (h->flags & DMS_HOOK_RUN) {
			a->attached[i] = true;
			continue;
		}
		a->attached[i] = attach_hook(a, i);
		if (a->attached[i])
			continue;
		why = attach_error(errno);
		if (has_stand_in) {
			dms_info("cannot attach %s (%s): trying %s instead", h->name, why,
				 a->hooks[i + 1]->name);
			continue;
		}
		if (h->flags & DMS_HOOK_OPTIONAL) {
			dms_warn("cannot attach %s (%s): not counted: %s", h->name, why, h->serves);
			continue;
		}
		snprintf(reason, len, "cannot attach %s: %s", h->name, why);
		dms_ladder_detach(a);
		l->close();
		return false;
	}
	return true;
}

void dms_ladder_run(const struct dms_ladder *l, struct dms_attached *a)
{
	char reason[REASON_MAX], why[REASON_MAX], blind[REASON_MAX];
	const struct dms_mode *m, *failed = NULL;
	bool any = !strcmp(l->want, "auto");
	int k;

	tried.modes = l->modes;
	tried.want = l->want;
	for (m = l->modes, k = 0; m->name; m++, k++) {
		if (!any && strcmp(m->name, l->want))
			continue;
		if (try_mode(l, m, a, reason, sizeof(reason))) {
			if (failed) {
				blind_list(m, blind, sizeof(blind));
				dms_warn("mode %s failed (%s); using %s, which cannot see: %s",
					 failed->name, why, m->name, blind);
			}
			dms_info("mode %s: attached", m->name);
			return;
		}
		if (k < MAX_MODES)
			snprintf(tried.why[k], REASON_MAX, "%s", reason);
		if (!any)
			dms_fail(EXIT_RUNTIME, "mode %s: %s", m->name, reason);
		dms_info("mode %s: %s", m->name, reason);
		/* a mode this kernel lacks is no failure worth a warning */
		if (a->mode && !failed) {
			failed = m;
			snprintf(why, sizeof(why), "%s", reason);
		}
	}
	dms_fail(EXIT_RUNTIME, "no mode works on this kernel; the last: %s", reason);
}

void dms_ladder_detach(struct dms_attached *a)
{
	int i;

	for (i = a->nhooks - 1; i >= 0; i--)
		detach_hook(a, i);
}

void dms_hook_done(struct dms_attached *a, const char *prog)
{
	int i, p;

	for (i = 0; i < a->nhooks; i++)
		for (p = 0; p < DMS_HOOK_MAX_PROGS && a->hooks[i]->progs[p]; p++)
			if (!strcmp(a->hooks[i]->progs[p], prog) && a->attached[i] && !a->done[i]) {
				detach_hook(a, i);
				a->done[i] = true;
				dms_info("%s: done, detached", a->hooks[i]->name);
			}
}

static const char *hook_state(const struct dms_attached *a, int i)
{
	bool stand_in = i + 1 < a->nhooks && (a->hooks[i + 1]->flags & DMS_HOOK_INSTEAD);

	if (a->done[i])
		return " (done: detached)";
	if (a->unneeded[i])
		return " (not needed by this output)";
	if (a->attached[i])
		return "";
	if (stand_in && a->attached[i + 1])
		return " (cannot attach: the next serves instead)";
	if ((a->hooks[i]->flags & DMS_HOOK_INSTEAD) && a->attached[i - 1])
		return " (not needed)";
	return " (NOT ATTACHED)";
}

/* One line per mode: why it does or does not serve here */
static void print_modes(FILE *f, const struct dms_mode *modes, const struct dms_mode *used,
			const char *machine)
{
	const struct dms_mode *m;
	const char *problem;
	int k;

	fprintf(f, "modes, best first:\n");
	for (m = modes, k = 0; m->name; m++, k++) {
		problem = mode_problem(m);
		fprintf(f, "  %-12s ", m->name);
		if (m == used)
			fprintf(f, "in use\n");
		else if (k < MAX_MODES && tried.why[k][0])
			fprintf(f, "does not work: %s\n", tried.why[k]);
		else if (problem)
			fprintf(f, "does not apply: %s\n", problem);
		else if (machine)
			fprintf(f, "would be tried\n");
		else if (tried.want && strcmp(tried.want, "auto") && strcmp(tried.want, m->name))
			fprintf(f, "not tried: -m %s\n", tried.want);
		else
			fprintf(f, "applies, not tried: %s comes first\n", used->name);
	}
	if (machine)
		fprintf(f, "this machine: %s\n", machine);
}

void dms_modes_print(FILE *f, const struct dms_mode *modes, const char *machine)
{
	print_modes(f, modes, NULL, machine);
}

void dms_ladder_print(FILE *f, const struct dms_attached *a)
{
	const struct dms_mode *m = a->mode;
	const char *const *b;
	int i;

	if (tried.modes)
		print_modes(f, tried.modes, m, NULL);
	fprintf(f, "mode: %s: %s\n", m->name, m->what);
	for (i = 0; i < a->nhooks; i++)
		fprintf(f, "  %-45s %s%s%s\n", a->hooks[i]->name, a->hooks[i]->serves,
			a->hooks[i]->flags & DMS_HOOK_PER_IO ? " [runs per I/O]" : "",
			hook_state(a, i));
	fprintf(f, "unavailable:\n");
	for (b = m->blind; b && *b; b++)
		fprintf(f, "  %s\n", *b);
	if (!m->blind || !*m->blind)
		fprintf(f, "  (none)\n");
}

/* ---- maps ---- */

int dms_ncpus(void)
{
	static int n;

	if (!n) {
		n = libbpf_num_possible_cpus();
		if (n <= 0)
			dms_fail(EXIT_RUNTIME, "cannot count the possible CPUs: %s", strerror(-n));
	}
	return n;
}

size_t dms_percpu_stride(size_t value_size)
{
	return (value_size + 7) & ~(size_t)7;
}

#define KEY_MAX 64

static bool percpu_map(const struct bpf_map *map)
{
	switch (bpf_map__type(map)) {
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
		return true;
	default:
		return false;
	}
}

uint64_t dms_map_for_each(const struct bpf_map *map,
			  void (*fn)(const void *key, const void *value, void *ctx),
			  void *ctx)
{
	int fd = bpf_map__fd(map);
	size_t key_size = bpf_map__key_size(map), size = bpf_map__value_size(map);
	char key[KEY_MAX], next[KEY_MAX];
	uint64_t errors = 0;
	bool first = true;
	void *values;

	if (key_size > KEY_MAX)
		dms_fail(EXIT_RUNTIME, "bug: map keys of %zu bytes", key_size);
	if (percpu_map(map))
		size = dms_percpu_stride(size) * dms_ncpus();
	values = dms_alloc(1, size);
	while (!bpf_map_get_next_key(fd, first ? NULL : key, next)) {
		memcpy(key, next, key_size);
		first = false;
		if (bpf_map_lookup_elem(fd, key, values)) {
			errors++;
			continue;
		}
		fn(key, values, ctx);
	}
	free(values);
	return errors;
}

void dms_percpu_fold(const void *values, size_t value_size, uint64_t *out, size_t n,
		     uint64_t max_of)
{
	size_t stride = dms_percpu_stride(value_size);
	int cpu;

	for (cpu = 0; cpu < dms_ncpus(); cpu++)
		dms_fold_u64s(out, (const void *)((const char *)values + cpu * stride), n, max_of);
}

struct doomed_keys {
	bool (*doomed)(const void *key, const void *value, void *ctx);
	void *ctx;
	size_t key_size;
	char *keys;
	size_t n, cap;
};

static void note_doomed(const void *key, const void *value, void *ctx)
{
	struct doomed_keys *d = ctx;

	if (!d->doomed(key, value, d->ctx))
		return;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->keys = dms_realloc(d->keys, d->cap, d->key_size);
	}
	memcpy(d->keys + d->n++ * d->key_size, key, d->key_size);
}

/* Keys first, deletes after: a delete during the walk would restart it */
uint64_t dms_map_delete_if(const struct bpf_map *map,
			   bool (*doomed)(const void *key, const void *value, void *ctx),
			   void *ctx)
{
	size_t key_size = bpf_map__key_size(map);
	struct doomed_keys d = { .doomed = doomed, .ctx = ctx, .key_size = key_size };
	uint64_t errors = dms_map_for_each(map, note_doomed, &d);
	size_t i;

	for (i = 0; i < d.n; i++)
		bpf_map_delete_elem(bpf_map__fd(map), d.keys + i * key_size);
	free(d.keys);
	return errors;
}

bool dms_read_lost(struct bpf_object *obj, uint64_t lost[DMS_LOST_MAX])
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "dms_lost");
	uint64_t *values = dms_alloc(dms_ncpus(), sizeof(uint64_t));
	bool ok = map != NULL;
	uint32_t k;

	for (k = 0; ok && k < DMS_LOST_MAX; k++) {
		lost[k] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(map), &k, values)) {
			ok = false;
			break;
		}
		dms_percpu_fold(values, sizeof(uint64_t), &lost[k], 1, 0);
	}
	free(values);
	return ok;
}
