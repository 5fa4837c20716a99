// SPDX-License-Identifier: GPL-2.0
/*
 * The smallest BPF consumer of the swiotlb:* pool events, attached as
 * tp_btf: the events pass the pool pointer and plain numbers so that a
 * program can use both directly, without bpf_probe_read.  The lab test
 * checks that the pointer and the number agree and that every event of
 * perf's record reached this program too.
 */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* struct io_tlb_pool: its nslabs, from kernel_types.h */

__u64 adds, add_slabs, add_pool_slabs;
__u64 removes, remove_slabs, remove_pool_slabs;

SEC("tp_btf/swiotlb_pool_add")
int BPF_PROG(pool_add, struct io_tlb_mem *mem, struct io_tlb_pool *pool,
	     unsigned int kind, unsigned long nslabs)
{
	__sync_fetch_and_add(&adds, 1);
	__sync_fetch_and_add(&add_slabs, nslabs);
	__sync_fetch_and_add(&add_pool_slabs, pool->nslabs);
	return 0;
}

SEC("tp_btf/swiotlb_pool_remove")
int BPF_PROG(pool_remove, struct io_tlb_mem *mem, struct io_tlb_pool *pool,
	     unsigned int kind, unsigned long nslabs)
{
	__sync_fetch_and_add(&removes, 1);
	__sync_fetch_and_add(&remove_slabs, nslabs);
	__sync_fetch_and_add(&remove_pool_slabs, pool->nslabs);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
