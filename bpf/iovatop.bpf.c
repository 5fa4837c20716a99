// SPDX-License-Identifier: GPL-2.0
/*
 * iovatop's kernel side: count what the IOVA allocator does, per domain
 * and size class, and read the exact state of its caches on demand.
 *
 * Two sets of event programs; user space loads one of them:
 *   tp_*      the iova:* trace events of the dmascope kernel patches
 *   fentry_*  fentry/fexit on the exported IOVA functions (any 6.1 with BTF)
 * plus lock contention (lock:contention_begin/end) and "snapshot", a
 * BPF_PROG_TYPE_SYSCALL program run at each interval that finds the
 * IOMMU groups' DMA domains and reads every known domain's caches.
 */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "dmascope.bpf.h"
#include "iovatop.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * The big maps are not preallocated: entries appear with domains, and
 * memsetting megabytes of per-CPU values would slow the start-up.
 */

/* Set by user space before loading */
/* Kernel symbols, looked up at the first snapshot */
__u64 group_kset_addr;		/* &iommu_group_kset */
__u64 cpuhp_states_addr;	/* cpuhp_hp_states[] */
__u32 symbols_looked_up;
const volatile __u32 nr_cpus = 1;		/* possible CPUs, <= IOVATOP_MAX_CPUS */
const volatile __u32 tree_walk_limit = 1 << 23;	/* bpf_loop()'s most */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IOVATOP_MAX_DOMAINS);
	__type(key, u64);
	__type(value, struct domain_info);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} domains SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, IOVATOP_MAX_DOMAINS * (IOVATOP_ORDER_DOMAIN + 1));
	__type(key, struct stats_key);
	__type(value, struct iova_counters);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} stats SEC(".maps");

/* The light hook's counts: a key half the size of stats', one lookup */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, IOVATOP_MAX_DOMAINS);
	__type(key, u64);
	__type(value, struct light_calls);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} light_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IOVATOP_MAX_DOMAINS);
	__type(key, u64);
	__type(value, struct cache_state);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} caches SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u64);
	__type(value, struct lock_owner);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lock_owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, IOVATOP_MAX_DOMAINS * LOCK_KINDS);
	__type(key, struct lock_key);
	__type(value, struct lock_stats);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lock_stats SEC(".maps");

/* fentry mode: what an alloc_iova_fast()/free_iova_fast() call did so far */
struct fast_call {
	u64 iovad;
	u64 start_ns;
	u64 size;
	u32 order;
	u32 tree_calls;
	bool depot_full;	/* a free that emptied a magazine into the tree */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, struct fast_call);
} alloc_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, struct fast_call);
} free_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, struct fast_call);
} release_calls SEC(".maps");

static struct iova_counters zero_counters;
static struct light_calls zero_light;
static void read_domain_state(u64 iovad_addr);
static struct cache_state zero_cache;
static struct lock_stats zero_lock_stats;

_Static_assert(IOVATOP_ORDER_LARGE == 6, "order_of() tells sizes apart up to 32 pages");

/* order_base_2(), bounded: sizes of 2^6 pages and more are "large" */
static __always_inline u32 order_of(u64 size)
{
	if (size <= 4)
		return size <= 1 ? 0 : size <= 2 ? 1 : 2;
	if (size <= 32)
		return size <= 8 ? 3 : size <= 16 ? 4 : 5;
	return IOVATOP_ORDER_LARGE;
}

/* Note a domain the first time one of its events is seen. */
static void see_domain(u64 iovad)
{
	struct domain_info info = { .iovad = iovad, .group = -1 };

	if (bpf_map_lookup_elem(&domains, &iovad))
		return;
	info.first_seen_ns = bpf_ktime_get_ns();
	dms_lookup_or_init(&domains, &iovad, &info, LOST_DOMAINS_FULL);
}

static struct iova_counters *counters(u64 iovad, u32 order)
{
	struct stats_key key = { .iovad = iovad, .order = order };
	struct iova_counters *c;

	c = bpf_map_lookup_elem(&stats, &key);
	if (c)
		return c;
	see_domain(iovad);
	return dms_lookup_or_init(&stats, &key, &zero_counters, LOST_STATS_FULL);
}

/* ---- the running kernel's enum values, via CO-RE ---- */

static int alloc_result(int v)
{
	if (v == bpf_core_enum_value(enum iova_alloc_result, IOVA_ALLOC_LOADED))
		return ALLOC_LOADED;
	if (v == bpf_core_enum_value(enum iova_alloc_result, IOVA_ALLOC_PREV))
		return ALLOC_PREV;
	if (v == bpf_core_enum_value(enum iova_alloc_result, IOVA_ALLOC_DEPOT))
		return ALLOC_DEPOT;
	if (v == bpf_core_enum_value(enum iova_alloc_result, IOVA_ALLOC_MISS))
		return ALLOC_MISS;
	return ALLOC_BYPASS;
}

static int free_result(int v)
{
	if (v == bpf_core_enum_value(enum iova_free_result, IOVA_FREE_LOADED))
		return FREE_LOADED;
	if (v == bpf_core_enum_value(enum iova_free_result, IOVA_FREE_PREV))
		return FREE_PREV;
	if (v == bpf_core_enum_value(enum iova_free_result, IOVA_FREE_NEW_MAG))
		return FREE_NEW_MAG;
	if (bpf_core_enum_value_exists(enum iova_free_result, IOVA_FREE_DEPOT_FULL) &&
	    v == bpf_core_enum_value(enum iova_free_result, IOVA_FREE_DEPOT_FULL))
		return FREE_DEPOT_FULL;
	if (v == bpf_core_enum_value(enum iova_free_result, IOVA_FREE_NO_MAG))
		return FREE_NO_MAG;
	return FREE_BYPASS;
}

static int reclaim_reason(int v)
{
	if (bpf_core_enum_value_exists(enum iova_reclaim_reason, IOVA_RECLAIM_DEPOT_FULL) &&
	    v == bpf_core_enum_value(enum iova_reclaim_reason, IOVA_RECLAIM_DEPOT_FULL))
		return RECLAIM_DEPOT_FULL;
	if (bpf_core_enum_value_exists(enum iova_reclaim_reason, IOVA_RECLAIM_DEPOT_TRIM) &&
	    v == bpf_core_enum_value(enum iova_reclaim_reason, IOVA_RECLAIM_DEPOT_TRIM))
		return RECLAIM_DEPOT_TRIM;
	if (v == bpf_core_enum_value(enum iova_reclaim_reason, IOVA_RECLAIM_ALLOC_RETRY))
		return RECLAIM_ALLOC_RETRY;
	if (v == bpf_core_enum_value(enum iova_reclaim_reason, IOVA_RECLAIM_CPU_DEAD))
		return RECLAIM_CPU_DEAD;
	if (bpf_core_enum_value_exists(enum iova_reclaim_reason, IOVA_RECLAIM_IDLE) &&
	    v == bpf_core_enum_value(enum iova_reclaim_reason, IOVA_RECLAIM_IDLE))
		return RECLAIM_IDLE;
	if (v == bpf_core_enum_value(enum iova_reclaim_reason, IOVA_RECLAIM_TEARDOWN))
		return RECLAIM_TEARDOWN;
	return RECLAIM_UNKNOWN;
}

static __always_inline void count_tree_alloc(u64 iovad, u64 size, struct iova *new,
			     u64 visited, bool retried, bool walk_known)
{
	struct iova_counters *c = counters(iovad, order_of(size));
	u32 depth;

	if (!c)
		return;
	if (!new) {
		c->tree_alloc_fail++;
		return;
	}
	c->tree_alloc++;
	c->tree_retry += retried;
	if (walk_known) {
		c->walk_sum += visited;
		if (visited > c->walk_max)
			c->walk_max = visited;
	}
	depth = dms_rb_depth(&new->node, IOVATOP_MAX_DEPTH);
	c->depth_sum += depth;
	c->depth_count++;
	if (depth > c->depth_max)
		c->depth_max = depth;
}

static void mark_destroyed(u64 iovad)
{
	struct domain_info *info = bpf_map_lookup_elem(&domains, &iovad);

	if (info)
		info->destroyed_ns = bpf_ktime_get_ns();
}

/* ---- the iova:* trace events (dmascope patches) ---- */

SEC("tp_btf/iova_domain_init")
int BPF_PROG(tp_domain_init, struct iova_domain *iovad, unsigned long caller)
{
	struct domain_info info = { .iovad = (u64)iovad, .group = -1 };

	info.owner_ip = caller;
	info.first_seen_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&domains, &info.iovad, &info, BPF_ANY))
		dms_count_lost(LOST_DOMAINS_FULL);
	return 0;
}

SEC("tp_btf/iova_domain_device")
int BPF_PROG(tp_domain_device, struct iova_domain *iovad, struct device *dev)
{
	u64 key = (u64)iovad;
	struct domain_info *info;

	see_domain(key);
	info = bpf_map_lookup_elem(&domains, &key);
	if (!info)
		return 0;
	info->kind = DOMAIN_IOMMU_DMA;
	if (bpf_probe_read_kernel_str(info->device, sizeof(info->device),
				      BPF_CORE_READ(dev, kobj.name)) < 0)
		dms_count_lost(LOST_READS);
	return 0;
}

/* The last state, so that the counts since the last interval are kept */
SEC("tp_btf/iova_domain_destroy")
int BPF_PROG(tp_domain_destroy, struct iova_domain *iovad)
{
	u64 key = (u64)iovad;

	if (bpf_map_lookup_elem(&domains, &key))
		read_domain_state(key);
	mark_destroyed(key);
	return 0;
}

SEC("tp_btf/iova_rcache_alloc")
int BPF_PROG(tp_rcache_alloc, struct iova_domain *iovad, unsigned long size, int result)
{
	struct iova_counters *c = counters((u64)iovad, order_of(size));
	int r = alloc_result(result);

	if (c && r >= 0 && r < ALLOC_RESULTS)
		c->alloc[r]++;
	return 0;
}

SEC("tp_btf/iova_rcache_free")
int BPF_PROG(tp_rcache_free, struct iova_domain *iovad, unsigned long size, int result)
{
	struct iova_counters *c = counters((u64)iovad, order_of(size));
	int r = free_result(result);

	if (c && r >= 0 && r < FREE_RESULTS)
		c->free[r]++;
	return 0;
}

SEC("tp_btf/iova_depot_push")
int BPF_PROG(tp_depot_push, struct iova_domain *iovad, unsigned int order,
	     unsigned long depot_size)
{
	struct iova_counters *c = counters((u64)iovad, order < IOVATOP_ORDERS ? order : 0);

	if (c)
		c->depot_push++;
	return 0;
}

SEC("tp_btf/iova_depot_pop")
int BPF_PROG(tp_depot_pop, struct iova_domain *iovad, unsigned int order,
	     unsigned long depot_size)
{
	struct iova_counters *c = counters((u64)iovad, order < IOVATOP_ORDERS ? order : 0);

	if (c)
		c->depot_pop++;
	return 0;
}

SEC("tp_btf/iova_magazine_release")
int BPF_PROG(tp_magazine_release, struct iova_domain *iovad, unsigned int order,
	     unsigned long count, u64 lock_ns, int reason)
{
	struct iova_counters *c = counters((u64)iovad, order < IOVATOP_ORDERS ? order : 0);
	int r = reclaim_reason(reason);

	if (!c || r < 0 || r >= RECLAIM_REASONS)
		return 0;
	c->release[r]++;
	c->released[r] += count;
	c->release_ns += lock_ns;
	return 0;
}

SEC("tp_btf/iova_cache_flush")
int BPF_PROG(tp_cache_flush, struct iova_domain *iovad, int cpu, unsigned long count,
	     int reason)
{
	struct iova_counters *c = counters((u64)iovad, IOVATOP_ORDER_DOMAIN);
	int r = reclaim_reason(reason);

	if (!c || r < 0 || r >= RECLAIM_REASONS)
		return 0;
	c->flush[r]++;
	c->flushed[r] += count;
	return 0;
}

SEC("tp_btf/iova_tree_alloc")
int BPF_PROG(tp_tree_alloc, struct iova_domain *iovad, struct iova *new,
	     unsigned long size, unsigned long limit_pfn, unsigned long visited,
	     bool retried)
{
	count_tree_alloc((u64)iovad, size, new, visited, retried, true);
	return 0;
}

SEC("tp_btf/iova_tree_free")
int BPF_PROG(tp_tree_free, struct iova_domain *iovad, struct iova *iova)
{
	u64 size = BPF_CORE_READ(iova, pfn_hi) - BPF_CORE_READ(iova, pfn_lo) + 1;
	struct iova_counters *c = counters((u64)iovad, order_of(size));

	if (c)
		c->tree_free++;
	return 0;
}

/* ---- fentry fallback on the exported functions (any 6.1 with BTF) ---- */

/*
 * The key of a call in progress: the task, or for the idle tasks (all
 * pid 0, where interrupts run the flush queues) the CPU.
 */
static u32 tid(void)
{
	u32 pid = (u32)bpf_get_current_pid_tgid();

	return pid ? pid : 0x80000000 | bpf_get_smp_processor_id();
}

/*
 * A call can be interrupted by the same call on the same task (a flush
 * queue timer freeing IOVAs in a softirq while the task was freeing):
 * the nested call gets a second key.  Interrupts finish first, so at
 * exit the nested key, when present, is the innermost call.
 */
#define NESTED 0x40000000
#define STALE_NS 1000000000ULL

static void start_call(void *map, u64 iovad, u64 size)
{
	struct fast_call call = { .iovad = iovad, .size = size, .order = order_of(size) };
	struct fast_call *old;
	u32 key = tid();

	call.start_ns = bpf_ktime_get_ns();
	if (!bpf_map_update_elem(map, &key, &call, BPF_NOEXIST))
		return;
	/* a call that never returned (attached mid-call): replace it */
	old = bpf_map_lookup_elem(map, &key);
	if (old && call.start_ns - old->start_ns > STALE_NS) {
		dms_count_lost(LOST_NESTED);
		bpf_map_update_elem(map, &key, &call, BPF_ANY);
		return;
	}
	key |= NESTED;
	if (bpf_map_update_elem(map, &key, &call, BPF_NOEXIST))
		dms_count_lost(LOST_NESTED);
}

/* The innermost call in progress on this task, and its key */
static struct fast_call *find_call(void *map, u32 *key)
{
	struct fast_call *call;

	*key = tid() | NESTED;
	call = bpf_map_lookup_elem(map, key);
	if (call)
		return call;
	*key = tid();
	return bpf_map_lookup_elem(map, key);
}

SEC("fentry/init_iova_domain")
int BPF_PROG(fentry_init_domain, struct iova_domain *iovad)
{
	see_domain((u64)iovad);
	return 0;
}

SEC("fentry/put_iova_domain")
int BPF_PROG(fentry_put_domain, struct iova_domain *iovad)
{
	mark_destroyed((u64)iovad);
	return 0;
}

SEC("fentry/alloc_iova_fast")
int BPF_PROG(fentry_alloc_fast, struct iova_domain *iovad, unsigned long size)
{
	/* alloc_iova_fast() rounds cached sizes up to a power of two */
	start_call(&alloc_calls, (u64)iovad, size);
	return 0;
}

/*
 * The light hook of the views that show no free and no flush: one fentry
 * per allocation, no call followed to its end.  Every call of a cached
 * size counts as a hit here; user space takes the rbtree allocations of
 * the same size class (fexit_alloc_tree), the misses, out of them.
 */
SEC("fentry/alloc_iova_fast")
int BPF_PROG(fentry_alloc_count, struct iova_domain *iovad, unsigned long size)
{
	u64 key = (u64)iovad;
	struct light_calls *l = bpf_map_lookup_elem(&light_calls, &key);

	if (!l) {
		see_domain(key);
		l = dms_lookup_or_init(&light_calls, &key, &zero_light, LOST_STATS_FULL);
		if (!l)
			return 0;
	}
	l->calls[order_of(size)]++;
	return 0;
}

/*
 * No rbtree allocation inside the call: the caches served it.  One: a
 * miss.  Two: the rbtree was full, the caches were flushed and it retried.
 */
SEC("fexit/alloc_iova_fast")
int BPF_PROG(fexit_alloc_fast, struct iova_domain *iovad, unsigned long size,
	     unsigned long limit_pfn, bool flush_rcache, unsigned long ret)
{
	u32 key;
	struct fast_call *call = find_call(&alloc_calls, &key);
	struct iova_counters *c, *d;

	if (!call)
		return 0;
	c = counters(call->iovad, call->order);
	if (c) {
		if (call->order >= IOVATOP_ORDER_LARGE)
			c->alloc[ALLOC_BYPASS]++;
		else if (call->tree_calls == 0)
			c->alloc[ret ? ALLOC_HIT : ALLOC_MISS]++;
		else
			c->alloc[ALLOC_MISS]++;
	}
	if (call->tree_calls > 1) {
		d = counters(call->iovad, IOVATOP_ORDER_DOMAIN);
		if (d)
			d->flush[RECLAIM_ALLOC_RETRY]++;
	}
	bpf_map_delete_elem(&alloc_calls, &key);
	return 0;
}

SEC("fexit/alloc_iova")
int BPF_PROG(fexit_alloc_tree, struct iova_domain *iovad, unsigned long size,
	     unsigned long limit_pfn, bool size_aligned, struct iova *ret)
{
	u32 key;
	struct fast_call *call = find_call(&alloc_calls, &key);

	if (call && call->iovad == (u64)iovad)
		call->tree_calls++;
	count_tree_alloc((u64)iovad, size, ret, 0, false, false);
	return 0;
}

SEC("fentry/free_iova_fast")
int BPF_PROG(fentry_free_fast, struct iova_domain *iovad, unsigned long pfn,
	     unsigned long size)
{
	start_call(&free_calls, (u64)iovad, size);
	return 0;
}

SEC("fexit/free_iova_fast")
int BPF_PROG(fexit_free_fast)
{
	u32 key;
	struct fast_call *call = find_call(&free_calls, &key);
	struct iova_counters *c;

	if (!call)
		return 0;
	c = counters(call->iovad, call->order);
	if (c) {
		if (call->order >= IOVATOP_ORDER_LARGE)
			c->free[FREE_BYPASS]++;
		else if (call->depot_full)
			c->free[FREE_DEPOT_FULL]++;
		else
			c->free[call->tree_calls ? FREE_TREE : FREE_CACHED]++;
	}
	bpf_map_delete_elem(&free_calls, &key);
	return 0;
}

/* One IOVA back to the rbtree: inside free_iova_fast() the cache was full */
SEC("fentry/free_iova")
int BPF_PROG(fentry_free_tree, struct iova_domain *iovad)
{
	u32 key;
	struct fast_call *call = find_call(&free_calls, &key);
	u32 order = IOVATOP_ORDER_DOMAIN;
	struct iova_counters *c;

	if (call && call->iovad == (u64)iovad) {
		call->tree_calls++;
		order = call->order;
	}
	c = counters((u64)iovad, order);
	if (c)
		c->tree_free++;
	return 0;
}

SEC("fentry/__free_iova")
int BPF_PROG(fentry_free_tree_iova, struct iova_domain *iovad, struct iova *iova)
{
	u64 size = BPF_CORE_READ(iova, pfn_hi) - BPF_CORE_READ(iova, pfn_lo) + 1;
	struct iova_counters *c = counters((u64)iovad, order_of(size));

	if (c)
		c->tree_free++;
	return 0;
}

/*
 * A magazine emptied into the rbtree (a static function that survives in
 * 6.1 builds).  Inside free_iova_fast() that is the full-depot cliff,
 * inside alloc_iova_fast() the flush before a retry.
 */
SEC("fentry/iova_magazine_free_pfns")
int BPF_PROG(fentry_release, struct iova_magazine *mag, struct iova_domain *iovad)
{
	u64 size = BPF_CORE_READ(mag, size);

	if (size)
		start_call(&release_calls, (u64)iovad, size);
	return 0;
}

SEC("fexit/iova_magazine_free_pfns")
int BPF_PROG(fexit_release, struct iova_magazine *mag, struct iova_domain *iovad)
{
	u32 key, outer;
	struct fast_call *call = find_call(&release_calls, &key);
	struct fast_call *free_call;
	struct iova_counters *c;
	int r = RECLAIM_UNKNOWN;

	if (!call)
		return 0;
	free_call = find_call(&free_calls, &outer);
	if (free_call) {
		r = RECLAIM_DEPOT_FULL;
		free_call->depot_full = true;
	} else if (find_call(&alloc_calls, &outer)) {
		r = RECLAIM_ALLOC_RETRY;
	}
	c = counters(call->iovad, IOVATOP_ORDER_DOMAIN);
	if (c) {
		c->release[r]++;
		c->released[r] += call->size;
		c->release_ns += bpf_ktime_get_ns() - call->start_ns;
		c->tree_free += call->size;
	}
	bpf_map_delete_elem(&release_calls, &key);
	return 0;
}

/* ---- lock contention on the IOVA locks of known domains ---- */

SEC("tp_btf/contention_begin")
int BPF_PROG(contention_begin, void *lock, unsigned int flags)
{
	u64 addr = (u64)lock;

	if (bpf_map_lookup_elem(&lock_owners, &addr))
		dms_wait_begin(addr, LOST_NESTED);
	return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(contention_end, void *lock, int ret)
{
	u64 addr = (u64)lock, delta;
	struct lock_owner *owner;
	struct lock_stats *s;
	struct lock_key key = {};

	if (!dms_wait_end(addr, &delta))
		return 0;
	owner = bpf_map_lookup_elem(&lock_owners, &addr);
	if (!owner)
		return 0;
	key.iovad = owner->iovad;
	key.kind = owner->kind;
	s = dms_lookup_or_init(&lock_stats, &key, &zero_lock_stats, LOST_STATS_FULL);
	if (!s)
		return 0;
	s->wait_ns += delta;
	s->count++;
	if (delta > s->max_ns)
		s->max_ns = delta;
	return 0;
}

/* ---- snapshot: run by user space at each interval ---- */

#define container_of_core(ptr, type, member) \
	((type *)((void *)(ptr) - bpf_core_field_offset(type, member)))

static u64 read_u64(u64 addr)
{
	u64 v = 0;

	if (bpf_probe_read_kernel(&v, sizeof(v), (void *)addr))
		dms_count_lost(LOST_READS);
	return v;
}

/* The DMA domain of an IOMMU group, as an iova_domain, or 0 */
static u64 group_iovad(struct iommu_group *group)
{
	struct iommu_domain *domain = BPF_CORE_READ(group, domain);
	struct iommu_dma_cookie *cookie;

	if (!domain)
		domain = BPF_CORE_READ(group, default_domain);
	if (!domain)
		return 0;
	cookie = BPF_CORE_READ(domain, iova_cookie);
	if (!cookie)
		return 0;
	if (bpf_core_field_exists(domain->cookie_type)) {
		if (BPF_CORE_READ(domain, cookie_type) !=
		    bpf_core_enum_value(enum iommu_domain_cookie_type, IOMMU_COOKIE_DMA_IOVA))
			return 0;
	} else if (BPF_CORE_READ(cookie, type) !=
		   bpf_core_enum_value(enum iommu_dma_cookie_type, IOMMU_DMA_IOVA_COOKIE)) {
		return 0;
	}
	return (u64)cookie + bpf_core_field_offset(struct iommu_dma_cookie, iovad);
}

/*
 * The loops over lists run under bpf_loop(): the verifier checks the body
 * once instead of once per possible iteration, which keeps loading quick.
 */
struct list_walk {
	struct list_head *head, *pos;
};

static long group_step(u32 index, struct list_walk *walk)
{
	struct list_head *pos = walk->pos;
	struct kobject *kobj = container_of_core(pos, struct kobject, entry);
	struct iommu_group *group = container_of_core(kobj, struct iommu_group, kobj);
	struct domain_info *info;
	u64 iovad;

	if (!pos || pos == walk->head)
		return 1;
	walk->pos = BPF_CORE_READ(pos, next);
	iovad = group_iovad(group);
	if (!iovad)
		return 0;
	see_domain(iovad);
	info = bpf_map_lookup_elem(&domains, &iovad);
	if (info) {
		info->group = BPF_CORE_READ(group, id);
		info->kind = DOMAIN_IOMMU_DMA;
	}
	return 0;
}

static void discover_groups(void)
{
	struct list_walk walk = {};
	struct list_head *head;
	struct kset *kset;

	if (!group_kset_addr)
		return;
	kset = (struct kset *)read_u64(group_kset_addr);
	if (!kset)
		return;
	head = (struct list_head *)((void *)kset + bpf_core_field_offset(struct kset, list));
	walk.head = head;
	walk.pos = BPF_CORE_READ(head, next);
	bpf_loop(IOVATOP_MAX_GROUPS, group_step, &walk, 0);
}

/*
 * Every domain with caches registered a CPU-hotplug instance: walking that
 * list finds them all, private ones (VDUSE, ...) and those created before
 * iovatop started, on any 6.1 kernel.
 */
static long cached_domain_step(u32 index, struct hlist_node **cursor)
{
	struct hlist_node *node = *cursor;

	if (!node)
		return 1;
	see_domain((u64)node - bpf_core_field_offset(struct iova_domain, cpuhp_dead));
	*cursor = BPF_CORE_READ(node, next);
	return 0;
}

static void discover_cached_domains(void)
{
	struct hlist_node *node;
	u64 step;

	if (!cpuhp_states_addr)
		return;
	step = cpuhp_states_addr + bpf_core_type_size(struct cpuhp_step) *
	       bpf_core_enum_value(enum cpuhp_state, CPUHP_IOMMU_IOVA_DEAD);
	node = (struct hlist_node *)read_u64(step +
			bpf_core_field_offset(struct cpuhp_step, list.first));
	bpf_loop(IOVATOP_MAX_DOMAINS, cached_domain_step, &node, 0);
}

static void own_lock(u64 addr, u64 iovad, u32 kind)
{
	struct lock_owner owner = { .iovad = iovad, .kind = kind };

	dms_lookup_or_init(&lock_owners, &addr, &owner, LOST_LOCKS_FULL);
}

/* Nodes of a 6.1 rbtree without the patches' count (the anchor is not an IOVA) */
static u64 count_nodes(struct iova_domain *iovad)
{
	struct rb_node *root = BPF_CORE_READ(iovad, rbroot.rb_node);
	bool truncated;
	u64 n;

	/* an initialised domain always holds its anchor */
	if (!root)
		return 0;
	n = dms_rb_count(root, tree_walk_limit, &truncated);
	if (truncated)
		dms_count_lost(LOST_TREE_WALK);
	return n - 1;
}

struct cpu_walk {
	u64 iovad;
	u64 cpu_rcaches;	/* __percpu */
	u32 order;
};

/* The outcome counters of one CPU cache, in iovatop's order of results */
static void add_counts(struct cache_state *st, struct iova_cpu_rcache *rc, u32 order)
{
	unsigned long a[4] = {}, f[4] = {};

	if (order >= IOVATOP_CACHED_ORDERS)
		return;
	if (BPF_CORE_READ_INTO(&a, rc, alloc_count) || BPF_CORE_READ_INTO(&f, rc, free_count)) {
		dms_count_lost(LOST_READS);
		return;
	}
	st->alloc_count[order][ALLOC_LOADED] += a[bpf_core_enum_value(enum iova_alloc_result, IOVA_ALLOC_LOADED) & 3];
	st->alloc_count[order][ALLOC_PREV] += a[bpf_core_enum_value(enum iova_alloc_result, IOVA_ALLOC_PREV) & 3];
	st->alloc_count[order][ALLOC_DEPOT] += a[bpf_core_enum_value(enum iova_alloc_result, IOVA_ALLOC_DEPOT) & 3];
	st->alloc_count[order][ALLOC_MISS] += a[bpf_core_enum_value(enum iova_alloc_result, IOVA_ALLOC_MISS) & 3];
	st->free_count[order][0] += f[bpf_core_enum_value(enum iova_free_result, IOVA_FREE_LOADED) & 3];
	st->free_count[order][1] += f[bpf_core_enum_value(enum iova_free_result, IOVA_FREE_PREV) & 3];
	st->free_count[order][2] += f[bpf_core_enum_value(enum iova_free_result, IOVA_FREE_NEW_MAG) & 3];
	st->free_count[order][3] += f[bpf_core_enum_value(enum iova_free_result, IOVA_FREE_NO_MAG) & 3];
	st->has_counts = 1;
}

/* One CPU's two magazines of one size class */
static long cpu_step(u32 cpu, struct cpu_walk *walk)
{
	struct iova_cpu_rcache *rc;
	struct cache_state *st;
	u32 order, loaded, prev;
	u64 idx;

	if (cpu >= nr_cpus)
		return 1;
	rc = (void *)dms_per_cpu(walk->cpu_rcaches, cpu, LOST_CPUS);
	if (!rc)
		return 1;
	loaded = BPF_CORE_READ(rc, loaded, size);
	prev = BPF_CORE_READ(rc, prev, size);
	own_lock((u64)rc + bpf_core_field_offset(struct iova_cpu_rcache, lock),
		 walk->iovad, LOCK_CPU);
	st = bpf_map_lookup_elem(&caches, &walk->iovad);
	order = walk->order;
	if (!st || cpu >= IOVATOP_MAX_CPUS || order >= IOVATOP_CACHED_ORDERS)
		return 1;
	if (bpf_core_field_exists(rc->alloc_count))
		add_counts(st, rc, order);
	/* one flat index, bounded right before use, for the verifier */
	idx = order * IOVATOP_MAX_CPUS + cpu;
	barrier_var(idx);
	if (idx >= IOVATOP_CACHED_ORDERS * IOVATOP_MAX_CPUS)
		return 1;
	((__u32 *)st->loaded)[idx] = loaded;
	((__u32 *)st->prev)[idx] = prev;
	return 0;
}

static void read_order(struct iova_domain *iovad, struct cache_state *st,
		       struct iova_rcache *rcache, u32 order)
{
	struct cpu_walk walk = { .iovad = (u64)iovad, .order = order };

	walk.cpu_rcaches = (u64)BPF_CORE_READ(rcache, cpu_rcaches);
	if (order < IOVATOP_CACHED_ORDERS) {
		__builtin_memset(st->alloc_count[order], 0, sizeof(st->alloc_count[order]));
		__builtin_memset(st->free_count[order], 0, sizeof(st->free_count[order]));
	}
	st->depot[order] = BPF_CORE_READ(rcache, depot_size);
	own_lock((u64)rcache + bpf_core_field_offset(struct iova_rcache, lock),
		 (u64)iovad, LOCK_DEPOT);
	bpf_loop(IOVATOP_MAX_CPUS, cpu_step, &walk, 0);
}

/* Read a domain's caches, counters and tree size into the caches map */
static void read_domain_state(u64 iovad_addr)
{
	struct iova_domain *iovad = (struct iova_domain *)iovad_addr;
	struct iova_rcache *rcaches;
	struct cache_state *st;
	u32 order;

	st = dms_lookup_or_init(&caches, &iovad_addr, &zero_cache, LOST_DOMAINS_FULL);
	if (!st)
		return;
	st->valid = 0;
	st->granule = BPF_CORE_READ(iovad, granule);
	if (!st->granule) {
		dms_count_lost(LOST_READS);
		return;
	}
	if (bpf_core_field_exists(iovad->nr_nodes))
		st->nodes = BPF_CORE_READ(iovad, nr_nodes);
	else
		st->nodes = count_nodes(iovad);
	own_lock(iovad_addr + bpf_core_field_offset(struct iova_domain, iova_rbtree_lock),
		 iovad_addr, LOCK_RBTREE);

	rcaches = BPF_CORE_READ(iovad, rcaches);
	st->ncpus = nr_cpus < IOVATOP_MAX_CPUS ? nr_cpus : IOVATOP_MAX_CPUS;
	if (rcaches) {
		for (order = 0; order < IOVATOP_CACHED_ORDERS; order++)
			read_order(iovad, st, (void *)rcaches +
				   order * bpf_core_type_size(struct iova_rcache), order);
	}
	/* read_order() worked on the map value through other pointers */
	st = bpf_map_lookup_elem(&caches, &iovad_addr);
	if (st)
		st->valid = 1;
}

static long read_domain(void *map, u64 *key, struct domain_info *info, void *ctx)
{
	if (!info->destroyed_ns)
		read_domain_state(*key);
	return 0;
}

SEC("syscall")
int snapshot(void *ctx)
{
	if (!symbols_looked_up) {
		dms_find_symbol("__per_cpu_offset", &dms_per_cpu_offset_addr);
		dms_find_symbol("iommu_group_kset", &group_kset_addr);
		dms_find_symbol("cpuhp_hp_states", &cpuhp_states_addr);
		symbols_looked_up = 1;
	}
	if (nr_cpus > IOVATOP_MAX_CPUS)
		dms_count_lost(LOST_CPUS);
	discover_cached_domains();
	discover_groups();
	bpf_for_each_map_elem(&domains, read_domain, NULL, 0);
	return 0;
}
