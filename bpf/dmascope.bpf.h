/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every dmascope BPF object shares (include it after kernel_types.h
 * and the libbpf headers):
 *   - dms_lost, the per-CPU counters of what could not be recorded, read
 *     by the tool frame at every interval (tools/lib/hooks.h);
 *   - dms_lookup_or_init(), which counts a full map instead of hiding it;
 *   - dms_wait_begin() and dms_wait_end(), which time the wait for a
 *     contended lock the tool watches (lock:contention_begin/end);
 *   - dms_per_cpu(), the address of one CPU's copy of a per-CPU variable;
 *   - dms_rb_count() and dms_rb_depth(), bounded rbtree walks.
 * Every loop over kernel data runs under bpf_loop(): the verifier checks
 * the body once instead of every unrolled iteration (newer verifiers
 * refuse long unrolled loops: "The sequence of 8193 jumps is too complex").
 */
#ifndef DMASCOPE_BPF_H
#define DMASCOPE_BPF_H

#define DMS_LOST_MAX	16	/* as tools/lib/hooks.h */
#define EEXIST		17
#define RB_COLOR_MASK	3UL	/* the colour bits of __rb_parent_color */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DMS_LOST_MAX);
	__type(key, u32);
	__type(value, u64);
} dms_lost SEC(".maps");

static __always_inline void dms_count_lost(u32 kind)
{
	u64 *n = bpf_map_lookup_elem(&dms_lost, &kind);

	if (n)
		(*n)++;
}

/*
 * The value of key, created from init when absent.  Another CPU may
 * create it first (-EEXIST, fine); any other error is a full map,
 * counted as lost_kind.
 */
static __always_inline void *dms_lookup_or_init(void *map, const void *key,
						const void *init, u32 lost_kind)
{
	void *v = bpf_map_lookup_elem(map, key);
	long err;

	if (v)
		return v;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		dms_count_lost(lost_kind);
		return NULL;
	}
	return bpf_map_lookup_elem(map, key);
}

/*
 * The watched lock this CPU waits for.  Spinlocks are waited for with
 * preemption off, and the allocators' locks with interrupts off too, so
 * a CPU waits for one at a time; a second (an NMI) is not timed.
 */
struct dms_lock_wait {
	u64 lock;
	u64 start_ns;
	u32 depth;	/* watched waits begun and not ended */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct dms_lock_wait);
} dms_lock_wait SEC(".maps");

/* A watched lock is contended: its wait starts (a nested one is lost_kind) */
static __always_inline void dms_wait_begin(u64 lock, u32 lost_kind)
{
	u32 zero = 0;
	struct dms_lock_wait *w = bpf_map_lookup_elem(&dms_lock_wait, &zero);

	if (!w)
		return;
	if (w->depth++) {
		dms_count_lost(lost_kind);
		return;
	}
	w->lock = lock;
	w->start_ns = bpf_ktime_get_ns();
}

/*
 * A contended lock was taken: true, with the time waited, when it is the
 * watched lock this CPU began to wait for.  The end of a lock nobody
 * watches changes nothing.
 */
static __always_inline bool dms_wait_end(u64 lock, u64 *wait_ns)
{
	u32 zero = 0;
	struct dms_lock_wait *w = bpf_map_lookup_elem(&dms_lock_wait, &zero);

	if (!w || !w->depth)
		return false;
	if (w->depth > 1) {		/* the nested wait ends first */
		w->depth--;
		return false;
	}
	if (w->lock != lock)
		return false;
	w->depth = 0;
	*wait_ns = bpf_ktime_get_ns() - w->start_ns;
	return true;
}

/*
 * Per-CPU variables: a CPU's copy is at the variable's address plus the
 * CPU's entry of __per_cpu_offset[].  A syscall program finds that array
 * with dms_find_symbol() (the kernel looks it up: much quicker than
 * reading /proc/kallsyms).  It stays 0 when the kernel does not list data
 * symbols (CONFIG_KALLSYMS_ALL=n): per-CPU data is then not read, and
 * that is counted as lost_kind.
 */
__u64 dms_per_cpu_offset_addr;

/* The address of a kernel symbol, or 0 (syscall programs only) */
#define dms_find_symbol(name, addr) \
	bpf_kallsyms_lookup_name(name, sizeof(name), 0, (__u64 *)(addr))

static __always_inline u64 dms_per_cpu(u64 percpu_addr, u32 cpu, u32 lost_kind)
{
	u64 off;

	if (!dms_per_cpu_offset_addr ||
	    bpf_probe_read_kernel(&off, sizeof(off),
				  (void *)(dms_per_cpu_offset_addr + cpu * sizeof(off)))) {
		dms_count_lost(lost_kind);
		return 0;
	}
	return percpu_addr + off;
}

/*
 * Count the nodes of an rbtree in order, one elementary move per
 * bpf_loop() step: down to the leftmost node, then for each node either
 * down its right subtree's left spine or up past the parents whose right
 * child we came from.  No inner loops, so the verifier's work does not
 * depend on the tree's depth.
 */
struct dms_rb_walk {
	struct rb_node *node;
	u64 count;
	u8 phase;
};

enum { DMS_RB_LEFTMOST, DMS_RB_VISIT, DMS_RB_UP, DMS_RB_DONE };

/*
 * The 6.1 verifier checks a bpf_loop() callback once, with the state at
 * the call, and hard-wires the branches that state does not take: were
 * the first phase a constant it knows, the walk would run down the left
 * spine forever.  A writable global is opaque to it.
 */
__u8 dms_rb_first_phase = DMS_RB_LEFTMOST;

static __always_inline struct rb_node *dms_rb_parent(struct rb_node *node)
{
	return (struct rb_node *)(BPF_CORE_READ(node, __rb_parent_color) & ~RB_COLOR_MASK);
}

static long __attribute__((unused)) dms_rb_step(u32 index, struct dms_rb_walk *w)
{
	/* a local: CO-RE must not relocate the access to w itself */
	struct rb_node *node = w->node, *next;

	switch (w->phase) {
	case DMS_RB_LEFTMOST:
		next = BPF_CORE_READ(node, rb_left);
		if (next)
			w->node = next;
		else
			w->phase = DMS_RB_VISIT;
		return 0;
	case DMS_RB_VISIT:
		w->count++;
		next = BPF_CORE_READ(node, rb_right);
		if (next) {
			w->node = next;
			w->phase = DMS_RB_LEFTMOST;
		} else {
			w->phase = DMS_RB_UP;
		}
		return 0;
	case DMS_RB_UP:
		next = dms_rb_parent(node);
		w->node = next;
		if (!next) {
			w->phase = DMS_RB_DONE;
			return 1;
		}
		/* back from a left child: the parent is next in order */
		if (BPF_CORE_READ(next, rb_right) != node)
			w->phase = DMS_RB_VISIT;
		return 0;
	}
	return 1;
}

/*
 * Nodes of the tree at root (not NULL); *truncated when max_steps did not
 * suffice.  The caller must not branch on the count: a count the verifier
 * has to know exactly is a new state at every step, and newer verifiers
 * then give up ("The sequence of 8193 jumps is too complex").
 */
static __always_inline u64 dms_rb_count(struct rb_node *root, u32 max_steps, bool *truncated)
{
	struct dms_rb_walk w = { .node = root, .phase = dms_rb_first_phase };

	bpf_loop(max_steps, dms_rb_step, &w, 0);
	*truncated = w.phase != DMS_RB_DONE;
	return w.count;
}

struct dms_rb_up {
	struct rb_node *node;
	u32 depth;
};

static long __attribute__((unused)) dms_rb_up_step(u32 index, struct dms_rb_up *w)
{
	struct rb_node *parent = dms_rb_parent(w->node);

	if (!parent)
		return 1;
	w->node = parent;
	w->depth++;
	return 0;
}

/* Depth of a node: parent pointers up to the root, at most max */
static __always_inline u32 dms_rb_depth(struct rb_node *node, u32 max)
{
	struct dms_rb_up w = { .node = node };

	bpf_loop(max, dms_rb_up_step, &w, 0);
	return w.depth;
}

#endif /* DMASCOPE_BPF_H */
