/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libdmascope, layer 3 of 4: sinks.  Where the Prometheus text goes: an
 * HTTP server for scrapes of /metrics and a node_exporter textfile.  Uses
 * base.h and text.h.
 *
 * The server never blocks the tool: its sockets are non-blocking, it
 * takes part in the tool's poll() (dms_http_pollfds(), then
 * dms_http_serve() with what poll() returned), serves several scrapes at
 * once, and gives each connection a deadline, so a client that stops
 * reading or sends one byte a second costs it nothing.  A scraper sends
 * its request at once: a connection without a whole request head after
 * DMS_HTTP_HEAD_MS is closed, and so is the oldest such connection when
 * a new one needs its slot or its fd, so idle connections cannot keep a
 * scrape out.  Out of fds with none to close, it stops accepting for
 * DMS_HTTP_BACKOFF_MS, then accepts again.  Until the first
 * dms_http_set_body(), /metrics answers 503 with a Retry-After.
 */
#ifndef DMASCOPE_SINKS_H
#define DMASCOPE_SINKS_H

#include <poll.h>

#include "text.h"

#define DMS_HTTP_MAX_CONNS	64	/* connections open at once */
#define DMS_HTTP_MAX_LISTEN	2	/* ":PORT" listens on IPv6 and IPv4 */
#define DMS_HTTP_POLLFDS	(DMS_HTTP_MAX_LISTEN + DMS_HTTP_MAX_CONNS)
#define DMS_HTTP_HEAD_MS	1000	/* from connecting to the end of the request */
#define DMS_HTTP_DEADLINE_MS	2000	/* for a whole request and answer */
#define DMS_HTTP_BACKOFF_MS	100	/* no accept() after running out of fds */
#define DMS_HTTP_RETRY_AFTER_S	1	/* the 503 before the first interval */

struct dms_http;

/* Listen on host:port (host "" for every address, IPv4 and IPv6). */
struct dms_http *dms_http_listen(const char *host, int port, char *err, size_t errlen);
/* The text served at /metrics from now on (copied); until then, a 503. */
void dms_http_set_body(struct dms_http *h, const char *body, size_t len);
/* Fill up to DMS_HTTP_POLLFDS entries for poll(); returns how many. */
int dms_http_pollfds(struct dms_http *h, struct pollfd *fds, uint64_t now_ns);
/* Serve what poll() reported on the n entries dms_http_pollfds() filled. */
void dms_http_serve(struct dms_http *h, const struct pollfd *fds, int n, uint64_t now_ns);
/* The next moment the server needs to run without events (a deadline). */
uint64_t dms_http_next_ns(const struct dms_http *h);
/* Requests that could not be answered: timeouts, resets, no fds, evictions. */
uint64_t dms_http_errors(const struct dms_http *h);
uint64_t dms_http_served(const struct dms_http *h);
void dms_http_close(struct dms_http *h);

/*
 * node_exporter textfile collector, one per process.  Open checks that
 * PATH names a *.prom file in an existing directory, that no other
 * process writes it (a lock file DIR/.NAME.lock held while it runs) and
 * that it can be written, without touching it: an old file stays until
 * there is something to replace it with.  Writes are atomic (a temporary
 * file, then rename).  Close, also run at exit, removes the file if this
 * process wrote it, so that node_exporter exports no stale numbers, and
 * the lock file.
 */
bool dms_textfile_open(const char *path, char *err, size_t errlen);
bool dms_textfile_write(const char *data, size_t len);
void dms_textfile_close(void);

#endif /* DMASCOPE_SINKS_H */
