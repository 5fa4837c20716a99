/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by bpf/swiotlbstat.bpf.c and tools/swiotlbstat.c.
 *
 * Event counters are cumulative (never reset: nothing is lost between
 * two reads); user space turns them into per-interval deltas.  The pool
 * state is read afresh at each interval by the "snapshot" program.
 */
#ifndef SWIOTLBSTAT_H
#define SWIOTLBSTAT_H

#define SWIOTLBSTAT_MAX_POOLS	64	/* pools read per snapshot */
#define SWIOTLBSTAT_MAX_DEVICES	512	/* per-CPU values: 88 bytes x CPUs each */
#define SWIOTLBSTAT_WALK_STEPS	(1 << 20)	/* pools + areas read per snapshot */
#define SWIOTLBSTAT_LAT_BUCKETS	32	/* log2 buckets of nanoseconds */
#define SWIOTLBSTAT_SLOT_SIZE	2048	/* IO_TLB_SIZE: 1 << IO_TLB_SHIFT */
#define SWIOTLBSTAT_DEPTH	4	/* nested maps per CPU (interrupts); a power of 2 */
#define SWIOTLBSTAT_MAX_AREAS	16384	/* area locks watched (of every pool) */
#define SWIOTLBSTAT_MAX_LIVE	32768	/* mappings in flight followed (fentry mode) */
#define SWIOTLBSTAT_MAX_POOL_USE	4096	/* pools whose use is followed (tracepoint mode) */

enum swiotlbstat_kind {
	KIND_DEFAULT,
	KIND_DYNAMIC,
	KIND_TRANSIENT,
	KINDS,
};

/* enum dma_data_direction, stable since 2.6 */
enum swiotlbstat_dir {
	DIR_BIDIRECTIONAL,
	DIR_TO_DEVICE,
	DIR_FROM_DEVICE,
	DIRS,
};

/* How the allocator is laid out in this kernel (read by CO-RE) */
enum swiotlbstat_layout {
	LAYOUT_UNKNOWN,		/* io_tlb_default_mem not found */
	LAYOUT_SINGLE,		/* 6.1: the pool inside io_tlb_mem */
	LAYOUT_POOLS,		/* 6.6+ or dmascope patches: defpool (+ a list) */
};

/* Where the address of io_tlb_default_mem came from */
enum swiotlbstat_found {
	FOUND_NOT,
	FOUND_KALLSYMS,
	FOUND_DEVICE,		/* dev->dma_io_tlb_mem of a device seen */
};

/* Things the BPF side could not record; shown, never hidden */
enum swiotlbstat_lost {
	LOST_DEVICES_FULL,	/* a device did not fit the devices map */
	LOST_POOLS_FULL,	/* a pool did not fit the pool maps */
	LOST_READS,		/* a kernel read failed */
	LOST_WALK,		/* the pool walk stopped at its limit */
	LOST_UNPAIRED,		/* a map's end without its start */
	LOST_NESTED,		/* an insert nested in another on its CPU (EBUSY) */
	LOST_LOCKS_FULL,	/* an area lock did not fit the area_locks map */
	LOST_LIVE_FULL,		/* a mapping did not fit the live map: in-use too low */
	LOST_KINDS,
};

/* Global counters, per CPU */
struct swiotlb_counters {
	__u64 maps;
	__u64 map_bytes;
	__u64 unmaps;
	__u64 crossed;		/* slots from another CPU's area (tracepoint) */
	__u64 bounced;		/* swiotlb_bounced events */
	__u64 bounced_bytes;
	__u64 map_failures;
	__u64 map_failure_bytes;
	__u64 grow_failures;
	__u64 pools_added[KINDS];
	__u64 pools_removed[KINDS];
	__u64 pool_alloc_ns;	/* time the added pools took to allocate */
	__u64 latency[SWIOTLBSTAT_LAT_BUCKETS];	/* maps by log2(ns) */
	__u64 latency_ns;	/* sum */
	__u64 area_lock_waits;	/* an area lock found taken (contention_begin) */
	__u64 area_lock_wait_ns;	/* time waited for it */
};

/* Per device, per CPU; key: the struct device pointer */
struct device_counters {
	__u64 maps;
	__u64 bytes[DIRS];	/* mapped, by direction */
	__u64 bounced_bytes;
	__u64 unmaps;
	__u64 failures;
	__u64 failure_bytes;
	__u64 largest;		/* largest mapping (a maximum, not a sum) */
	__u64 largest_failure;
};

/*
 * Per CPU: the device whose events this CPU saw last, and its counters
 * since; added to the device's entry in devices when another one comes
 * (bpf/swiotlbstat.bpf.c), and by user space to the device's row
 */
struct recent_device {
	__u64 dev;		/* the struct device pointer; 0: none yet */
	__u64 busy;		/* being added to devices */
	struct device_counters c;
};

struct device_info {
	char name[48];
	char driver[32];
};

/* tracepoint mode: the slots of one pool in use, and their peak */
struct pool_use {
	__s64 in_use;
	__s64 peak;
};

/* Seen added by a swiotlb_pool_add event; key: the pool pointer */
struct pool_info {
	__u64 added_ns;		/* bpf_ktime_get_ns() */
	__u64 alloc_ns;		/* how long its allocation took */
	__u32 kind;
	__u32 reason;
};

struct pool_state {
	__u64 addr;
	__u64 nslabs;
	__u64 used;
	__u64 created;		/* jiffies, from the pool's own "created", or ~0 */
	__u32 nareas;
	__u32 kind;		/* enum swiotlbstat_kind */
};

/* What the snapshot program read; in its .bss */
struct swiotlb_state {
	__u64 mem;		/* &io_tlb_default_mem, 0 if not found */
	__u64 nslabs;		/* io_tlb_nslabs: every pool but transient */
	__u64 used;		/* sum of every area's used */
	__u64 hiwater;		/* io_tlb_used_hiwater, if the kernel has it */
	__u64 transient_nslabs;
	__u64 jiffies;		/* when read: user space finds HZ from two reads */
	__u64 ktime_ns;
	__u64 generation;	/* snapshots taken; area_locks' values */
	__u32 found;		/* enum swiotlbstat_found */
	__u32 layout;		/* enum swiotlbstat_layout */
	__u32 has_hiwater;
	__u32 has_transient;
	__u32 npools;		/* in pools[] */
	__u32 truncated;	/* more pools than SWIOTLBSTAT_MAX_POOLS */
	struct pool_state pools[SWIOTLBSTAT_MAX_POOLS];
};

#endif /* SWIOTLBSTAT_H */
