// SPDX-License-Identifier: GPL-2.0
/*
 * libdmascope: a minimal HTTP/1.0 server for Prometheus scrapes.  One
 * request per connection, answered from the latest metrics text, inside
 * the tool's interval loop: no threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dmascope.h"
#include "http.h"

#define REQUEST_MAX 4096
#define REQUEST_TIMEOUT_MS 1000

struct dms_http {
	int fd;
	struct dms_buf body;
	uint64_t errors;	/* requests that could not be answered */
};

struct dms_http *dms_http_listen(const char *host, int port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	struct dms_http *h;
	char service[16];
	int fd, one = 1, rc;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(*host ? host : NULL, service, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "bad address '%s': %s", host, gai_strerror(rc));
		return NULL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 16)) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", *host ? host : "*",
			 port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return NULL;
	}
	freeaddrinfo(res);
	h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->fd = fd;
	return h;
}

void dms_http_set_body(struct dms_http *h, const char *body, size_t len)
{
	dms_buf_reset(&h->body);
	dms_buf_printf(&h->body, "%.*s", (int)len, body);
}

static bool write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* Read until the end of the request head (or give up after a while). */
static bool read_request(int fd, char *req, size_t cap)
{
	size_t len = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (len < cap - 1) {
		ssize_t n;

		if (poll(&p, 1, REQUEST_TIMEOUT_MS) <= 0)
			return false;
		n = read(fd, req + len, cap - 1 - len);
		if (n <= 0)
			return false;
		len += n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			return true;
	}
	return false;
}

static void answer(struct dms_http *h, int fd)
{
	char req[REQUEST_MAX], head[256];
	const char *status = "200 OK", *body = h->body.data ? h->body.data : "";
	size_t body_len = h->body.len;
	int flags = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	if (!read_request(fd, req, sizeof(req))) {
		h->errors++;
		return;
	}
	if (strncmp(req, "GET ", 4)) {
		status = "405 Method Not Allowed";
		body = "only GET\n";
		body_len = strlen(body);
	} else if (strncmp(req + 4, "/metrics ", 9) && strncmp(req + 4, "/metrics?", 9)) {
		status = "404 Not Found";
		body = "metrics are at /metrics\n";
		body_len = strlen(body);
	}
	snprintf(head, sizeof(head),
		 "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, body_len);
	if (!write_all(fd, head, strlen(head)) || !write_all(fd, body, body_len))
		h->errors++;
}

void dms_http_poll(struct dms_http *h, int timeout_ms)
{
	struct pollfd p = { .fd = h->fd, .events = POLLIN };
	uint64_t end = dms_now_ns() + (uint64_t)timeout_ms * 1000000;

	for (;;) {
		uint64_t now = dms_now_ns();
		int fd;

		if (now >= end || dms_stopping())
			return;
		if (poll(&p, 1, (int)((end - now + 999999) / 1000000)) <= 0)
			return;	/* timeout, or a signal */
		fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		answer(h, fd);
		close(fd);
	}
}

uint64_t dms_http_errors(const struct dms_http *h)
{
	return h ? h->errors : 0;
}

void dms_http_close(struct dms_http *h)
{
	if (!h)
		return;
	close(h->fd);
	dms_buf_free(&h->body);
	free(h);
}
