// SPDX-License-Identifier: GPL-2.0
/*
 * libdmascope sinks: a small HTTP/1.0 server for Prometheus scrapes.  One
 * request per connection, answered from the latest metrics text, inside
 * the tool's poll loop: no threads, no blocking call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sinks.h"

#define REQUEST_MAX	4096
#define LISTEN_BACKLOG	64

struct conn {
	int fd;			/* -1: free */
	uint64_t since_ns;	/* accepted at */
	size_t req_len;
	char req[REQUEST_MAX];
	struct dms_buf resp;	/* empty until the request is complete */
	size_t sent;
};

struct dms_http {
	int listen_fd[DMS_HTTP_MAX_LISTEN];
	int nlisten;
	struct conn conns[DMS_HTTP_MAX_CONNS];
	uint64_t no_accept_until_ns;	/* after EMFILE and the like; 0: none */
	struct dms_buf body;
	bool have_body;		/* false until the first interval is over */
	uint64_t errors, served;
	/* what each pollfd of the last dms_http_pollfds() was: listener or conn */
	int slot[DMS_HTTP_POLLFDS];
};

#define LISTENER(i) (-1 - (i))

static int listen_on(const struct sockaddr *addr, socklen_t len, int family)
{
	int fd, one = 1, saved;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* ":PORT" gets one socket per family, so the IPv6 one is IPv6 only */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, addr, len) || listen(fd, LISTEN_BACKLOG)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Every address: IPv6 and IPv4, either may be missing from the kernel */
static int listen_any(struct dms_http *h, int port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd, err = 0;

	fd = listen_on((struct sockaddr *)&a6, sizeof(a6), AF_INET6);
	if (fd >= 0)
		h->listen_fd[h->nlisten++] = fd;
	else if (errno != EAFNOSUPPORT)
		err = errno;
	fd = listen_on((struct sockaddr *)&a4, sizeof(a4), AF_INET);
	if (fd >= 0)
		h->listen_fd[h->nlisten++] = fd;
	else if (errno != EAFNOSUPPORT || !h->nlisten)
		err = errno;
	return err;
}

static int listen_host(struct dms_http *h, const char *host, int port, char *err,
		       size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res;
	char service[16];
	int rc, fd;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "bad address '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	fd = listen_on(res->ai_addr, res->ai_addrlen, res->ai_family);
	freeaddrinfo(res);
	if (fd < 0)
		return errno;
	h->listen_fd[h->nlisten++] = fd;
	return 0;
}

struct dms_http *dms_http_listen(const char *host, int port, char *err, size_t errlen)
{
	struct dms_http *h = dms_alloc(1, sizeof(*h));
	int i, rc;

	for (i = 0; i < DMS_HTTP_MAX_CONNS; i++)
		h->conns[i].fd = -1;
	*err = '\0';
	rc = *host ? listen_host(h, host, port, err, errlen) : listen_any(h, port);
	if (rc || !h->nlisten) {
		if (!*err)
			snprintf(err, errlen, "cannot listen on %s:%d: %s", *host ? host : "*",
				 port, strerror(rc ? rc : EADDRNOTAVAIL));
		dms_http_close(h);
		return NULL;
	}
	return h;
}

void dms_http_set_body(struct dms_http *h, const char *body, size_t len)
{
	dms_buf_reset(&h->body);
	dms_buf_add(&h->body, body, len);
	h->have_body = true;
}

static void end_conn(struct dms_http *h, struct conn *c, bool failed)
{
	close(c->fd);
	c->fd = -1;
	dms_buf_free(&c->resp);
	if (failed)
		h->errors++;
	else
		h->served++;
}

/* The answer to a complete request head */
static void respond(struct dms_http *h, struct conn *c)
{
	const char *status = "200 OK", *extra = "", *body = h->body.data ? h->body.data : "";
	char retry[32];
	size_t len = h->body.len;

	if (strncmp(c->req, "GET ", 4)) {
		status = "405 Method Not Allowed";
		extra = "Allow: GET\r\n";
		body = "only GET\n";
		len = strlen(body);
	} else if (strncmp(c->req + 4, "/metrics ", 9) && strncmp(c->req + 4, "/metrics?", 9)) {
		status = "404 Not Found";
		body = "metrics are at /metrics\n";
		len = strlen(body);
	} else if (!h->have_body) {
		/* a 200 with no series would count as a target up and empty */
		status = "503 Service Unavailable";
		snprintf(retry, sizeof(retry), "Retry-After: %d\r\n", DMS_HTTP_RETRY_AFTER_S);
		extra = retry;
		body = "no metrics yet: the first interval is not over\n";
		len = strlen(body);
	}
	dms_buf_printf(&c->resp,
		       "HTTP/1.0 %s\r\n%sContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		       "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, extra, len);
	dms_buf_add(&c->resp, body, len);
}

static void read_request(struct dms_http *h, struct conn *c)
{
	ssize_t n = read(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		end_conn(h, c, true);
		return;
	}
	c->req_len += n;
	c->req[c->req_len] = '\0';
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
		respond(h, c);
	else if (c->req_len == sizeof(c->req) - 1)
		end_conn(h, c, true);	/* a head this long is no scrape */
}

static void write_response(struct dms_http *h, struct conn *c)
{
	ssize_t n = write(c->fd, c->resp.data + c->sent, c->resp.len - c->sent);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		end_conn(h, c, true);
		return;
	}
	c->sent += n;
	if (c->sent == c->resp.len)
		end_conn(h, c, false);
}

/* A connection that has not sent its whole request head yet */
static bool waiting(const struct conn *c)
{
	return c->fd >= 0 && !c->resp.len;
}

/*
 * A scraper sends its request as soon as it is connected, so a connection
 * still silent after DMS_HTTP_HEAD_MS is idle or hostile and gets no more
 * of our time; a request gets DMS_HTTP_DEADLINE_MS for its whole answer.
 */
static uint64_t deadline(const struct conn *c)
{
	return c->since_ns + (c->resp.len ? DMS_HTTP_DEADLINE_MS : DMS_HTTP_HEAD_MS) *
	       NSEC_PER_MSEC;
}

static struct conn *oldest_waiting(struct dms_http *h)
{
	struct conn *old = NULL;
	int i;

	for (i = 0; i < DMS_HTTP_MAX_CONNS; i++)
		if (waiting(&h->conns[i]) && (!old || h->conns[i].since_ns < old->since_ns))
			old = &h->conns[i];
	return old;
}

/*
 * A slot for a new connection: a free one, else that of the oldest
 * connection still waiting for its request, closed as a failure.  Idle
 * connections, however many, then cannot keep a scrape out.
 */
static struct conn *make_room(struct dms_http *h)
{
	struct conn *c;
	int i;

	for (i = 0; i < DMS_HTTP_MAX_CONNS; i++)
		if (h->conns[i].fd < 0)
			return &h->conns[i];
	c = oldest_waiting(h);
	if (c)
		end_conn(h, c, true);
	return c;
}

/*
 * accept() failed: whether to try again at once.  Out of fds, that of the
 * oldest connection waiting for its request is better spent on the new
 * one.  Out of resources otherwise, back off for a while: the connection
 * stays queued in the kernel, and the listeners are not polled
 * meanwhile, so the loop does not spin on them.
 */
static bool accept_failed(struct dms_http *h, int err, uint64_t now)
{
	struct conn *c = NULL;

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return false;	/* nothing left to accept, or it went away */
	if (err == EMFILE || err == ENFILE)
		c = oldest_waiting(h);
	if (c) {
		end_conn(h, c, true);
		return true;
	}
	h->no_accept_until_ns = now + DMS_HTTP_BACKOFF_MS * NSEC_PER_MSEC;
	h->errors++;
	return false;
}

/* At most a table's worth at a time: what is left waits for the next poll() */
static void accept_all(struct dms_http *h, int lfd, uint64_t now)
{
	struct conn *c;
	int i, fd;

	for (i = 0; i < DMS_HTTP_MAX_CONNS; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (accept_failed(h, errno, now))
				continue;
			return;
		}
		c = make_room(h);
		if (!c) {
			/* every slot is sending an answer */
			close(fd);
			h->errors++;
			return;
		}
		c->fd = fd;
		c->since_ns = now;
		c->req_len = 0;
		c->sent = 0;
		/* the request often came with the connection: no more waiting */
		read_request(h, c);
	}
}

int dms_http_pollfds(struct dms_http *h, struct pollfd *fds, uint64_t now)
{
	int i, n = 0;
	bool room = false;

	for (i = 0; i < DMS_HTTP_MAX_CONNS; i++) {
		struct conn *c = &h->conns[i];

		if (c->fd < 0 || waiting(c))
			room = true;	/* free, or can be made free */
		if (c->fd < 0)
			continue;
		fds[n] = (struct pollfd){ .fd = c->fd, .events = c->resp.len ? POLLOUT : POLLIN };
		h->slot[n++] = i;
	}
	/* a back-off that is over must not stay the next thing to wake up for */
	if (h->no_accept_until_ns && now >= h->no_accept_until_ns)
		h->no_accept_until_ns = 0;
	/* every slot answering, or out of fds: leave new connections queued */
	if (room && !h->no_accept_until_ns)
		for (i = 0; i < h->nlisten; i++) {
			fds[n] = (struct pollfd){ .fd = h->listen_fd[i], .events = POLLIN };
			h->slot[n++] = LISTENER(i);
		}
	return n;
}

void dms_http_serve(struct dms_http *h, const struct pollfd *fds, int n, uint64_t now)
{
	int i;

	for (i = 0; i < n; i++) {
		struct conn *c;

		if (!fds[i].revents)
			continue;
		if (h->slot[i] < 0) {
			accept_all(h, fds[i].fd, now);
			continue;
		}
		c = &h->conns[h->slot[i]];
		if (c->fd != fds[i].fd)
			continue;
		if (c->resp.len)
			write_response(h, c);
		else
			read_request(h, c);
	}
	for (i = 0; i < DMS_HTTP_MAX_CONNS; i++)
		if (h->conns[i].fd >= 0 && now >= deadline(&h->conns[i]))
			end_conn(h, &h->conns[i], true);
}

uint64_t dms_http_next_ns(const struct dms_http *h)
{
	uint64_t next = UINT64_MAX;
	int i;

	if (h->no_accept_until_ns)
		next = h->no_accept_until_ns;
	for (i = 0; i < DMS_HTTP_MAX_CONNS; i++)
		if (h->conns[i].fd >= 0 && deadline(&h->conns[i]) < next)
			next = deadline(&h->conns[i]);
	return next;
}

uint64_t dms_http_errors(const struct dms_http *h)
{
	return h ? h->errors : 0;
}

uint64_t dms_http_served(const struct dms_http *h)
{
	return h ? h->served : 0;
}

void dms_http_close(struct dms_http *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < DMS_HTTP_MAX_CONNS; i++)
		if (h->conns[i].fd >= 0) {
			close(h->conns[i].fd);
			dms_buf_free(&h->conns[i].resp);
		}
	for (i = 0; i < h->nlisten; i++)
		close(h->listen_fd[i]);
	dms_buf_free(&h->body);
	free(h);
}
