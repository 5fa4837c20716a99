/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel types dmascope's BPF programs read, declared for CO-RE:
 * only the fields used, relocated by name against the running kernel's
 * BTF, so one object works on 6.1 with and without the dmascope patches.
 * (A full vmlinux.h would be megabytes and tied to one kernel build.)
 */
#ifndef DMASCOPE_KERNEL_TYPES_H
#define DMASCOPE_KERNEL_TYPES_H

#include <linux/types.h>
#include <linux/bpf.h>

typedef __u8 u8;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#define __core __attribute__((preserve_access_index))

struct list_head {
	struct list_head *next, *prev;
} __core;

struct spinlock {
	int dummy;
} __core;

struct rb_node {
	unsigned long __rb_parent_color;
	struct rb_node *rb_right;
	struct rb_node *rb_left;
} __core;

struct rb_root {
	struct rb_node *rb_node;
} __core;

struct iova {
	struct rb_node node;
	unsigned long pfn_hi;
	unsigned long pfn_lo;
} __core;

struct iova_magazine {
	unsigned long size;	/* in a union with "next" on patched kernels */
} __core;

struct iova_cpu_rcache {
	struct spinlock lock;
	struct iova_magazine *loaded;
	struct iova_magazine *prev;
	unsigned long alloc_count[4];	/* dmascope patches: iova.stats */
	unsigned long free_count[4];
} __core;

/* The depot is an array on 6.1 and a list with the patches: not read */
struct iova_rcache {
	struct spinlock lock;
	unsigned long depot_size;
	struct iova_cpu_rcache *cpu_rcaches;	/* __percpu */
} __core;

struct hlist_node {
	struct hlist_node *next;
} __core;

struct hlist_head {
	struct hlist_node *first;
} __core;

/* Every domain with caches is on the CPU-hotplug list of this state */
enum cpuhp_state {
	CPUHP_IOMMU_IOVA_DEAD,
};

struct cpuhp_step {
	struct hlist_head list;
} __core;

struct iova_domain {
	struct spinlock iova_rbtree_lock;
	struct rb_root rbroot;
	unsigned long granule;
	unsigned long start_pfn;
	unsigned long nr_nodes;		/* dmascope patches only */
	struct iova_rcache *rcaches;
	struct hlist_node cpuhp_dead;
} __core;

struct kobject {
	const char *name;
	struct list_head entry;
} __core;

struct kset {
	struct list_head list;
} __core;

struct device_driver {
	const char *name;
} __core;

struct io_tlb_mem;

struct device_dma_parameters {
	unsigned int min_align_mask;
} __core;

struct device {
	struct kobject kobj;
	struct device_driver *driver;
	struct device_dma_parameters *dma_parms;
	struct io_tlb_mem *dma_io_tlb_mem;	/* CONFIG_SWIOTLB */
} __core;

enum iommu_dma_cookie_type {
	IOMMU_DMA_IOVA_COOKIE,
	IOMMU_DMA_MSI_COOKIE,
};

struct iommu_dma_cookie {
	enum iommu_dma_cookie_type type;	/* before 6.15 */
	struct iova_domain iovad;	/* in an anonymous union and struct */
} __core;

/* 6.15 moved the cookie's type to the domain */
enum iommu_domain_cookie_type {
	IOMMU_COOKIE_DMA_IOVA = 1,
};

struct iommu_domain {
	unsigned int type;
	enum iommu_domain_cookie_type cookie_type;	/* 6.15 and later */
	struct iommu_dma_cookie *iova_cookie;
} __core;

struct iommu_group {
	struct kobject kobj;
	int id;
	struct iommu_domain *default_domain;
	struct iommu_domain *domain;
} __core;

struct block_device {
	struct device bd_device;
} __core;

struct bio {
	struct block_device *bi_bdev;
} __core;

/* ---- SWIOTLB ---- */

typedef struct {
	s64 counter;
} atomic64_t;
typedef atomic64_t atomic_long_t;

struct io_tlb_area {
	unsigned long used;
	struct spinlock lock;
} __core;

/* One pool: 6.6 and later, and 6.1 with the dmascope patches */
struct io_tlb_pool {
	unsigned long nslabs;
	unsigned int nareas;
	struct io_tlb_area *areas;
	struct list_head node;		/* CONFIG_SWIOTLB_DYNAMIC */
	unsigned int kind;		/* dmascope patches: enum swiotlb_pool_kind */
	bool transient;			/* upstream 6.6+ */
	unsigned long created;		/* dmascope patches: jiffies */
} __core;

/*
 * The allocator.  In 6.6 and later and with the dmascope patches it
 * holds the boot pool as defpool and nslabs counts every pool but the
 * transient ones; added pools are on the list "pools" (upstream puts
 * defpool on it too, the patches do not).
 */
struct io_tlb_mem {
	struct io_tlb_pool defpool;
	unsigned long nslabs;
	struct list_head pools;			/* CONFIG_SWIOTLB_DYNAMIC */
	unsigned long transient_nslabs;		/* dmascope patches */
	atomic_long_t used_hiwater;		/* CONFIG_DEBUG_FS, 6.4+ or patches */
} __core;

/* 6.9 and later count transient slots in an atomic (CONFIG_DEBUG_FS) */
struct io_tlb_mem___atomic {
	atomic_long_t transient_nslabs;
} __core;

/* 6.1: the one pool's fields are the allocator's own */
struct io_tlb_mem___v61 {
	unsigned long nslabs;
	unsigned int nareas;
	struct io_tlb_area *areas;
} __core;

enum swiotlb_pool_kind {
	SWIOTLB_POOL_DEFAULT,
	SWIOTLB_POOL_DYNAMIC,
	SWIOTLB_POOL_TRANSIENT,
};

/*
 * Outcomes passed by the iova:* trace events.  Their values are read
 * from the running kernel with bpf_core_enum_value(), never assumed.
 */
enum iova_alloc_result {
	IOVA_ALLOC_LOADED,
	IOVA_ALLOC_PREV,
	IOVA_ALLOC_DEPOT,
	IOVA_ALLOC_MISS,
	IOVA_ALLOC_BYPASS,
};

enum iova_free_result {
	IOVA_FREE_LOADED,
	IOVA_FREE_PREV,
	IOVA_FREE_NEW_MAG,
	IOVA_FREE_DEPOT_FULL,
	IOVA_FREE_NO_MAG,
	IOVA_FREE_BYPASS,
};

enum iova_reclaim_reason {
	IOVA_RECLAIM_DEPOT_FULL,
	IOVA_RECLAIM_DEPOT_TRIM,
	IOVA_RECLAIM_ALLOC_RETRY,
	IOVA_RECLAIM_CPU_DEAD,
	IOVA_RECLAIM_IDLE,
	IOVA_RECLAIM_TEARDOWN,
};

#endif /* DMASCOPE_KERNEL_TYPES_H */
