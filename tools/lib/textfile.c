// SPDX-License-Identifier: GPL-2.0
/* libdmascope sinks: the node_exporter textfile, written atomically. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "sinks.h"

static bool temp_path(const char *path, char *tmp, size_t len)
{
	return snprintf(tmp, len, "%s.%d.tmp", path, (int)getpid()) < (int)len;
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

bool dms_textfile_write(const char *path, const char *data, size_t len)
{
	char tmp[4096];
	int fd, saved;
	bool ok;

	if (!temp_path(path, tmp, sizeof(tmp))) {
		errno = ENAMETOOLONG;
		return false;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	ok = write_all(fd, data, len);
	ok = !close(fd) && ok;
	if (ok && rename(tmp, path))
		ok = false;
	if (!ok) {
		saved = errno;
		unlink(tmp);
		errno = saved;
	}
	return ok;
}

/* Create and remove the temporary file: the real one is left alone. */
bool dms_textfile_check(const char *path, char *err, size_t errlen)
{
	char tmp[4096];
	int fd;

	if (!*path || path[strlen(path) - 1] == '/') {
		snprintf(err, errlen, "textfile path '%s' is not a file name", path);
		return false;
	}
	if (!temp_path(path, tmp, sizeof(tmp))) {
		snprintf(err, errlen, "textfile path '%s' is too long", path);
		return false;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write the textfile '%s': %s", path, strerror(errno));
		return false;
	}
	close(fd);
	unlink(tmp);
	return true;
}

void dms_textfile_remove(const char *path)
{
	if (unlink(path) && errno != ENOENT)
		dms_warn("cannot remove the textfile '%s': %s", path, strerror(errno));
}
