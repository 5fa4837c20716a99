// SPDX-License-Identifier: GPL-2.0
/*
 * swiotlb_tp: attach tests/tpbtf/swiotlb_tp.bpf.c to the swiotlb:* pool
 * events, print "attached", and at SIGINT or SIGTERM print what it saw:
 *   adds=N add_slabs=S add_pool_slabs=P removes=... remove_slabs=...
 *   remove_pool_slabs=...
 * Exits 1 with a one-line error when the events are missing (a kernel
 * without the dynamic SWIOTLB patches).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "swiotlb_tp.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int main(void)
{
	struct swiotlb_tp_bpf *skel;
	int err;

	libbpf_set_print(quiet);
	skel = swiotlb_tp_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "swiotlb_tp: cannot load (no swiotlb:swiotlb_pool_add event? %s)\n",
			strerror(errno));
		return 1;
	}
	err = swiotlb_tp_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "swiotlb_tp: cannot attach: %s\n", strerror(-err));
		swiotlb_tp_bpf__destroy(skel);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("attached\n");
	fflush(stdout);
	while (!stop)
		usleep(100 * 1000);
	printf("adds=%llu add_slabs=%llu add_pool_slabs=%llu removes=%llu remove_slabs=%llu remove_pool_slabs=%llu\n",
	       (unsigned long long)skel->bss->adds,
	       (unsigned long long)skel->bss->add_slabs,
	       (unsigned long long)skel->bss->add_pool_slabs,
	       (unsigned long long)skel->bss->removes,
	       (unsigned long long)skel->bss->remove_slabs,
	       (unsigned long long)skel->bss->remove_pool_slabs);
	swiotlb_tp_bpf__destroy(skel);
	return 0;
}
