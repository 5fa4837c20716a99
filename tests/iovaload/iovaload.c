// SPDX-License-Identifier: GPL-2.0
/*
 * iovaload: a deterministic IOVA load generator for dmascope's tests.
 *
 * It drives the exported IOVA API (init_iova_domain, alloc_iova_fast,
 * free_iova_fast, put_iova_domain, as VDUSE does) on a private
 * iova_domain, from the CPUs a test names, so that the outcome of every
 * cache operation can be predicted exactly.  It also maps through a
 * device's DMA domain with dma_map_single() when asked.
 *
 * Control: write one command per write() to
 * /sys/kernel/debug/iovaload/control; the write returns when the command
 * is done (or fails with -EINVAL, -ENODEV, -EBUSY, -ENOMEM).  Read what
 * was done from /sys/kernel/debug/iovaload/status.  Commands:
 *
 *   create [granule=B] [start_pfn=P]   a new domain (one at a time)
 *   destroy                            put_iova_domain() on it
 *   alloc cpu=K n=N [size=S|order=O] [limit=32|64] [flush=0|1]
 *                                      allocate N IOVAs of S pages on
 *                                      CPU K and hold them
 *   free cpu=K [n=N] [how=fifo|lifo|alternate]
 *                                      free held IOVAs on CPU K: oldest
 *                                      first, newest first, or every
 *                                      other one (the rest stay held)
 *   rotate n=N [size=S|order=O] [rounds=R]
 *                                      on each online CPU in turn:
 *                                      allocate N, free them (seed 003)
 *   concurrent n=N [size=S|order=O] [rounds=R]
 *                                      the same on all CPUs at once
 *   mixed cpu=K n=N                    N IOVAs of each of a set of sizes,
 *                                      some above the cached range, then
 *                                      free them
 *   fill cpu=K [size=S] [limit=32] [max=M]
 *                                      allocate with flush=1 until an
 *                                      allocation fails (or M succeeded)
 *   map dev=NAME cpu=K n=N [bytes=B]   dma_map_single() N buffers on the
 *                                      device, then unmap them
 *   cycle dev=NAME cpu=K n=N [bytes=B] [batch=M]
 *                                      map M buffers (1 to 64), unmap
 *                                      them, until N were; status gives
 *                                      the time spent in map and in unmap
 *                                      and the median per call
 *   hold dev=NAME n=N [bytes=B]        map N buffers and keep them mapped
 *                                      (to fill bounce buffer pools)
 *   release                            unmap every held mapping
 *   contend dev=NAME rounds=R [hold_us=H]
 *                                      hold the lock of the first area of
 *                                      the device's bounce buffers while
 *                                      two other CPUs wait for it: one
 *                                      lock:contention_begin/end pair a
 *                                      round (see cmd_contend)
 *   contend lock=rbtree|depot|cpu rounds=R [hold_us=H]
 *                                      the same with a lock of the domain:
 *                                      its rbtree's, the depot's of the
 *                                      smallest size class, or the cache
 *                                      lock of that class on the first
 *                                      online CPU
 *   reset                              zero the counters
 */
#include <linux/cpu.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/iova.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/swiotlb.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#define CMD_MAX 256
#define MAX_ARGS 8

struct held_iova {
	unsigned long pfn;
	unsigned long size;
};

/* IOVAs allocated and not yet freed, oldest first */
struct held_list {
	struct held_iova *v;
	unsigned long n, cap;
};

struct counters {
	atomic64_t allocs;		/* alloc_iova_fast() calls */
	atomic64_t alloc_failures;	/* ... that returned 0 */
	atomic64_t frees;		/* free_iova_fast() calls */
	atomic64_t maps;		/* dma_map_single() calls that worked */
	atomic64_t map_failures;
	atomic64_t unmaps;
	atomic64_t map_ns;		/* time in dma_map_single() (cycle) */
	atomic64_t unmap_ns;		/* time in dma_unmap_single() (cycle) */
	atomic64_t contended;		/* rounds of contend */
	atomic64_t contend_hold_ns;	/* time the lock was held in them */
};

/* Mappings that "hold" made and "release" undoes, all of one device */
struct held_maps {
	struct device *dev;
	void *buf;			/* what they map; one buffer for all */
	dma_addr_t *addr;
	unsigned long n, cap, bytes;
};

static DEFINE_MUTEX(lock);	/* one command at a time */
static struct iova_domain *iovad;
static unsigned long granule_shift;
static struct held_list held;
static struct held_maps held_maps;
static u64 cycle_map_median_ns, cycle_unmap_median_ns;	/* last cycle */
static struct counters count;
static int last_error;
static u64 last_ns;		/* how long the last command took */
static char last_command[CMD_MAX];
static struct dentry *dir;

/* ---- command arguments ---- */

struct args {
	int n;
	char *key[MAX_ARGS];
	char *val[MAX_ARGS];
};

static int parse_command_args(char *line, struct args *a)
{
	char *tok;

	a->n = 0;
	while ((tok = strsep(&line, " \t\n")) != NULL) {
		char *eq;

		if (!*tok)
			continue;
		if (a->n == MAX_ARGS)
			return -EINVAL;
		eq = strchr(tok, '=');
		if (!eq)
			return -EINVAL;
		*eq = '\0';
		a->key[a->n] = tok;
		a->val[a->n] = eq + 1;
		a->n++;
	}
	return 0;
}

static const char *arg_str(struct args *a, const char *key)
{
	int i;

	for (i = 0; i < a->n; i++)
		if (!strcmp(a->key[i], key))
			return a->val[i];
	return NULL;
}

/* Unknown keys are errors, so that a typo cannot pass unnoticed */
static int check_keys(struct args *a, const char *const *allowed)
{
	int i, j;

	for (i = 0; i < a->n; i++) {
		for (j = 0; allowed[j]; j++)
			if (!strcmp(a->key[i], allowed[j]))
				break;
		if (!allowed[j])
			return -EINVAL;
	}
	return 0;
}

static int arg_ulong(struct args *a, const char *key, unsigned long def,
		     unsigned long *out)
{
	const char *s = arg_str(a, key);

	if (!s) {
		*out = def;
		return 0;
	}
	return kstrtoul(s, 0, out);
}

static int arg_cpu(struct args *a, unsigned int *cpu)
{
	unsigned long v;
	int ret = arg_ulong(a, "cpu", ULONG_MAX, &v);

	if (ret)
		return ret;
	if (v >= nr_cpu_ids || !cpu_online(v))
		return -EINVAL;
	*cpu = v;
	return 0;
}

/* size=S pages, or order=O for 2^O pages; 1 page by default */
static int arg_size(struct args *a, unsigned long *size)
{
	unsigned long order;
	int ret;

	if (arg_str(a, "order")) {
		ret = arg_ulong(a, "order", 0, &order);
		if (ret || order > 20)
			return -EINVAL;
		*size = 1UL << order;
		return 0;
	}
	ret = arg_ulong(a, "size", 1, size);
	if (ret || !*size || *size > (1UL << 20))
		return -EINVAL;
	return 0;
}

static int arg_limit(struct args *a, unsigned long *limit_pfn)
{
	unsigned long bits;
	int ret = arg_ulong(a, "limit", 64, &bits);

	if (ret || (bits != 32 && bits != 64))
		return -EINVAL;
	/* a 48-bit device for "64": the IOMMU's address width */
	*limit_pfn = (bits == 32 ? DMA_BIT_MASK(32) : DMA_BIT_MASK(48)) >>
		     granule_shift;
	return 0;
}

/* ---- held IOVAs ---- */

static int held_reserve(struct held_list *h, unsigned long more)
{
	struct held_iova *v;
	unsigned long cap = h->cap ? h->cap : 1024;

	while (cap < h->n + more)
		cap *= 2;
	if (cap == h->cap)
		return 0;
	v = kvmalloc_array(cap, sizeof(*v), GFP_KERNEL);
	if (!v)
		return -ENOMEM;
	if (h->n)
		memcpy(v, h->v, h->n * sizeof(*v));
	kvfree(h->v);
	h->v = v;
	h->cap = cap;
	return 0;
}

static void held_clear(struct held_list *h)
{
	kvfree(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

/* ---- work run on one CPU ---- */

struct cpu_job {
	struct held_list *held;
	unsigned long n, size, limit_pfn;
	bool flush;
	int how;		/* for free: HOW_* */
	bool until_failure;	/* for fill */
};

enum { HOW_FIFO, HOW_LIFO, HOW_ALTERNATE };

static long do_alloc(void *arg)
{
	struct cpu_job *job = arg;
	unsigned long i, pfn;

	for (i = 0; i < job->n; i++) {
		pfn = alloc_iova_fast(iovad, job->size, job->limit_pfn,
				      job->flush);
		atomic64_inc(&count.allocs);
		if (!pfn) {
			atomic64_inc(&count.alloc_failures);
			if (job->until_failure)
				return 0;
			continue;
		}
		job->held->v[job->held->n].pfn = pfn;
		job->held->v[job->held->n].size = job->size;
		job->held->n++;
		cond_resched();
	}
	return 0;
}

static void free_one(struct held_iova *h)
{
	free_iova_fast(iovad, h->pfn, h->size);
	atomic64_inc(&count.frees);
}

static long do_free(void *arg)
{
	struct cpu_job *job = arg;
	struct held_list *h = job->held;
	unsigned long i, kept = 0, n = min(job->n, h->n);

	switch (job->how) {
	case HOW_FIFO:
		for (i = 0; i < n; i++)
			free_one(&h->v[i]);
		memmove(h->v, h->v + n, (h->n - n) * sizeof(*h->v));
		h->n -= n;
		break;
	case HOW_LIFO:
		for (i = 0; i < n; i++)
			free_one(&h->v[h->n - 1 - i]);
		h->n -= n;
		break;
	case HOW_ALTERNATE:
		/* free entries 0, 2, 4, ... of the first 2n; keep the others */
		for (i = 0; i < h->n; i++) {
			if (!(i & 1) && i / 2 < job->n)
				free_one(&h->v[i]);
			else
				h->v[kept++] = h->v[i];
		}
		h->n = kept;
		break;
	}
	cond_resched();
	return 0;
}

static long do_alloc_free(void *arg)
{
	struct cpu_job *job = arg;

	do_alloc(job);
	job->n = job->held->n;
	job->how = HOW_FIFO;
	return do_free(job);
}

static int run_on(unsigned int cpu, long (*fn)(void *), void *arg)
{
	int ret;

	cpus_read_lock();
	ret = cpu_online(cpu) ? 0 : -EINVAL;
	if (!ret)
		ret = work_on_cpu(cpu, fn, arg);
	cpus_read_unlock();
	return ret;
}

/* ---- commands ---- */

static int cmd_create(struct args *a)
{
	static const char *const keys[] = { "granule", "start_pfn", NULL };
	unsigned long granule, start_pfn;
	int ret;

	if (check_keys(a, keys) || arg_ulong(a, "granule", PAGE_SIZE, &granule) ||
	    arg_ulong(a, "start_pfn", 1, &start_pfn) ||
	    granule > PAGE_SIZE || !is_power_of_2(granule))
		return -EINVAL;
	if (iovad)
		return -EBUSY;
	iovad = kzalloc(sizeof(*iovad), GFP_KERNEL);
	if (!iovad)
		return -ENOMEM;
	ret = iova_cache_get();
	if (ret)
		goto err_free;
	init_iova_domain(iovad, granule, start_pfn);
	ret = iova_domain_init_rcaches(iovad);
	if (ret)
		goto err_put;
	granule_shift = __ffs(granule);
	return 0;

err_put:
	put_iova_domain(iovad);
	iova_cache_put();
err_free:
	kfree(iovad);
	iovad = NULL;
	return ret;
}

static int cmd_destroy(struct args *a)
{
	if (a->n)
		return -EINVAL;
	if (!iovad)
		return -ENODEV;
	put_iova_domain(iovad);
	iova_cache_put();
	kfree(iovad);
	iovad = NULL;
	held_clear(&held);
	return 0;
}

static int cmd_alloc(struct args *a)
{
	static const char *const keys[] = { "cpu", "n", "size", "order",
					    "limit", "flush", NULL };
	struct cpu_job job = { .held = &held };
	unsigned long flush;
	unsigned int cpu;
	int ret;

	if (!iovad)
		return -ENODEV;
	if (check_keys(a, keys) || arg_cpu(a, &cpu) ||
	    arg_ulong(a, "n", 0, &job.n) || arg_size(a, &job.size) ||
	    arg_limit(a, &job.limit_pfn) || arg_ulong(a, "flush", 0, &flush) ||
	    flush > 1)
		return -EINVAL;
	job.flush = flush;
	ret = held_reserve(&held, job.n);
	if (ret)
		return ret;
	return run_on(cpu, do_alloc, &job);
}

static int cmd_free(struct args *a)
{
	static const char *const keys[] = { "cpu", "n", "how", NULL };
	struct cpu_job job = { .held = &held };
	const char *how = arg_str(a, "how");
	unsigned int cpu;

	if (!iovad)
		return -ENODEV;
	if (check_keys(a, keys) || arg_cpu(a, &cpu) ||
	    arg_ulong(a, "n", ULONG_MAX, &job.n))
		return -EINVAL;
	if (!how || !strcmp(how, "fifo"))
		job.how = HOW_FIFO;
	else if (!strcmp(how, "lifo"))
		job.how = HOW_LIFO;
	else if (!strcmp(how, "alternate"))
		job.how = HOW_ALTERNATE;
	else
		return -EINVAL;
	return run_on(cpu, do_free, &job);
}

static int parse_round_args(struct args *a, struct cpu_job *job,
			    unsigned long *rounds)
{
	static const char *const keys[] = { "n", "size", "order", "rounds",
					    NULL };

	if (check_keys(a, keys) || arg_ulong(a, "n", 0, &job->n) ||
	    arg_size(a, &job->size) || arg_ulong(a, "rounds", 1, rounds))
		return -EINVAL;
	job->limit_pfn = DMA_BIT_MASK(48) >> granule_shift;
	return 0;
}

/* Seed 003: the same process, moved from CPU to CPU */
static int cmd_rotate(struct args *a)
{
	struct held_list local = {};
	struct cpu_job job = { .held = &local };
	unsigned long rounds, r, n;
	unsigned int cpu;
	int ret;

	if (!iovad)
		return -ENODEV;
	if (parse_round_args(a, &job, &rounds))
		return -EINVAL;
	n = job.n;
	ret = held_reserve(&local, n);
	for (r = 0; !ret && r < rounds; r++) {
		for_each_online_cpu(cpu) {
			job.n = n;
			ret = run_on(cpu, do_alloc_free, &job);
			if (ret)
				break;
		}
	}
	held_clear(&local);
	return ret;
}

struct concurrent_job {
	struct work_struct work;
	struct cpu_job job;
	struct held_list held;
	unsigned long rounds;
};

static void concurrent_work(struct work_struct *work)
{
	struct concurrent_job *c = container_of(work, struct concurrent_job,
						work);
	unsigned long r, n = c->job.n;

	for (r = 0; r < c->rounds; r++) {
		c->job.n = n;
		do_alloc_free(&c->job);
	}
}

static int cmd_concurrent(struct args *a)
{
	struct concurrent_job *jobs;
	struct cpu_job job;
	unsigned long rounds;
	unsigned int cpu;
	int ret = 0;

	if (!iovad)
		return -ENODEV;
	if (parse_round_args(a, &job, &rounds))
		return -EINVAL;
	jobs = kcalloc(nr_cpu_ids, sizeof(*jobs), GFP_KERNEL);
	if (!jobs)
		return -ENOMEM;
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		jobs[cpu].job = job;
		jobs[cpu].job.held = &jobs[cpu].held;
		jobs[cpu].rounds = rounds;
		ret = held_reserve(&jobs[cpu].held, job.n);
		if (ret)
			goto out;
	}
	for_each_online_cpu(cpu) {
		INIT_WORK(&jobs[cpu].work, concurrent_work);
		queue_work_on(cpu, system_highpri_wq, &jobs[cpu].work);
	}
	for_each_online_cpu(cpu)
		flush_work(&jobs[cpu].work);
out:
	cpus_read_unlock();
	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		held_clear(&jobs[cpu].held);
	kfree(jobs);
	return ret;
}

/* Cached sizes, a non-power-of-two, and sizes above the cached range */
static const unsigned long mixed_sizes[] = { 1, 2, 3, 4, 8, 16, 32, 33, 64, 256 };

static int cmd_mixed(struct args *a)
{
	static const char *const keys[] = { "cpu", "n", NULL };
	struct cpu_job job = { .held = &held };
	unsigned long n;
	unsigned int cpu;
	int i, ret;

	if (!iovad)
		return -ENODEV;
	if (check_keys(a, keys) || arg_cpu(a, &cpu) || arg_ulong(a, "n", 0, &n))
		return -EINVAL;
	ret = held_reserve(&held, n * ARRAY_SIZE(mixed_sizes));
	if (ret)
		return ret;
	job.limit_pfn = DMA_BIT_MASK(48) >> granule_shift;
	for (i = 0; i < ARRAY_SIZE(mixed_sizes); i++) {
		job.n = n;
		job.size = mixed_sizes[i];
		ret = run_on(cpu, do_alloc, &job);
		if (ret)
			return ret;
	}
	job.n = ULONG_MAX;
	job.how = HOW_FIFO;
	return run_on(cpu, do_free, &job);
}

static int cmd_fill(struct args *a)
{
	static const char *const keys[] = { "cpu", "size", "order", "limit",
					    "max", NULL };
	struct cpu_job job = { .held = &held, .flush = true,
			       .until_failure = true };
	unsigned int cpu;
	int ret;

	if (!iovad)
		return -ENODEV;
	if (check_keys(a, keys) || arg_cpu(a, &cpu) || arg_size(a, &job.size) ||
	    arg_limit(a, &job.limit_pfn) || arg_ulong(a, "max", 1UL << 20, &job.n))
		return -EINVAL;
	ret = held_reserve(&held, job.n);
	if (ret)
		return ret;
	return run_on(cpu, do_alloc, &job);
}

struct map_job {
	struct device *dev;
	unsigned long n, bytes;
	unsigned long batch;		/* for cycle */
};

static long do_map(void *arg)
{
	struct map_job *m = arg;
	dma_addr_t *addr;
	void *buf;
	unsigned long i, mapped = 0;

	buf = kzalloc(m->bytes, GFP_KERNEL);
	addr = kvmalloc_array(m->n, sizeof(*addr), GFP_KERNEL);
	if (!buf || !addr) {
		kfree(buf);
		kvfree(addr);
		return -ENOMEM;
	}
	for (i = 0; i < m->n; i++) {
		addr[mapped] = dma_map_single(m->dev, buf, m->bytes,
					      DMA_BIDIRECTIONAL);
		if (dma_mapping_error(m->dev, addr[mapped])) {
			atomic64_inc(&count.map_failures);
			continue;
		}
		atomic64_inc(&count.maps);
		mapped++;
	}
	for (i = 0; i < mapped; i++) {
		dma_unmap_single(m->dev, addr[i], m->bytes, DMA_BIDIRECTIONAL);
		atomic64_inc(&count.unmaps);
	}
	kvfree(addr);
	kfree(buf);
	return 0;
}

/* dev=, cpu= (unless cpu is NULL), n= and bytes= of map, cycle and hold */
static int parse_map_args(struct args *a, struct map_job *m, unsigned int *cpu)
{
	const char *name = arg_str(a, "dev");

	if (!name || (cpu && arg_cpu(a, cpu)) || arg_ulong(a, "n", 0, &m->n) ||
	    arg_ulong(a, "bytes", PAGE_SIZE, &m->bytes) ||
	    !m->bytes || m->bytes > (4UL << 20))
		return -EINVAL;
	m->dev = bus_find_device_by_name(&pci_bus_type, NULL, name);
	return m->dev ? 0 : -ENODEV;
}

static int cmd_map(struct args *a)
{
	static const char *const keys[] = { "dev", "cpu", "n", "bytes", NULL };
	struct map_job m;
	unsigned int cpu;
	int ret;

	if (check_keys(a, keys))
		return -EINVAL;
	ret = parse_map_args(a, &m, &cpu);
	if (ret)
		return ret;
	ret = run_on(cpu, do_map, &m);
	put_device(m.dev);
	return ret;
}

/*
 * Map a batch of buffers, then unmap the batch, n times over: the cost of
 * each call, apart.  To the device only, so that the unmap copies nothing
 * back: its cost is finding the pool and releasing the slots.  Batches
 * are how completions come, and they keep what the map touched (every
 * pool it tried) from being counted as the unmap's cost.
 */
#define CYCLE_MAX_BATCH 64

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* The median of n batch times, per call of a batch of size batch */
static u64 median_per_call(u64 *ns, unsigned long n, unsigned long batch)
{
	sort(ns, n, sizeof(*ns), cmp_u64, NULL);
	return n ? ns[n / 2] / batch : 0;
}

static long do_cycle(void *arg)
{
	struct map_job *m = arg;
	dma_addr_t addr[CYCLE_MAX_BATCH];
	unsigned long i, k, mapped, nbatches = 0;
	u64 *map_ns, *unmap_ns, t0;
	void *buf;

	buf = kzalloc(m->bytes, GFP_KERNEL);
	map_ns = kvmalloc_array(m->n / m->batch + 1, sizeof(u64), GFP_KERNEL);
	unmap_ns = kvmalloc_array(m->n / m->batch + 1, sizeof(u64), GFP_KERNEL);
	if (!buf || !map_ns || !unmap_ns) {
		kfree(buf);
		kvfree(map_ns);
		kvfree(unmap_ns);
		return -ENOMEM;
	}
	for (i = 0; i + m->batch <= m->n; i += m->batch) {
		mapped = 0;
		t0 = ktime_get_ns();
		for (k = 0; k < m->batch; k++) {
			addr[mapped] = dma_map_single(m->dev, buf, m->bytes,
						      DMA_TO_DEVICE);
			if (dma_mapping_error(m->dev, addr[mapped]))
				atomic64_inc(&count.map_failures);
			else
				mapped++;
		}
		map_ns[nbatches] = ktime_get_ns() - t0;
		t0 = ktime_get_ns();
		for (k = 0; k < mapped; k++)
			dma_unmap_single(m->dev, addr[k], m->bytes,
					 DMA_TO_DEVICE);
		unmap_ns[nbatches] = ktime_get_ns() - t0;
		atomic64_add(mapped, &count.maps);
		atomic64_add(mapped, &count.unmaps);
		atomic64_add(map_ns[nbatches], &count.map_ns);
		atomic64_add(unmap_ns[nbatches], &count.unmap_ns);
		nbatches++;
		cond_resched();
	}
	/* the median: a vCPU descheduled by a busy host spoils a few batches */
	cycle_map_median_ns = median_per_call(map_ns, nbatches, m->batch);
	cycle_unmap_median_ns = median_per_call(unmap_ns, nbatches, m->batch);
	kvfree(map_ns);
	kvfree(unmap_ns);
	kfree(buf);
	return 0;
}

static int cmd_cycle(struct args *a)
{
	static const char *const keys[] = { "dev", "cpu", "n", "bytes", "batch", NULL };
	struct map_job m;
	unsigned int cpu;
	int ret;

	if (check_keys(a, keys) || arg_ulong(a, "batch", 1, &m.batch) ||
	    !m.batch || m.batch > CYCLE_MAX_BATCH)
		return -EINVAL;
	ret = parse_map_args(a, &m, &cpu);
	if (ret)
		return ret;
	ret = run_on(cpu, do_cycle, &m);
	put_device(m.dev);
	return ret;
}

static void release_held_maps(void)
{
	struct held_maps *h = &held_maps;
	unsigned long i;

	for (i = 0; i < h->n; i++) {
		dma_unmap_single(h->dev, h->addr[i], h->bytes, DMA_BIDIRECTIONAL);
		atomic64_inc(&count.unmaps);
	}
	if (h->dev)
		put_device(h->dev);
	kvfree(h->addr);
	kfree(h->buf);
	memset(h, 0, sizeof(*h));
}

/* Held mappings share one device and one size, so release knows both */
static int cmd_hold(struct args *a)
{
	static const char *const keys[] = { "dev", "n", "bytes", NULL };
	struct held_maps *h = &held_maps;
	struct map_job m;
	dma_addr_t *addr;
	unsigned long i;
	int ret;

	if (check_keys(a, keys))
		return -EINVAL;
	ret = parse_map_args(a, &m, NULL);
	if (ret)
		return ret;
	/* until release, the buffer is of the first hold's size and device */
	if (h->buf && (h->dev != m.dev || h->bytes != m.bytes)) {
		put_device(m.dev);
		return -EBUSY;
	}
	if (!h->buf) {
		h->buf = kzalloc(m.bytes, GFP_KERNEL);
		if (!h->buf) {
			put_device(m.dev);
			return -ENOMEM;
		}
		h->dev = get_device(m.dev);
		h->bytes = m.bytes;
	}
	put_device(m.dev);
	if (h->n + m.n > h->cap) {
		addr = kvmalloc_array(h->n + m.n, sizeof(*addr), GFP_KERNEL);
		if (!addr)
			return -ENOMEM;
		if (h->n)
			memcpy(addr, h->addr, h->n * sizeof(*addr));
		kvfree(h->addr);
		h->addr = addr;
		h->cap = h->n + m.n;
	}
	for (i = 0; i < m.n; i++) {
		h->addr[h->n] = dma_map_single(h->dev, h->buf, h->bytes,
					       DMA_BIDIRECTIONAL);
		if (dma_mapping_error(h->dev, h->addr[h->n])) {
			atomic64_inc(&count.map_failures);
			continue;
		}
		atomic64_inc(&count.maps);
		h->n++;
	}
	return 0;
}

static int cmd_release(struct args *a)
{
	if (a->n)
		return -EINVAL;
	release_held_maps();
	return 0;
}

/*
 * The head of struct io_tlb_area, private to kernel/dma/swiotlb.c; every
 * version from 6.0 on, with or without the dmascope patches, starts so.
 */
struct tlb_area_head {
	unsigned long used;
	unsigned int index;
	spinlock_t lock;
};

struct contend_job;

struct contend_waiter {
	struct work_struct work;
	struct contend_job *job;
};

struct contend_job {
	spinlock_t *lock;
	unsigned long hold_us;
	atomic_t held;			/* the holder has the lock */
	atomic_t waiting;		/* waiters about to take it */
	struct work_struct holder;
	struct contend_waiter waiter[2];
};

static void contend_hold(struct work_struct *work)
{
	struct contend_job *c = container_of(work, struct contend_job, holder);
	unsigned long flags, left;
	u64 t0;

	spin_lock_irqsave(c->lock, flags);
	t0 = ktime_get_ns();
	atomic_set(&c->held, 1);
	while (atomic_read(&c->waiting) < 2)
		cpu_relax();
	for (left = c->hold_us; left; left -= min(left, 1000UL))
		udelay(min(left, 1000UL));
	atomic64_add(ktime_get_ns() - t0, &count.contend_hold_ns);
	spin_unlock_irqrestore(c->lock, flags);
}

static void contend_wait(struct work_struct *work)
{
	struct contend_job *c = container_of(work, struct contend_waiter, work)->job;
	unsigned long flags;

	while (!atomic_read(&c->held))
		cpu_relax();
	atomic_inc(&c->waiting);
	spin_lock_irqsave(c->lock, flags);
	spin_unlock_irqrestore(c->lock, flags);
}

/* The lock of the first area of the pool the device's maps start in */
static spinlock_t *first_area_lock(struct device *dev)
{
	struct io_tlb_mem *mem = dev->dma_io_tlb_mem;
	struct tlb_area_head *areas;

	if (!mem)
		return NULL;
#ifdef IOVALOAD_SWIOTLB_POOLS
	areas = (struct tlb_area_head *)mem->defpool.areas;
#else
	areas = (struct tlb_area_head *)mem->areas;
#endif
	return areas ? &areas[0].lock : NULL;
}

/*
 * The head of the IOVA caches' private structures (drivers/iommu/iova.c):
 * each starts with its lock, in 6.1 and with the dmascope patches, whose
 * depot is a list instead of an array of 32 magazines.
 */
struct rcache_head {
	spinlock_t lock;
	unsigned long depot_size;
#ifdef IOVALOAD_IOVA_DEPOT_LIST
	void *depot;
#else
	void *depot[32];
#endif
	spinlock_t __percpu *cpu_rcaches;	/* each CPU's starts with its lock */
};

/* A lock of the domain that contend names, or NULL */
static spinlock_t *domain_lock(const char *which, unsigned int cpu)
{
	struct rcache_head *rcache;

	if (!iovad)
		return NULL;
	if (!strcmp(which, "rbtree"))
		return &iovad->iova_rbtree_lock;
	rcache = (struct rcache_head *)iovad->rcaches;
	if (!rcache)
		return NULL;
	if (!strcmp(which, "depot"))
		return &rcache->lock;
	if (!strcmp(which, "cpu"))
		return per_cpu_ptr(rcache->cpu_rcaches, cpu);
	return NULL;
}

/*
 * A qspinlock fires lock:contention_begin/end only for a waiter that
 * queues: the first waiter of a held lock spins on the pending bit and
 * fires nothing.  With two waiters, exactly one queues, so each round
 * is one contention event, of about hold_us.
 */
static int cmd_contend(struct args *a)
{
	static const char *const keys[] = { "dev", "lock", "rounds", "hold_us", NULL };
	const char *name = arg_str(a, "dev"), *which = arg_str(a, "lock");
	unsigned int cpus[3], n = 0, cpu, i;
	unsigned long rounds, r;
	struct contend_job c = {};
	struct device *dev = NULL;
	int ret = 0;

	if (check_keys(a, keys) || !name == !which || arg_ulong(a, "rounds", 1, &rounds) ||
	    arg_ulong(a, "hold_us", 20000, &c.hold_us) || c.hold_us > 1000000)
		return -EINVAL;
	if (name) {
		dev = bus_find_device_by_name(&pci_bus_type, NULL, name);
		if (!dev)
			return -ENODEV;
		c.lock = first_area_lock(dev);
	}
	cpus_read_lock();
	for_each_online_cpu(cpu)
		if (n < ARRAY_SIZE(cpus))
			cpus[n++] = cpu;
	if (which)
		c.lock = domain_lock(which, cpus[0]);
	if (!c.lock || n < ARRAY_SIZE(cpus))
		ret = which && !iovad ? -EINVAL : -ENODEV;
	for (r = 0; !ret && r < rounds; r++) {
		atomic_set(&c.held, 0);
		atomic_set(&c.waiting, 0);
		INIT_WORK(&c.holder, contend_hold);
		queue_work_on(cpus[0], system_highpri_wq, &c.holder);
		for (i = 0; i < ARRAY_SIZE(c.waiter); i++) {
			c.waiter[i].job = &c;
			INIT_WORK(&c.waiter[i].work, contend_wait);
			queue_work_on(cpus[i + 1], system_highpri_wq, &c.waiter[i].work);
		}
		flush_work(&c.holder);
		for (i = 0; i < ARRAY_SIZE(c.waiter); i++)
			flush_work(&c.waiter[i].work);
		atomic64_inc(&count.contended);
	}
	cpus_read_unlock();
	if (dev)
		put_device(dev);
	return ret;
}

static int cmd_reset(struct args *a)
{
	if (a->n)
		return -EINVAL;
	memset(&count, 0, sizeof(count));
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct args *a);
} commands[] = {
	{ "create", cmd_create },	{ "destroy", cmd_destroy },
	{ "alloc", cmd_alloc },		{ "free", cmd_free },
	{ "rotate", cmd_rotate },	{ "concurrent", cmd_concurrent },
	{ "mixed", cmd_mixed },		{ "fill", cmd_fill },
	{ "map", cmd_map },		{ "reset", cmd_reset },
	{ "cycle", cmd_cycle },		{ "hold", cmd_hold },
	{ "release", cmd_release },	{ "contend", cmd_contend },
};

static int run_command(char *line)
{
	char *name = strsep(&line, " \t\n");
	struct args a;
	int i;

	if (parse_command_args(line ? line : "", &a))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return commands[i].fn(&a);
	return -EINVAL;
}

static ssize_t control_write(struct file *file, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	char buf[CMD_MAX];
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';

	mutex_lock(&lock);
	strscpy(last_command, strim(buf), sizeof(last_command));
	last_ns = ktime_get_ns();
	ret = run_command(buf);
	last_ns = ktime_get_ns() - last_ns;
	last_error = ret;
	mutex_unlock(&lock);
	return ret ? ret : len;
}

static const struct file_operations control_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = control_write,
	.llseek = noop_llseek,
};

static int status_show(struct seq_file *m, void *unused)
{
	mutex_lock(&lock);
	seq_printf(m, "domain 0x%lx\n", (unsigned long)iovad);
	seq_printf(m, "granule %lu\n", iovad ? iovad->granule : 0);
	seq_printf(m, "held %lu\n", held.n);
	seq_printf(m, "allocs %lld\n", atomic64_read(&count.allocs));
	seq_printf(m, "alloc_failures %lld\n", atomic64_read(&count.alloc_failures));
	seq_printf(m, "frees %lld\n", atomic64_read(&count.frees));
	seq_printf(m, "maps %lld\n", atomic64_read(&count.maps));
	seq_printf(m, "map_failures %lld\n", atomic64_read(&count.map_failures));
	seq_printf(m, "unmaps %lld\n", atomic64_read(&count.unmaps));
	seq_printf(m, "map_ns %lld\n", atomic64_read(&count.map_ns));
	seq_printf(m, "unmap_ns %lld\n", atomic64_read(&count.unmap_ns));
	seq_printf(m, "contended %lld\n", atomic64_read(&count.contended));
	seq_printf(m, "contend_hold_ns %lld\n", atomic64_read(&count.contend_hold_ns));
	seq_printf(m, "held_maps %lu\n", held_maps.n);
	seq_printf(m, "cycle_map_median_ns %llu\n", cycle_map_median_ns);
	seq_printf(m, "cycle_unmap_median_ns %llu\n", cycle_unmap_median_ns);
	seq_printf(m, "last_command %s\n", last_command);
	seq_printf(m, "last_error %d\n", last_error);
	seq_printf(m, "last_ns %llu\n", last_ns);
	mutex_unlock(&lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(status);

static int __init iovaload_init(void)
{
	dir = debugfs_create_dir("iovaload", NULL);
	debugfs_create_file("control", 0200, dir, NULL, &control_fops);
	debugfs_create_file("status", 0444, dir, NULL, &status_fops);
	return 0;
}

static void __exit iovaload_exit(void)
{
	struct args none = {};

	debugfs_remove_recursive(dir);
	mutex_lock(&lock);
	if (iovad)
		cmd_destroy(&none);
	release_held_maps();
	mutex_unlock(&lock);
}

module_init(iovaload_init);
module_exit(iovaload_exit);
MODULE_DESCRIPTION("Deterministic IOVA load generator for dmascope tests");
MODULE_LICENSE("GPL");
