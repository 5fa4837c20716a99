// SPDX-License-Identifier: GPL-2.0
/*
 * The /metrics server with real sockets: it answers GET /metrics, 404 and
 * 405, and 503 until the first interval is over; serves several scrapes
 * at once; a client that sends a byte now and then, or stops reading,
 * cannot stall it, nor can a hundred idle connections; running out of
 * file descriptors does not make it spin, then or later; ":PORT" answers
 * on IPv4 and IPv6; SIGINT ends the loop at once, in the middle of a
 * scrape.  The server runs in the frame's own loop (dms_wait_until) on
 * the main thread; clients are threads doing blocking I/O.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "loop.h"
#include "check.h"

#define BIG_BODY	(16 << 20)	/* more than any socket buffers */
#define CLIENTS		8
#define CLIENT_TIMEOUT_S 5
#define IDLE_CONNS	100	/* more than the server has slots */
#define BURST		20	/* connections waiting while out of fds */

static int port;

static uint64_t ms(uint64_t n)
{
	return n * NSEC_PER_MSEC;
}

/* Serve for a while, as the tool's interval loop does */
static void serve(uint64_t ns)
{
	dms_wait_until(dms_now_ns() + ns);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

static int connect_to(int family)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* bounds connect() too, when the server leaves the backlog full */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (family == AF_INET ? connect(fd, (struct sockaddr *)&a4, sizeof(a4)) :
				connect(fd, (struct sockaddr *)&a6, sizeof(a6))) {
		close(fd);
		return -1;
	}
	return fd;
}

struct client {
	int family;
	const char *request;
	useconds_t byte_delay_us;	/* 0: send at once */
	bool never_read;
	pthread_t thread;
	char head[512];		/* the start of the answer */
	size_t got;		/* bytes of the answer */
	uint64_t done_ns;
	int fd;
};

static void *client_run(void *arg)
{
	struct client *c = arg;
	const char *p;
	char buf[65536];
	ssize_t n;

	c->fd = connect_to(c->family);
	if (c->fd < 0)
		return NULL;
	if (!c->byte_delay_us) {
		if (write(c->fd, c->request, strlen(c->request)) < 0)
			goto out;
	} else {
		for (p = c->request; *p; p++) {
			if (write(c->fd, p, 1) != 1)
				goto out;
			usleep(c->byte_delay_us);
		}
	}
	if (c->never_read)
		return NULL;	/* the test closes c->fd */
	while ((n = read(c->fd, buf, sizeof(buf))) > 0) {
		if (c->got < sizeof(c->head) - 1)
			memcpy(c->head + c->got, buf,
			       n < (ssize_t)(sizeof(c->head) - 1 - c->got) ? (size_t)n :
			       sizeof(c->head) - 1 - c->got);
		c->got += n;
	}
out:
	c->done_ns = dms_now_ns();
	close(c->fd);
	c->fd = -1;
	return NULL;
}

static void start(struct client *c)
{
	c->fd = -1;
	pthread_create(&c->thread, NULL, client_run, c);
}

/* Serve until the client is done (or a limit) */
static void finish(struct client *c, uint64_t limit_ns)
{
	uint64_t end = dms_now_ns() + limit_ns;

	while (!c->done_ns && dms_now_ns() < end)
		serve(ms(10));
	pthread_join(c->thread, NULL);
}

static struct dms_http *listen_any(void)
{
	char err[256];
	struct dms_http *h;

	port = free_port();
	h = dms_http_listen("", port, err, sizeof(err));
	if (!h)
		fprintf(stderr, "%s\n", err);
	return h;
}

/* The first line of an answer, for a one-line message */
static const char *status_line(const struct client *c)
{
	static char line[80];

	if (!c->head[0])
		return "no answer";
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(c->head, "\r\n"), c->head);
	return line;
}

/* Before the first interval: come back later, not an empty 200 */
static void test_no_metrics_yet(void)
{
	struct client get = { AF_INET, "GET /metrics HTTP/1.0\r\n\r\n" };

	start(&get);
	finish(&get, ms(2000));
	check("http-503-before-first-interval", !strncmp(get.head, "HTTP/1.0 503 ", 13) &&
	      strstr(get.head, "\r\nRetry-After: 1\r\n"), status_line(&get));
}

static void test_answers(void)
{
	struct client get = { AF_INET, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" };
	struct client root = { AF_INET, "GET / HTTP/1.1\r\n\r\n" };
	struct client post = { AF_INET, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n" };

	dms_http_set_body(dms_run.http, "x 1\n", 4);
	start(&get);
	finish(&get, ms(2000));
	check("http-200", strstr(get.head, "HTTP/1.0 200 OK\r\n") && strstr(get.head, "\r\n\r\nx 1\n"),
	      get.head);
	start(&root);
	finish(&root, ms(2000));
	check("http-404", !strncmp(root.head, "HTTP/1.0 404 ", 13), root.head);
	start(&post);
	finish(&post, ms(2000));
	check("http-405-allow-get", !strncmp(post.head, "HTTP/1.0 405 ", 13) &&
	      strstr(post.head, "\r\nAllow: GET\r\n"), post.head);
}

static void test_ipv4_and_ipv6(void)
{
	struct client v4 = { AF_INET, "GET /metrics HTTP/1.0\r\n\r\n" };
	struct client v6 = { AF_INET6, "GET /metrics HTTP/1.0\r\n\r\n" };
	int probe = socket(AF_INET6, SOCK_STREAM, 0);

	start(&v4);
	finish(&v4, ms(2000));
	check("http-any-ipv4", !strncmp(v4.head, "HTTP/1.0 200 ", 13), v4.head);
	if (probe < 0) {
		printf("SKIP unit-http-any-ipv6: no IPv6 here\n");
		return;
	}
	close(probe);
	start(&v6);
	finish(&v6, ms(2000));
	check("http-any-ipv6", !strncmp(v6.head, "HTTP/1.0 200 ", 13), v6.head);
}

struct idle {
	int fds[IDLE_CONNS];
	int done;
};

static void *open_idle(void *arg)
{
	struct idle *idle = arg;
	int i;

	for (i = 0; i < IDLE_CONNS; i++)
		idle->fds[i] = connect_to(AF_INET);
	__atomic_store_n(&idle->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A hundred connections that never send a byte, then a scrape: it is answered at once */
static void test_idle_connections(void)
{
	struct client get = { AF_INET, "GET /metrics HTTP/1.0\r\n\r\n" };
	struct idle idle = {};
	uint64_t t0, end = dms_now_ns() + ms(30000);
	pthread_t opener;
	char detail[160];
	int i, opened = 0;

	pthread_create(&opener, NULL, open_idle, &idle);
	while (!__atomic_load_n(&idle.done, __ATOMIC_ACQUIRE) && dms_now_ns() < end)
		serve(ms(10));
	pthread_join(opener, NULL);
	for (i = 0; i < IDLE_CONNS; i++)
		opened += idle.fds[i] >= 0;
	t0 = dms_now_ns();
	start(&get);
	finish(&get, ms(3 * DMS_HTTP_DEADLINE_MS));
	t0 = get.done_ns ? get.done_ns - t0 : UINT64_MAX;
	snprintf(detail, sizeof(detail), "%d idle connections open, the scrape took %.0f ms: %s",
		 opened, t0 == UINT64_MAX ? -1 : t0 / 1e6, status_line(&get));
	printf("# %s\n", detail);
	check("http-idle-connections-do-not-delay", opened == IDLE_CONNS &&
	      !strncmp(get.head, "HTTP/1.0 200 ", 13) && t0 < ms(1000), detail);
	for (i = 0; i < IDLE_CONNS; i++)
		if (idle.fds[i] >= 0)
			close(idle.fds[i]);
	serve(ms(200));
}

/*
 * Many scrapes at once, next to a client sending a byte every 300 ms
 * and one that never reads a large answer: the quick ones are all
 * answered in well under a second, the two others are cut off at their
 * deadline, and the loop keeps its time.
 */
static void test_slow_clients(void)
{
	struct client slow = { AF_INET, "GET /metrics HTTP/1.0\r\n\r\n", 300000 };
	struct client stuck = { AF_INET, "GET /metrics HTTP/1.0\r\n\r\n", 0, true };
	struct client fast[CLIENTS];
	char *big = malloc(BIG_BODY), detail[128];
	uint64_t t0, errors = dms_http_errors(dms_run.http), late = 0, loop_ns;
	int i, ok = 0;

	memset(big, 'x', BIG_BODY);
	big[BIG_BODY - 1] = '\n';
	dms_http_set_body(dms_run.http, big, BIG_BODY);
	start(&slow);
	start(&stuck);
	serve(ms(100));
	t0 = dms_now_ns();
	for (i = 0; i < CLIENTS; i++) {
		fast[i] = (struct client){ AF_INET, "GET /metrics HTTP/1.0\r\n\r\n" };
		start(&fast[i]);
	}
	for (i = 0; i < CLIENTS; i++) {
		finish(&fast[i], ms(3000));
		ok += fast[i].got > BIG_BODY;
		if (fast[i].done_ns - t0 > late)
			late = fast[i].done_ns - t0;
	}
	snprintf(detail, sizeof(detail), "%d of %d answered, the last after %.0f ms", ok,
		 CLIENTS, late / 1e6);
	check("http-several-at-once", ok == CLIENTS && late < ms(DMS_HTTP_DEADLINE_MS), detail);
	/* one interval of the loop, with both bad clients still there */
	t0 = dms_now_ns();
	serve(ms(500));
	loop_ns = dms_now_ns() - t0;
	snprintf(detail, sizeof(detail), "a 500 ms wait took %.0f ms", loop_ns / 1e6);
	check("http-bad-clients-do-not-stall", loop_ns < ms(600), detail);
	serve(ms(DMS_HTTP_DEADLINE_MS + 500));
	snprintf(detail, sizeof(detail), "errors %llu -> %llu",
		 (unsigned long long)errors, (unsigned long long)dms_http_errors(dms_run.http));
	check("http-deadline-cuts-slow-clients", dms_http_errors(dms_run.http) >= errors + 2, detail);
	pthread_join(slow.thread, NULL);
	pthread_join(stuck.thread, NULL);
	close(stuck.fd);
	dms_http_set_body(dms_run.http, "x 1\n", 4);
	free(big);
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Lower the fd limit to what is open now, and fill the holes below it */
static int use_up_fds(struct rlimit *old, int top, int *fds, int max)
{
	struct rlimit low = *old;
	int n = 0, fd;

	low.rlim_cur = top + 1;
	setrlimit(RLIMIT_NOFILE, &low);
	while (n < max && (fd = dup(0)) >= 0)
		fds[n++] = fd;
	return n;
}

/* Out of fds with a connection waiting: no busy loop, and it recovers */
static void test_out_of_fds(void)
{
	struct rlimit old;
	int fds[64], n, waiting;
	uint64_t errors = dms_http_errors(dms_run.http), served = dms_http_served(dms_run.http);
	char detail[128];
	double cpu;

	waiting = connect_to(AF_INET);
	if (waiting < 0 || write(waiting, "GET /metrics HTTP/1.0\r\n\r\n", 25) != 25) {
		check("http-out-of-fds", 0, "cannot connect");
		return;
	}
	getrlimit(RLIMIT_NOFILE, &old);
	n = use_up_fds(&old, waiting, fds, 64);
	cpu = cpu_seconds();
	serve(ms(500));
	cpu = cpu_seconds() - cpu;
	snprintf(detail, sizeof(detail), "%.0f ms of CPU in 500 ms, %llu errors", cpu * 1000,
		 (unsigned long long)(dms_http_errors(dms_run.http) - errors));
	check("http-out-of-fds-no-spin", cpu < 0.1 && dms_http_errors(dms_run.http) > errors, detail);
	while (n)
		close(fds[--n]);
	setrlimit(RLIMIT_NOFILE, &old);
	serve(ms(300));
	check("http-out-of-fds-recovers", dms_http_served(dms_run.http) > served,
	      "the waiting scrape was not answered");
	close(waiting);
}

/*
 * A burst of connections while out of fds, then the limit back: once the
 * back-off is over the loop sleeps in poll() again, and still answers.
 */
static void test_idle_after_out_of_fds(void)
{
	struct client get = { AF_INET, "GET /metrics HTTP/1.0\r\n\r\n" };
	uint64_t errors = dms_http_errors(dms_run.http), t0, wall;
	int burst[BURST], fds[64], n, i, top = 0;
	struct rlimit old;
	char detail[160];
	double cpu;

	for (i = 0; i < BURST; i++) {
		burst[i] = connect_to(AF_INET);
		if (burst[i] > top)
			top = burst[i];
	}
	getrlimit(RLIMIT_NOFILE, &old);
	n = use_up_fds(&old, top, fds, 64);
	serve(ms(300));
	errors = dms_http_errors(dms_run.http) - errors;
	while (n)
		close(fds[--n]);
	for (i = 0; i < BURST; i++)
		if (burst[i] >= 0)
			close(burst[i]);
	setrlimit(RLIMIT_NOFILE, &old);
	serve(ms(DMS_HTTP_BACKOFF_MS * 3));
	cpu = cpu_seconds();
	t0 = dms_now_ns();
	serve(ms(1000));
	wall = dms_now_ns() - t0;
	cpu = cpu_seconds() - cpu;
	start(&get);
	finish(&get, ms(2000));
	snprintf(detail, sizeof(detail), "%llu errors out of fds, then %.0f ms of CPU in %.0f ms idle, then %s",
		 (unsigned long long)errors, cpu * 1000, wall / 1e6, status_line(&get));
	printf("# %s\n", detail);
	check("http-out-of-fds-then-idle", errors &&
	      cpu < 0.2 * wall / 1e9 && !strncmp(get.head, "HTTP/1.0 200 ", 13), detail);
}

static void raise_int(int sig)
{
	(void)sig;
	raise(SIGINT);
}

/* SIGINT in the middle of a scrape ends the wait at once */
static void test_interrupt(void)
{
	struct client slow = { AF_INET, "GET /metrics HTTP/1.0\r\n\r\n", 200000 };
	struct itimerval it = { .it_value = { .tv_usec = 300000 } };
	char detail[128];
	uint64_t t0;
	bool go_on;

	start(&slow);
	serve(ms(100));
	signal(SIGALRM, raise_int);
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = dms_now_ns();
	go_on = dms_wait_until(t0 + ms(10000));
	t0 = dms_now_ns() - t0;
	snprintf(detail, sizeof(detail), "returned %d after %.0f ms", go_on, t0 / 1e6);
	check("http-sigint-ends-at-once", !go_on && t0 < ms(1000), detail);
	pthread_join(slow.thread, NULL);
}

int main(void)
{
	dms_prog = "test_http";
	dms_catch_signals();
	dms_run.http = listen_any();
	if (!dms_run.http) {
		check("http-listen", 0, "cannot listen");
		return 1;
	}
	test_no_metrics_yet();	/* first: no body yet */
	test_answers();
	test_ipv4_and_ipv6();
	test_idle_connections();
	test_slow_clients();
	test_out_of_fds();
	test_idle_after_out_of_fds();
	test_interrupt();	/* last: the stop flag stays set */
	dms_http_close(dms_run.http);
	return failures ? 1 : 0;
}
