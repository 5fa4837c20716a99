// SPDX-License-Identifier: GPL-2.0
/*
 * swiotlbstat's kernel side: count what the software IO TLB does (maps,
 * unmaps, bounced bytes, failures, pools added and removed), per device,
 * and read the exact state of its pools on demand.
 *
 * Two sets of event programs; user space loads one of them:
 *   tp_*      the swiotlb:* trace events of the dmascope kernel patches
 *   fentry_*  fentry on the unmap function (any kernel with BTF)
 * plus, in both: fentry/fexit on swiotlb_tbl_map_single() (latency,
 * bounced bytes, bytes by direction, and in the fentry mode the maps and
 * failures) and "snapshot", a syscall program run at each interval that
 * reads io_tlb_default_mem's pools and areas.  Bounced mode, for kernels
 * that refuse fentry, has only the upstream swiotlb_bounced event.
 */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "dmascope.bpf.h"
#include "swiotlbstat.h"

char LICENSE[] SEC("license") = "GPL";

#define DMA_MAPPING_ERROR	(~0ULL)
#define EBUSY			16

/* Set by user space before loading */
const volatile bool count_maps;		/* fentry mode: maps and failures from fexit */
const volatile __u32 self_tgid;		/* swiotlbstat itself */
/* tracepoint mode, the pools view: each pool's use and peak */
const volatile bool follow_pools;


/* &io_tlb_default_mem once known, and how it was found */
__u64 mem_addr;
__u32 mem_found;
__u64 found_dev;	/* the device it was found through */
__u32 looked_up;
/* 0, but opaque to the verifier (see dms_rb_first_phase) */
__u32 walk_zero;

struct swiotlb_state state;

/*
 * Slots in use, followed through the maps and unmaps themselves, and the
 * highest value it reached: an exact high-water where the kernel keeps
 * none (before 6.4), which reads at the intervals miss.  User space sets
 * slots_in_use to the pools' use before attaching; a mapping made before
 * that and unmapped later is taken off by its size.
 */
__s64 slots_in_use;
__s64 slots_peak;

/*
 * tracepoint mode: the same per pool, by pool pointer; user space enters
 * the pools there are before attaching, with their use, and a pool added
 * later starts empty
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SWIOTLBSTAT_MAX_POOL_USE);
	__type(key, u64);
	__type(value, struct pool_use);
} pool_use SEC(".maps");

/* fentry mode: the slots each live mapping took, by its bounce buffer address */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SWIOTLBSTAT_MAX_LIVE);
	__type(key, u64);
	__type(value, u32);
} live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct swiotlb_counters);
} counters SEC(".maps");

/*
 * Preallocated, as all maps here: their first insert happens in the map
 * path, where allocating the element can fail (seen at the onset of fio
 * on 4 CPUs: two events lost).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SWIOTLBSTAT_MAX_DEVICES);
	__type(key, u64);
	__type(value, struct device_counters);
} devices SEC(".maps");

/*
 * Where a device's first event goes when it interrupts an insert into
 * devices on the same CPU: that insert holds the bucket lock, so a second
 * one fails with EBUSY (seen once in a hundred thousand maps, at the onset
 * of fio).  User space adds the two maps up.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SWIOTLBSTAT_MAX_DEVICES);
	__type(key, u64);
	__type(value, struct device_counters);
} devices_nested SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SWIOTLBSTAT_MAX_DEVICES);
	__type(key, u64);
	__type(value, struct device_info);
} device_names SEC(".maps");

/*
 * Nearly every event finds its device here, the one this CPU saw last:
 * an array lookup where the devices table takes a hash lookup, which was
 * two thirds of an event's cost (measured in the lab under TCG).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct recent_device);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, struct pool_info);
} pools SEC(".maps");

/*
 * The lock of every area of every pool, as the snapshot found them; the
 * value is the snapshot's generation.  User space deletes the locks of
 * pools that are gone: their memory may hold another lock by now.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SWIOTLBSTAT_MAX_AREAS);
	__type(key, u64);
	__type(value, u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* only the snapshot inserts */
} area_locks SEC(".maps");

/*
 * Maps in progress on this CPU: the map path takes spinlocks and does
 * not sleep, so a map ends on the CPU it started on, after any map of an
 * interrupt that came in between.
 */
struct map_starts {
	u64 start_ns[SWIOTLBSTAT_DEPTH];
	u32 tid[SWIOTLBSTAT_DEPTH];
	u32 depth;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct map_starts);
} starts SEC(".maps");

static struct device_counters zero_device;

/*
 * Follow every slot taken and given back, for a high-water between two
 * reads, only where the kernel keeps none (io_tlb_used_hiwater: 6.4 and
 * later with debugfs, and the dmascope patches): the atomics on one
 * shared counter cost every map on every CPU.  Known at load time.
 */
static __always_inline bool follow_slots(void)
{
	return !bpf_core_field_exists(((struct io_tlb_mem *)0)->used_hiwater);
}

static struct swiotlb_counters *global(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

/* A device's allocator is io_tlb_default_mem unless it has a restricted pool */
static void note_mem(struct device *dev)
{
	u64 mem;

	if (mem_addr || !bpf_core_field_exists(dev->dma_io_tlb_mem))
		return;
	mem = (u64)BPF_CORE_READ(dev, dma_io_tlb_mem);
	if (mem && __sync_val_compare_and_swap(&mem_addr, 0, mem) == 0)
		mem_found = FOUND_DEVICE;
	found_dev = (u64)dev;
}

/* Name a device the first time it is seen */
static void see_device(struct device *dev)
{
	struct device_info info = {};
	u64 key = (u64)dev;
	struct device_driver *drv;

	if (bpf_map_lookup_elem(&device_names, &key))
		return;
	if (bpf_probe_read_kernel_str(info.name, sizeof(info.name),
				      BPF_CORE_READ(dev, kobj.name)) < 0)
		dms_count_lost(LOST_READS);
	drv = BPF_CORE_READ(dev, driver);
	if (drv && bpf_probe_read_kernel_str(info.driver, sizeof(info.driver),
					     BPF_CORE_READ(drv, name)) < 0)
		dms_count_lost(LOST_READS);
	if (bpf_map_update_elem(&device_names, &key, &info, BPF_NOEXIST) == -EEXIST)
		return;
	note_mem(dev);
}

/* A device's entry in one of the two maps, made if it is not there */
static struct device_counters *entry_in(void *map, u64 key, long *err)
{
	struct device_counters *d = bpf_map_lookup_elem(map, &key);

	if (d)
		return d;
	*err = bpf_map_update_elem(map, &key, &zero_device, BPF_NOEXIST);
	if (*err && *err != -EEXIST)
		return NULL;
	return bpf_map_lookup_elem(map, &key);
}

/*
 * A device's entry in devices, made at its first event.  The insert
 * fails with EBUSY when an interrupt's event on the same CPU comes in the
 * middle of another insert into the map: the event then counts in
 * devices_nested.
 */
static struct device_counters *device_entry(struct device *dev)
{
	u64 key = (u64)dev;
	struct device_counters *d = bpf_map_lookup_elem(&devices, &key);
	long err = 0;

	if (d)
		return d;
	see_device(dev);
	d = entry_in(&devices, key, &err);
	if (!d && err == -EBUSY)
		d = entry_in(&devices_nested, key, &err);
	if (!d)
		dms_count_lost(err == -EBUSY ? LOST_NESTED : LOST_DEVICES_FULL);
	return d;
}

static void add_counters(struct device_counters *to, const struct device_counters *from)
{
	int i;

	to->maps += from->maps;
	for (i = 0; i < DIRS; i++)
		to->bytes[i] += from->bytes[i];
	to->bounced_bytes += from->bounced_bytes;
	to->unmaps += from->unmaps;
	to->failures += from->failures;
	to->failure_bytes += from->failure_bytes;
	if (from->largest > to->largest)
		to->largest = from->largest;
	if (from->largest_failure > to->largest_failure)
		to->largest_failure = from->largest_failure;
}

/*
 * A device's counters: this CPU's recent entry when the event is of the
 * device it saw last; otherwise that one's counters go to its entry in
 * devices first, and the recent entry is the new device's.  An event of
 * an interrupt that comes in the middle of that counts in devices.
 */
static struct device_counters *device(struct device *dev)
{
	struct recent_device *r;
	struct device_counters *d;
	u32 zero = 0;

	r = bpf_map_lookup_elem(&recent, &zero);
	if (!r)
		return NULL;
	if (r->dev == (u64)dev)
		return &r->c;
	if (r->busy)
		return device_entry(dev);
	r->busy = 1;
	if (r->dev) {
		d = device_entry((struct device *)r->dev);
		if (d)
			add_counters(d, &r->c);
		__builtin_memset(&r->c, 0, sizeof(r->c));
	}
	see_device(dev);
	r->dev = (u64)dev;
	r->busy = 0;
	return &r->c;
}

static u32 log2_bucket(u64 v)
{
	u32 b = 0;

	while (b < SWIOTLBSTAT_LAT_BUCKETS - 1 && (1ULL << (b + 1)) <= v)
		b++;
	return b;
}

static void count_map(struct device *dev, u64 size)
{
	struct swiotlb_counters *c = global();
	struct device_counters *d = device(dev);

	if (c)
		c->maps++;
	if (d)
		d->maps++;
}

static void count_unmap(struct device *dev)
{
	struct swiotlb_counters *c = global();
	struct device_counters *d = device(dev);

	if (c)
		c->unmaps++;
	if (d)
		d->unmaps++;
}

static void count_failure(struct device *dev, u64 size)
{
	struct swiotlb_counters *c = global();
	struct device_counters *d = device(dev);

	if (c) {
		c->map_failures++;
		c->map_failure_bytes += size;
	}
	if (!d)
		return;
	d->failures++;
	d->failure_bytes += size;
	if (size > d->largest_failure)
		d->largest_failure = size;
}

/* Raise *peak to in_use unless another CPU raised it higher meanwhile */
static void raise_peak(__s64 *peak, __s64 in_use)
{
	int i;

	for (i = 0; i < 4; i++) {
		__s64 seen = *peak;

		if (in_use <= seen ||
		    __sync_val_compare_and_swap(peak, seen, in_use) == seen)
			return;
	}
}

static void slots_taken(u32 n)
{
	raise_peak(&slots_peak, __sync_add_and_fetch(&slots_in_use, n));
}

static void pool_slots_taken(struct io_tlb_pool *pool, u32 n)
{
	struct pool_use empty = {}, *u;
	u64 key = (u64)pool;

	u = bpf_map_lookup_elem(&pool_use, &key);
	if (!u) {
		bpf_map_update_elem(&pool_use, &key, &empty, BPF_NOEXIST);
		u = bpf_map_lookup_elem(&pool_use, &key);
	}
	if (!u) {
		dms_count_lost(LOST_POOLS_FULL);
		return;
	}
	raise_peak(&u->peak, __sync_add_and_fetch(&u->in_use, n));
}

static void pool_slots_given_back(struct io_tlb_pool *pool, u32 n)
{
	u64 key = (u64)pool;
	struct pool_use *u = bpf_map_lookup_elem(&pool_use, &key);

	/* no entry: a pool user space could not enter; its peak is not shown */
	if (u)
		__sync_fetch_and_sub(&u->in_use, n);
}

static void slots_given_back(u32 n)
{
	__sync_fetch_and_sub(&slots_in_use, n);
}

/*
 * The slots a map of size bytes at orig_addr takes, as 6.1's
 * swiotlb_tbl_map_single() counts them: the device's minimum alignment
 * keeps the low bits of the address, within one slot
 */
static u32 slots_of(struct device *dev, u64 orig_addr, u64 size)
{
	struct device_dma_parameters *parms = BPF_CORE_READ(dev, dma_parms);
	u64 mask = parms ? BPF_CORE_READ(parms, min_align_mask) : 0;
	u64 offset = orig_addr & mask & (SWIOTLBSTAT_SLOT_SIZE - 1);

	return (size + offset + SWIOTLBSTAT_SLOT_SIZE - 1) / SWIOTLBSTAT_SLOT_SIZE;
}

static void mapping_made(struct device *dev, u64 tlb_addr, u64 orig_addr, u64 size)
{
	u32 n = slots_of(dev, orig_addr, size);

	if (bpf_map_update_elem(&live, &tlb_addr, &n, BPF_ANY))
		dms_count_lost(LOST_LIVE_FULL);
	else
		slots_taken(n);
}

static void mapping_gone(struct device *dev, u64 tlb_addr, u64 size)
{
	u32 *n = bpf_map_lookup_elem(&live, &tlb_addr);

	if (!n) {
		/* made before swiotlbstat started: counted in the baseline */
		slots_given_back(slots_of(dev, tlb_addr, size));
		return;
	}
	slots_given_back(*n);
	bpf_map_delete_elem(&live, &tlb_addr);
}

static u32 pool_kind(unsigned int kind)
{
	if (kind == bpf_core_enum_value(enum swiotlb_pool_kind, SWIOTLB_POOL_DYNAMIC))
		return KIND_DYNAMIC;
	if (kind == bpf_core_enum_value(enum swiotlb_pool_kind, SWIOTLB_POOL_TRANSIENT))
		return KIND_TRANSIENT;
	return KIND_DEFAULT;
}

/* ---- the swiotlb:* trace events (dmascope patches) ---- */

SEC("tp_btf/swiotlb_slot_alloc")
int BPF_PROG(tp_slot_alloc, struct device *dev, struct io_tlb_pool *pool,
	     unsigned int area, unsigned int index, unsigned int nslots, bool crossed)
{
	struct swiotlb_counters *c = global();

	count_map(dev, 0);
	if (follow_slots())
		slots_taken(nslots);
	if (follow_pools)
		pool_slots_taken(pool, nslots);
	if (c && crossed)
		c->crossed++;
	return 0;
}

SEC("tp_btf/swiotlb_slot_release")
int BPF_PROG(tp_slot_release, struct device *dev, struct io_tlb_pool *pool,
	     unsigned int area, unsigned int index, unsigned int nslots)
{
	count_unmap(dev);
	if (follow_slots())
		slots_given_back(nslots);
	if (follow_pools)
		pool_slots_given_back(pool, nslots);
	return 0;
}

SEC("tp_btf/swiotlb_map_fail")
int BPF_PROG(tp_map_fail, struct device *dev, u64 size)
{
	count_failure(dev, size);
	return 0;
}

SEC("tp_btf/swiotlb_pool_add")
int BPF_PROG(tp_pool_add, struct io_tlb_mem *mem, struct io_tlb_pool *pool,
	     unsigned int kind, unsigned long nslabs, unsigned int nareas,
	     unsigned int reason, u64 alloc_ns)
{
	struct pool_info info = { .alloc_ns = alloc_ns, .kind = pool_kind(kind),
				  .reason = reason };
	struct swiotlb_counters *c = global();
	u64 key = (u64)pool;
	long err;

	info.added_ns = bpf_ktime_get_ns();
	err = bpf_map_update_elem(&pools, &key, &info, BPF_ANY);
	if (err)
		dms_count_lost(err == -EBUSY ? LOST_NESTED : LOST_POOLS_FULL);
	if (!c || info.kind >= KINDS)
		return 0;
	c->pools_added[info.kind]++;
	c->pool_alloc_ns += alloc_ns;
	return 0;
}

SEC("tp_btf/swiotlb_pool_remove")
int BPF_PROG(tp_pool_remove, struct io_tlb_mem *mem, struct io_tlb_pool *pool,
	     unsigned int kind)
{
	struct swiotlb_counters *c = global();
	u64 key = (u64)pool;
	u32 k = pool_kind(kind);

	bpf_map_delete_elem(&pools, &key);
	bpf_map_delete_elem(&pool_use, &key);
	if (c && k < KINDS)
		c->pools_removed[k]++;
	return 0;
}

SEC("tp_btf/swiotlb_grow_fail")
int BPF_PROG(tp_grow_fail, struct io_tlb_mem *mem)
{
	struct swiotlb_counters *c = global();

	if (c)
		c->grow_failures++;
	return 0;
}

/* A map that bounces, whether it then finds room or not */
static void count_bounced(struct swiotlb_counters *c, struct device_counters *d, u64 size)
{
	c->bounced++;
	c->bounced_bytes += size;
	if (!d)
		return;
	d->bounced_bytes += size;
	if (size > d->largest)
		d->largest = size;
}

/*
 * Upstream's event, in every kernel: one per bounce buffer mapped.  Only
 * bounced mode needs it; the others see the same maps end in fexit.
 */
SEC("tp_btf/swiotlb_bounced")
int BPF_PROG(tp_bounced, struct device *dev, u64 dev_addr, u64 size)
{
	struct swiotlb_counters *c = global();

	if (c)
		count_bounced(c, device(dev), size);
	return 0;
}

/* ---- contention on the area locks (lock:* events, 5.19 and later) ---- */

SEC("tp_btf/contention_begin")
int BPF_PROG(contention_begin, void *lock, unsigned int flags)
{
	u64 addr = (u64)lock;

	if (bpf_map_lookup_elem(&area_locks, &addr))
		dms_wait_begin(addr, LOST_NESTED);
	return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(contention_end, void *lock, int ret)
{
	struct swiotlb_counters *c;
	u64 wait_ns;

	if (!dms_wait_end((u64)lock, &wait_ns))
		return 0;
	c = global();
	if (!c)
		return 0;
	c->area_lock_waits++;
	c->area_lock_wait_ns += wait_ns;
	return 0;
}

/* ---- the map function: every kernel with BTF ---- */

static __always_inline void map_started(void)
{
	u32 zero = 0, i;
	struct map_starts *s = bpf_map_lookup_elem(&starts, &zero);

	if (!s)
		return;
	i = s->depth;
	if (i >= SWIOTLBSTAT_DEPTH) {
		dms_count_lost(LOST_UNPAIRED);
		return;
	}
	i &= SWIOTLBSTAT_DEPTH - 1;	/* a no-op the 6.1 verifier needs */
	s->start_ns[i] = bpf_ktime_get_ns();
	s->tid[i] = (u32)bpf_get_current_pid_tgid();
	s->depth = i + 1;
}

static void count_latency(struct swiotlb_counters *c)
{
	u32 zero = 0, i, tid = (u32)bpf_get_current_pid_tgid();
	struct map_starts *s = bpf_map_lookup_elem(&starts, &zero);
	u64 ns;

	if (!s || !s->depth || s->depth > SWIOTLBSTAT_DEPTH) {
		dms_count_lost(LOST_UNPAIRED);
		return;
	}
	i = (s->depth - 1) & (SWIOTLBSTAT_DEPTH - 1);	/* as in map_started */
	s->depth = i;
	if (s->tid[i] != tid) {
		dms_count_lost(LOST_UNPAIRED);
		return;
	}
	ns = bpf_ktime_get_ns() - s->start_ns[i];
	c->latency[log2_bucket(ns)]++;
	c->latency_ns += ns;
}

static __always_inline void map_ended(void *ctx, struct device *dev, u64 orig_addr, u64 size,
				      u64 dir)
{
	struct swiotlb_counters *c = global();
	struct device_counters *d;
	u64 ret = 0;

	if (!c)
		return;
	count_latency(c);
	d = device(dev);
	count_bounced(c, d, size);
	bpf_get_func_ret(ctx, &ret);
	if (ret == DMA_MAPPING_ERROR) {
		if (count_maps)
			count_failure(dev, size);
		return;
	}
	if (count_maps) {
		count_map(dev, size);
		if (follow_slots())
			mapping_made(dev, ret, orig_addr, size);
	}
	c->map_bytes += size;
	/* in a register: the 6.1 verifier loses the bound of a reload */
	barrier_var(dir);
	if (d && dir < DIRS)
		d->bytes[dir] += size;
}

SEC("fentry/swiotlb_tbl_map_single")
int BPF_PROG(fentry_map)
{
	map_started();
	return 0;
}

/*
 * 6.1 to 6.9: (dev, orig_addr, mapping_size, alloc_size, alloc_align_mask,
 * dir, attrs); later kernels dropped alloc_size.  The direction is found
 * by the number of arguments.
 */
SEC("fexit/swiotlb_tbl_map_single")
int BPF_PROG(fexit_map, struct device *dev, u64 orig_addr, u64 size)
{
	u64 dir = 0, alloc_size = size;

	/* the slots are taken for alloc_size, where there is one */
	if (bpf_get_func_arg_cnt(ctx) == 7)
		bpf_get_func_arg(ctx, 3, &alloc_size);
	bpf_get_func_arg(ctx, bpf_get_func_arg_cnt(ctx) == 7 ? 5 : 4, &dir);
	map_ended(ctx, dev, orig_addr, alloc_size, dir);
	return 0;
}

/*
 * Where the seven arguments above are more than the kernel's trampolines
 * take (x86 before 6.6): dma-direct's swiotlb_map(), which every bounced
 * map of a device without an IOMMU goes through (dma-iommu's bounces of
 * untrusted devices do not).
 */
SEC("fentry/swiotlb_map")
int BPF_PROG(fentry_swiotlb_map)
{
	map_started();
	return 0;
}

SEC("fexit/swiotlb_map")
int BPF_PROG(fexit_swiotlb_map, struct device *dev, u64 paddr, u64 size, u64 dir)
{
	/* returns the bounce buffer's DMA address: its physical one on x86 */
	map_ended(ctx, dev, paddr, size, dir);
	return 0;
}

/* fentry mode: unmaps (6.1 to 6.9, then the function behind an inline) */
SEC("fentry/swiotlb_tbl_unmap_single")
int BPF_PROG(fentry_unmap, struct device *dev, u64 tlb_addr, u64 size)
{
	count_unmap(dev);
	if (follow_slots())
		mapping_gone(dev, tlb_addr, size);
	return 0;
}

SEC("fentry/__swiotlb_tbl_unmap_single")
int BPF_PROG(fentry_unmap_pool, struct device *dev, u64 tlb_addr, u64 size)
{
	count_unmap(dev);
	if (follow_slots())
		mapping_gone(dev, tlb_addr, size);
	return 0;
}

/*
 * Kernels without CONFIG_KALLSYMS_ALL do not list io_tlb_default_mem; any
 * device points to it.  User space reads one attribute of a device that
 * cannot have a restricted pool (/sys/devices/virtual/mem/null/dev) once.
 */
SEC("fentry/dev_attr_show")
int BPF_PROG(fentry_dev_attr_show, struct kobject *kobj)
{
	if (mem_addr || bpf_get_current_pid_tgid() >> 32 != self_tgid)
		return 0;
	note_mem((struct device *)((void *)kobj - bpf_core_field_offset(struct device, kobj)));
	return 0;
}

/*
 * The same without fentry: a block device's own struct device has the
 * default allocator too, and block I/O happens on most machines (user
 * space reads a block of its own executable to be sure).
 */
SEC("tp_btf/block_bio_queue")
int BPF_PROG(tp_bio_queue, struct bio *bio)
{
	struct block_device *bdev;

	if (mem_addr)
		return 0;
	bdev = BPF_CORE_READ(bio, bi_bdev);
	if (bdev)
		note_mem(&bdev->bd_device);
	return 0;
}

/* ---- snapshot: run by user space at each interval ---- */

/* The pool being read: one area per step, then the next pool on the list */
struct walk {
	u64 head;		/* &mem->pools, 0 without a list */
	u64 defpool;		/* upstream lists the boot pool too: skip it */
	u64 pool;
	struct io_tlb_area *areas;
	u64 used;
	u64 nslabs;
	u64 created;
	u32 nareas;
	u32 area;
	u32 kind;
	u32 n;			/* pools recorded */
};

/*
 * When the pool was made, in jiffies, or ~0.  User space turns it into an
 * age: CONFIG_HZ through __kconfig would need the kernel's config file,
 * which many machines (and the lab) do not have.
 */
static u64 pool_created(struct io_tlb_pool *pool)
{
	if (!bpf_core_field_exists(pool->created))
		return ~0ULL;
	return BPF_CORE_READ(pool, created);
}

static void enter_pool(struct walk *w, u64 addr)
{
	struct io_tlb_pool *pool = (void *)addr;

	w->pool = addr;
	w->nslabs = BPF_CORE_READ(pool, nslabs);
	w->nareas = BPF_CORE_READ(pool, nareas);
	w->areas = BPF_CORE_READ(pool, areas);
	w->used = 0;
	w->area = walk_zero;
	w->created = addr == w->defpool ? ~0ULL : pool_created(pool);
	if (addr == w->defpool)
		w->kind = KIND_DEFAULT;
	else if (bpf_core_field_exists(pool->kind))
		w->kind = pool_kind(BPF_CORE_READ(pool, kind));
	else if (bpf_core_field_exists(pool->transient) && BPF_CORE_READ(pool, transient))
		w->kind = KIND_TRANSIENT;
	else
		w->kind = KIND_DYNAMIC;
}

static void record_pool(struct walk *w)
{
	u32 n = w->n;
	struct pool_state *p;

	if (!w->nslabs)			/* SWIOTLB was never set up: no pool */
		return;
	state.used += w->used;
	if (n >= SWIOTLBSTAT_MAX_POOLS) {
		state.truncated = 1;
		return;
	}
	p = &state.pools[n];
	p->addr = w->pool;
	p->nslabs = w->nslabs;
	p->used = w->used;
	p->nareas = w->nareas;
	p->kind = w->kind;
	p->created = w->created;
	w->n = n + 1;
	state.npools = n + 1;
}

/*
 * The next pool on the list after the current one; false at the end.
 * (The pointers are taken out of struct walk before BPF_CORE_READ: inside
 * it, w->head would become a relocation against the kernel's BTF too.)
 */
static bool next_pool(struct walk *w)
{
	struct list_head *head = (void *)w->head;
	struct io_tlb_pool *pool = (void *)w->pool;
	u64 next;

	if (!head)
		return false;
	if (w->pool == w->defpool && w->defpool != w->head)
		next = (u64)BPF_CORE_READ(head, next);
	else
		next = (u64)BPF_CORE_READ(pool, node.next);
	if (!next) {			/* a failed read: stop here */
		dms_count_lost(LOST_READS);
		return false;
	}
	next -= bpf_core_field_offset(struct io_tlb_pool, node);
	pool = (void *)next;
	if (next == w->defpool)		/* upstream: the boot pool is listed first */
		next = (u64)BPF_CORE_READ(pool, node.next) -
		       bpf_core_field_offset(struct io_tlb_pool, node);
	if (next + bpf_core_field_offset(struct io_tlb_pool, node) == w->head)
		return false;
	enter_pool(w, next);
	return true;
}

/* An area's lock, watched for contention until its pool is gone */
static void watch_area_lock(void *area)
{
	u64 lock = (u64)area + bpf_core_field_offset(struct io_tlb_area, lock);

	if (bpf_map_update_elem(&area_locks, &lock, &state.generation, BPF_ANY))
		dms_count_lost(LOST_LOCKS_FULL);
}

static long walk_step(u32 index, struct walk *w)
{
	struct io_tlb_area *areas = w->areas;
	u32 area = w->area;
	unsigned long used;
	void *a;

	if (area < w->nareas) {
		a = (void *)areas + area * bpf_core_type_size(struct io_tlb_area);
		if (bpf_probe_read_kernel(&used, sizeof(used),
					  a + bpf_core_field_offset(struct io_tlb_area, used)))
			dms_count_lost(LOST_READS);
		else
			w->used += used;
		watch_area_lock(a);
		w->area = area + 1;
		return 0;
	}
	record_pool(w);
	if (!next_pool(w)) {
		w->head = 0;
		w->nareas = 0;
		return 1;
	}
	return 0;
}

static void read_totals(struct io_tlb_mem *mem)
{
	state.nslabs = BPF_CORE_READ(mem, nslabs);
	if (bpf_core_field_exists(mem->transient_nslabs)) {
		state.has_transient = 1;
		state.transient_nslabs = BPF_CORE_READ(mem, transient_nslabs);
	} else if (bpf_core_field_exists(((struct io_tlb_mem___atomic *)mem)->transient_nslabs)) {
		state.has_transient = 1;
		state.transient_nslabs =
			BPF_CORE_READ((struct io_tlb_mem___atomic *)mem, transient_nslabs.counter);
	}
}

static void read_state(u64 addr)
{
	struct io_tlb_mem *mem = (void *)addr;
	struct walk w = { .n = walk_zero };

	if (bpf_core_field_exists(mem->defpool)) {
		state.layout = LAYOUT_POOLS;
		w.defpool = (u64)&mem->defpool;
		/*
		 * A list never set up (no SWIOTLB at boot, as behind an IOMMU,
		 * on a kernel that initialises it in swiotlb_init()) is all
		 * zeroes: nothing to follow.
		 */
		if (bpf_core_field_exists(mem->pools) && BPF_CORE_READ(mem, pools.next))
			w.head = (u64)&mem->pools;
		read_totals(mem);
		enter_pool(&w, w.defpool);
	} else {
		struct io_tlb_mem___v61 *old = (void *)addr;

		state.layout = LAYOUT_SINGLE;
		w.pool = addr;
		w.defpool = addr;
		w.nslabs = state.nslabs = BPF_CORE_READ(old, nslabs);
		w.nareas = BPF_CORE_READ(old, nareas);
		w.areas = BPF_CORE_READ(old, areas);
		w.area = walk_zero;
		w.created = ~0ULL;
		w.kind = KIND_DEFAULT;
	}
	/* in both layouts (6.4 and 6.5 have it without the pool list) */
	if (!follow_slots()) {
		state.has_hiwater = 1;
		state.hiwater = BPF_CORE_READ(mem, used_hiwater.counter);
	}
	bpf_loop(SWIOTLBSTAT_WALK_STEPS, walk_step, &w, 0);
	if (w.nareas)
		dms_count_lost(LOST_WALK);
}

SEC("syscall")
int snapshot(void *ctx)
{
	if (!looked_up) {
		u64 addr = 0;

		dms_find_symbol("io_tlb_default_mem", &addr);
		if (addr && __sync_val_compare_and_swap(&mem_addr, 0, addr) == 0)
			mem_found = FOUND_KALLSYMS;
		looked_up = 1;
	}
	/* the pools[] past npools are stale, and not read */
	state.nslabs = state.used = state.hiwater = state.transient_nslabs = 0;
	state.layout = state.has_hiwater = state.has_transient = 0;
	state.npools = state.truncated = 0;
	state.mem = mem_addr;
	state.found = mem_found;
	state.jiffies = bpf_jiffies64();
	state.ktime_ns = bpf_ktime_get_ns();
	state.generation++;
	if (mem_addr)
		read_state(mem_addr);
	return 0;
}
