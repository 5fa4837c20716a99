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
 * reading or sends one byte a second costs it nothing.
 */
#ifndef DMASCOPE_SINKS_H
#define DMASCOPE_SINKS_H

#include <poll.h>

#include "text.h"

#define DMS_HTTP_MAX_CONNS	16	/* scrapes served at once */
#define DMS_HTTP_MAX_LISTEN	2	/* ":PORT" listens on IPv6 and IPv4 */
#define DMS_HTTP_POLLFDS	(DMS_HTTP_MAX_LISTEN + DMS_HTTP_MAX_CONNS)
#define DMS_HTTP_DEADLINE_MS	2000	/* for a whole request and answer */
#define DMS_HTTP_BACKOFF_MS	100	/* no accept() after running out of fds */

struct dms_http;

/* Listen on host:port (host "" for every address, IPv4 and IPv6). */
struct dms_http *dms_http_listen(const char *host, int port, char *err, size_t errlen);
/* The text served at /metrics from now on (copied). */
void dms_http_set_body(struct dms_http *h, const char *body, size_t len);
/* Fill up to DMS_HTTP_POLLFDS entries for poll(); returns how many. */
int dms_http_pollfds(struct dms_http *h, struct pollfd *fds, uint64_t now_ns);
/* Serve what poll() reported on the n entries dms_http_pollfds() filled. */
void dms_http_serve(struct dms_http *h, const struct pollfd *fds, int n, uint64_t now_ns);
/* The next moment the server needs to run without events (a deadline). */
uint64_t dms_http_next_ns(const struct dms_http *h);
/* Requests that could not be answered: timeouts, resets, no fds. */
uint64_t dms_http_errors(const struct dms_http *h);
uint64_t dms_http_served(const struct dms_http *h);
void dms_http_close(struct dms_http *h);

/*
 * node_exporter textfile collector.  Check that the file can be written
 * (without touching it: an old file stays until there is something to
 * replace it with), write atomically (temporary file, then rename), and
 * remove it at exit, so that node_exporter does not export stale numbers.
 */
bool dms_textfile_check(const char *path, char *err, size_t errlen);
bool dms_textfile_write(const char *path, const char *data, size_t len);
void dms_textfile_remove(const char *path);

#endif /* DMASCOPE_SINKS_H */
