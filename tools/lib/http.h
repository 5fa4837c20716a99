/* SPDX-License-Identifier: GPL-2.0 */
/* libdmascope internals: the HTTP server's part of the interval loop. */
#ifndef DMASCOPE_HTTP_H
#define DMASCOPE_HTTP_H

#include "dmascope.h"

/* Answer the requests that arrive within timeout_ms. */
void dms_http_poll(struct dms_http *h, int timeout_ms);

#endif
