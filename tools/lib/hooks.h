/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libdmascope, layer 4a: hooks.  The BPF side of a tool as user space
 * sees it: a table of hooks per mode that drives which programs load,
 * the order they attach in, --hooks and the attach metric (the attach
 * ladder); reads of per-CPU maps; the lost counters every BPF object
 * keeps (bpf/dmascope.bpf.h).  Uses base.h and libbpf.
 */
#ifndef DMASCOPE_HOOKS_H
#define DMASCOPE_HOOKS_H

#include <bpf/libbpf.h>

#include "base.h"

#define DMS_HOOK_MAX_PROGS	4
#define DMS_MAX_HOOKS		32
#define DMS_LOST_MAX		16	/* entries of the dms_lost map (dmascope.bpf.h) */
#define DMS_MODE_TABLES		3
#define DMS_MODE_NEEDS		2

/*
 * One hook: the BPF programs that serve one set of metrics together,
 * attached in the order given (fexit before fentry, so that no call is
 * seen starting without being seen ending).
 */
struct dms_hook {
	const char *name;			/* as --hooks shows it */
	const char *progs[DMS_HOOK_MAX_PROGS];	/* program names in the object */
	const char *serves;			/* the metrics it serves */
	unsigned int flags;
};

#define DMS_HOOK_OPTIONAL	1	/* the mode works without it, minus what it serves */
#define DMS_HOOK_RUN		2	/* loaded, never attached: run by user space */
/*
 * Serves what the hook before it in the table serves, where that one
 * cannot attach (say fexit on a function with more arguments than the
 * kernel's trampolines take); attached only then.
 */
#define DMS_HOOK_INSTEAD	4
/*
 * What only some outputs show: a DETAIL hook is attached when the tool's
 * output needs its numbers, a LIGHT hook (a cheaper one serving part of
 * them) when it does not (struct dms_ladder's light).
 */
#define DMS_HOOK_DETAIL		8
#define DMS_HOOK_LIGHT		16
/*
 * Runs on every map or unmap (or bounce): its cost is paid per I/O, and
 * --hooks says so.  The others run on rare events or once an interval.
 */
#define DMS_HOOK_PER_IO		32

/*
 * One way of observing, best first in a tool's table.  "auto" tries the
 * modes in order (the ladder); the first that loads and attaches wins.
 */
struct dms_mode {
	const char *name;			/* for -m and the metrics */
	const char *what;			/* one line for --hooks */
	/* tables of hooks, each ending with a hook without name: modes share some */
	const struct dms_hook *hooks[DMS_MODE_TABLES];
	const char *const *blind;		/* "what: why" this mode cannot see; NULL-ended */
	/* why the mode cannot work on this kernel (no need to try), or NULL */
	const char *(*problem)(void);
	/*
	 * What the kernel's BTF (vmlinux or a module's) must have, such as
	 * its trace events' typedefs, and why the mode does not apply when
	 * one is missing
	 */
	struct dms_btf_need {
		const char *name;
		int kind;			/* BTF_KIND_FUNC, ... */
	} needs[DMS_MODE_NEEDS];
	const char *missing;
};

/* What the ladder settled on */
struct dms_attached {
	const struct dms_mode *mode;
	struct bpf_object *obj;
	const struct dms_hook *hooks[DMS_MAX_HOOKS];	/* the mode's, then the common */
	bool attached[DMS_MAX_HOOKS];
	bool done[DMS_MAX_HOOKS];			/* detached by dms_hook_done() */
	bool unneeded[DMS_MAX_HOOKS];			/* not for this output */
	int nhooks;
	struct bpf_link *links[DMS_MAX_HOOKS][DMS_HOOK_MAX_PROGS];
};

struct dms_ladder {
	const struct dms_mode *modes;		/* ends with a mode without name */
	const struct dms_hook *common;		/* hooks of every mode, or NULL */
	const char *want;			/* -m: a mode name, or "auto" */
	/* the output needs no DETAIL hook: attach the LIGHT ones instead */
	bool light;
	/* open the object for a mode, set its read-only data; NULL on error */
	struct bpf_object *(*open)(const struct dms_mode *mode);
	/*
	 * load it: the skeleton's X__load(), so that its .bss and .data
	 * pointers see the kernel's maps afterwards (a negative errno)
	 */
	int (*load)(void);
	void (*close)(void);			/* destroy what open() made */
};

/*
 * Load and attach the first mode that works (only the wanted one unless
 * it is "auto").  A mode that fails is reported in one line saying what
 * the next one cannot see.  Ends the tool (status 1) when none works.
 */
void dms_ladder_run(const struct dms_ladder *l, struct dms_attached *a);
void dms_ladder_detach(struct dms_attached *a);
/*
 * Detach the hook that runs this program: it has found what it looks for
 * once (an address, say) and would only cost time from now on.
 */
void dms_hook_done(struct dms_attached *a, const char *prog);
/*
 * The modes (why each does or does not serve here), the one in use, its
 * hooks and what it cannot see, as --hooks and -v show it
 */
void dms_ladder_print(FILE *f, const struct dms_attached *a);
/* The modes where the machine cannot be served at all (machine says why) */
void dms_modes_print(FILE *f, const struct dms_mode *modes, const char *machine);

/* Whether the kernel's BTF, vmlinux or a module's, has this name and kind */
bool dms_btf_has(const char *name, int kind);

/* libbpf's messages: warnings with -v, everything with -vv */
void dms_libbpf_messages(void);

/* ---- reading maps ---- */

int dms_ncpus(void);	/* possible CPUs, as per-CPU maps count them */
/*
 * Call fn with each key and value of a map.  For per-CPU maps, value is
 * the values of all possible CPUs, dms_percpu_stride(value size) bytes
 * apart.  Returns the number of elements that could not be read.
 */
uint64_t dms_map_for_each(const struct bpf_map *map,
			  void (*fn)(const void *key, const void *value, void *ctx),
			  void *ctx);
size_t dms_percpu_stride(size_t value_size);
/*
 * Fold n u64 counters of every CPU of one per-CPU value set into out:
 * sums, but maxima for the fields in max_of (dms_fold_u64s())
 */
void dms_percpu_fold(const void *values, size_t value_size, uint64_t *out, size_t n,
		     uint64_t max_of);
/*
 * Delete the elements of a (not per-CPU) map that doomed() picks.
 * Returns the number of elements that could not be read.
 */
uint64_t dms_map_delete_if(const struct bpf_map *map,
			   bool (*doomed)(const void *key, const void *value, void *ctx),
			   void *ctx);
/* The lost counters of the object (cumulative, summed over CPUs); false if unreadable */
bool dms_read_lost(struct bpf_object *obj, uint64_t lost[DMS_LOST_MAX]);

#endif /* DMASCOPE_HOOKS_H */
