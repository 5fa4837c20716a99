// SPDX-License-Identifier: GPL-2.0
/*
 * libdmascope sinks: the node_exporter textfile.  One per process: a
 * *.prom file in an existing directory, written atomically, guarded by a
 * lock file beside it so that two tools never take turns overwriting it,
 * and removed at exit only when this process wrote it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinks.h"

#define SUFFIX	".prom"

static struct {
	char path[PATH_MAX];
	char tmp[PATH_MAX];
	char lock[PATH_MAX];
	int lock_fd;
	bool open, written;
} tf = { .lock_fd = -1 };

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

/* node_exporter reads *.prom only: any other name can only be a mistake */
static bool good_name(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t n = strlen(base);

	return n > strlen(SUFFIX) && !strcmp(base + n - strlen(SUFFIX), SUFFIX);
}

/* The directory exists, and the file, if there is one, is a plain file */
static bool good_place(const char *path, char *err, size_t errlen)
{
	char copy[PATH_MAX];
	struct stat sb;
	const char *dir;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (stat(dir, &sb)) {
		snprintf(err, errlen, "textfile directory '%s': %s", dir, strerror(errno));
		return false;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "textfile directory '%s' is not a directory", dir);
		return false;
	}
	if (!lstat(path, &sb) && !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "textfile '%s' exists and is not a regular file", path);
		return false;
	}
	return true;
}

/* DIR/.NAME.lock, and DIR/NAME.PID.tmp for the atomic rename */
static bool side_paths(const char *path)
{
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	int n;

	n = snprintf(tf.lock, sizeof(tf.lock), "%.*s.%s.lock", dir_len, path, path + dir_len);
	if (n >= (int)sizeof(tf.lock))
		return false;
	n = snprintf(tf.tmp, sizeof(tf.tmp), "%s.%d.tmp", path, (int)getpid());
	return n < (int)sizeof(tf.tmp) &&
	       snprintf(tf.path, sizeof(tf.path), "%s", path) < (int)sizeof(tf.path);
}

static bool take_lock(char *err, size_t errlen)
{
	tf.lock_fd = open(tf.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (tf.lock_fd < 0) {
		snprintf(err, errlen, "cannot create the lock file '%s': %s", tf.lock,
			 strerror(errno));
		return false;
	}
	if (flock(tf.lock_fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "another process writes the textfile '%s' (it holds '%s')",
				 tf.path, tf.lock);
		else
			snprintf(err, errlen, "cannot lock '%s': %s", tf.lock, strerror(errno));
		close(tf.lock_fd);
		tf.lock_fd = -1;
		return false;
	}
	return true;
}

/* Create and remove the temporary file: the real one is left alone. */
static bool can_write(char *err, size_t errlen)
{
	int fd = open(tf.tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0) {
		snprintf(err, errlen, "cannot write the textfile '%s': %s", tf.path, strerror(errno));
		return false;
	}
	close(fd);
	unlink(tf.tmp);
	return true;
}

static void close_at_exit(void)
{
	dms_textfile_close();
}

bool dms_textfile_open(const char *path, char *err, size_t errlen)
{
	static bool registered;

	if (!good_name(path)) {
		snprintf(err, errlen, "the textfile must be a *%s file (node_exporter reads no other), not '%s'",
			 SUFFIX, path);
		return false;
	}
	if (!side_paths(path)) {
		snprintf(err, errlen, "textfile path '%s' is too long", path);
		return false;
	}
	if (!good_place(path, err, errlen) || !take_lock(err, errlen))
		return false;
	if (!can_write(err, errlen)) {
		dms_textfile_close();
		return false;
	}
	tf.open = true;
	tf.written = false;
	if (!registered)
		atexit(close_at_exit);
	registered = true;
	return true;
}

bool dms_textfile_write(const char *data, size_t len)
{
	int fd, saved;
	bool ok;

	if (!tf.open) {
		errno = EBADF;
		return false;
	}
	fd = open(tf.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	ok = write_all(fd, data, len);
	ok = !close(fd) && ok;
	if (ok && rename(tf.tmp, tf.path))
		ok = false;
	if (!ok) {
		saved = errno;
		unlink(tf.tmp);
		errno = saved;
	}
	tf.written |= ok;
	return ok;
}

void dms_textfile_close(void)
{
	if (tf.written && unlink(tf.path) && errno != ENOENT)
		dms_warn("cannot remove the textfile '%s': %s", tf.path, strerror(errno));
	tf.written = false;
	tf.open = false;
	if (tf.lock_fd < 0)
		return;
	/*
	 * Gone with the tool.  A tool starting in this very moment may lock
	 * the old inode while a third creates a new one: both then run.
	 */
	unlink(tf.lock);
	close(tf.lock_fd);
	tf.lock_fd = -1;
}
