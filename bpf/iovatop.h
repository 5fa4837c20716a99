/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by bpf/iovatop.bpf.c and tools/iovatop.c.
 *
 * The BPF side keeps cumulative counters (never reset, so nothing is lost
 * between two reads); user space turns them into per-interval deltas.
 */
#ifndef IOVATOP_H
#define IOVATOP_H

#define IOVATOP_MAX_CPUS	64	/* CPUs whose caches are read */
#define IOVATOP_MAX_DOMAINS	1024
#define IOVATOP_CACHED_ORDERS	6	/* sizes 2^0..2^5 pages are cached */
#define IOVATOP_ORDER_LARGE	6	/* bucket for larger, uncached sizes */
#define IOVATOP_ORDERS		7
#define IOVATOP_ORDER_DOMAIN	7	/* stats key of domain-wide counters */
#define IOVATOP_MAX_GROUPS	512	/* IOMMU groups walked at discovery */
#define IOVATOP_MAX_DEPTH	64	/* parent pointers followed per insert */
#define IOVATOP_MAG_SIZE	127	/* IOVAs per full magazine */
#define IOVATOP_MAG_BYTES	1024	/* memory of one magazine */

/* Where an allocation was served from (the kernel's enum iova_alloc_result) */
enum iovatop_alloc_result {
	ALLOC_LOADED,
	ALLOC_PREV,
	ALLOC_DEPOT,
	ALLOC_MISS,
	ALLOC_BYPASS,
	ALLOC_HIT,	/* fentry fallback: a cache hit of unknown source */
	ALLOC_RESULTS,
};

/* Where a free went (the kernel's enum iova_free_result) */
enum iovatop_free_result {
	FREE_LOADED,
	FREE_PREV,
	FREE_NEW_MAG,
	FREE_DEPOT_FULL,
	FREE_NO_MAG,
	FREE_BYPASS,
	FREE_CACHED,	/* fentry fallback: cached, place unknown */
	FREE_TREE,	/* fentry fallback: went to the rbtree */
	FREE_RESULTS,
};

/* Why cached IOVAs went back to the rbtree */
enum iovatop_reclaim_reason {
	RECLAIM_DEPOT_FULL,
	RECLAIM_DEPOT_TRIM,
	RECLAIM_ALLOC_RETRY,
	RECLAIM_CPU_DEAD,
	RECLAIM_IDLE,
	RECLAIM_TEARDOWN,
	RECLAIM_UNKNOWN,	/* fentry fallback */
	RECLAIM_REASONS,
};

enum iovatop_lock_kind {
	LOCK_RBTREE,
	LOCK_DEPOT,
	LOCK_CPU,
	LOCK_KINDS,
};

/* How the tool observes the allocator (chosen at start-up) */
enum iovatop_mode {
	MODE_COUNTERS,		/* iova.stats counters + the rare iova:* events */
	MODE_TRACEPOINT,	/* every iova:* event of the dmascope patches */
	MODE_FENTRY,		/* fentry/fexit on exported functions */
};

/* Things the BPF side could not record; shown, never hidden */
enum iovatop_lost {
	LOST_DOMAINS_FULL,	/* a new domain did not fit the domains map */
	LOST_STATS_FULL,	/* a counter did not fit the stats map */
	LOST_LOCKS_FULL,	/* a lock address did not fit its map */
	LOST_READS,		/* a kernel read (probe_read) failed */
	LOST_NESTED,		/* nested contexts: an event could not be paired */
	LOST_CPUS,		/* CPUs beyond IOVATOP_MAX_CPUS not read */
	LOST_TREE_WALK,		/* a node count walk stopped at its limit */
	LOST_KINDS,
};

struct stats_key {
	__u64 iovad;
	__u32 order;		/* 0..5, IOVATOP_ORDER_LARGE */
	__u32 pad;
};

/* Cumulative counters of one domain and size class */
struct iova_counters {
	__u64 alloc[ALLOC_RESULTS];
	__u64 free[FREE_RESULTS];
	__u64 depot_push;
	__u64 depot_pop;
	__u64 tree_alloc;
	__u64 tree_alloc_fail;
	__u64 tree_retry;	/* searched again from the limit */
	__u64 tree_free;
	__u64 walk_sum;		/* nodes visited by tree allocations */
	__u64 walk_max;
	__u64 depth_sum;	/* depth of inserted nodes */
	__u64 depth_max;
	__u64 depth_count;
	__u64 release[RECLAIM_REASONS];		/* magazines emptied */
	__u64 released[RECLAIM_REASONS];	/* IOVAs they held */
	__u64 release_ns;	/* time under the rbtree lock releasing */
	__u64 flush[RECLAIM_REASONS];		/* cache flushes that freed */
	__u64 flushed[RECLAIM_REASONS];		/* IOVAs they freed */
};

/*
 * The light views' count of alloc_iova_fast() calls, per domain (key: the
 * iova_domain) and size class: one small per-CPU value per domain
 */
struct light_calls {
	__u64 calls[IOVATOP_ORDERS];
};

struct lock_key {
	__u64 iovad;
	__u32 kind;		/* enum iovatop_lock_kind */
	__u32 pad;
};

struct lock_stats {
	__u64 wait_ns;
	__u64 count;
	__u64 max_ns;
};

/* What a lock address belongs to */
struct lock_owner {
	__u64 iovad;
	__u32 kind;
	__u32 pad;
};

enum iovatop_domain_kind {
	DOMAIN_UNKNOWN,		/* seen only through its activity */
	DOMAIN_IOMMU_DMA,	/* an IOMMU group's DMA domain */
	DOMAIN_PRIVATE,		/* created by someone else (VDUSE, tests) */
};

struct domain_info {
	__u64 iovad;
	__u64 owner_ip;		/* who called init_iova_domain (tracepoint) */
	__u64 first_seen_ns;
	__u64 destroyed_ns;	/* put_iova_domain() seen: report, then forget */
	__s32 group;		/* IOMMU group id, -1 if none */
	__u32 kind;		/* enum iovatop_domain_kind */
	char device[32];	/* from iova_domain_device, if seen */
};

/* The exact state of one domain's caches, read at each interval */
struct cache_state {
	__u64 granule;
	__u64 nodes;		/* rbtree nodes (anchor excluded) */
	__u64 depot[IOVATOP_CACHED_ORDERS];	/* full magazines */
	__u32 loaded[IOVATOP_CACHED_ORDERS][IOVATOP_MAX_CPUS];
	__u32 prev[IOVATOP_CACHED_ORDERS][IOVATOP_MAX_CPUS];
	/* outcome counters of the CPU caches (iova.stats), summed over CPUs */
	__u64 alloc_count[IOVATOP_CACHED_ORDERS][ALLOC_BYPASS];	/* loaded..miss */
	__u64 free_count[IOVATOP_CACHED_ORDERS][ALLOC_BYPASS];	/* loaded, prev, new_mag, no_mag */
	__u32 ncpus;		/* CPUs read */
	__u32 valid;		/* 0: the domain was gone or unreadable */
	__u32 has_counts;	/* the kernel has the counters */
	__u32 pad;
};

#endif /* IOVATOP_H */
