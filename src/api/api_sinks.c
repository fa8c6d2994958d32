/* Where PUT /logger and PUT /metrics send their lines: a named pipe or a
 * file that must exist (as with Firecracker), opened non-blocking so a
 * reader that stalls or never comes costs dropped lines, never a stuck
 * thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api_impl.h"
#include "nkvm/log.h"

/* The logger's destination, for log_sink (any thread). */
static int log_fd = -1;
static bool log_show_level;
static char log_name[CTL_NAME_MAX + 1];

static int open_sink(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (stat(path, &st) < 0) {
		errbuf_printf(err, errlen, "%s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	/* O_RDWR on a pipe: the open does not wait for a reader */
	fd = open(path, (S_ISFIFO(st.st_mode) ? O_RDWR : O_WRONLY | O_APPEND) | O_NONBLOCK |
		  O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		errbuf_printf(err, errlen, "%s '%s': %s", what, path, strerror(errno));
	return fd;
}

static void write_sink(enum log_level lvl, const char *msg)
{
	static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	char line[1200], ts[32];
	struct timespec now;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	/* Firecracker's layout: time, [instance:thread(:LEVEL)], message */
	n = snprintf(line, sizeof(line), "%s.%09ld [%s:main%s%s] %s\n", ts, now.tv_nsec, log_name,
		     log_show_level ? ":" : "", log_show_level ? names[lvl] : "", msg);
	if (n > (int)sizeof(line) - 1) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* one write: lines from several threads do not interleave */
	if (write(__atomic_load_n(&log_fd, __ATOMIC_ACQUIRE), line, (size_t)n) < 0)
		return;
}

int api_logger_open(struct api *a, struct api_logger_cfg *l, char *err, size_t errlen)
{
	int fd = -1, old;

	if (l->log_path && (fd = open_sink("log_path", l->log_path, err, errlen)) < 0)
		return -EINVAL;
	snprintf(log_name, sizeof(log_name), "%s", a->name);
	log_show_level = l->show_level;
	log_sink_level = l->level;
	if (fd >= 0) {
		old = __atomic_exchange_n(&log_fd, fd, __ATOMIC_ACQ_REL);
		log_sink = write_sink;
		if (old >= 0)
			close(old);
	}
	api_logger_cfg_free(&a->logger);
	a->logger = *l;
	memset(l, 0, sizeof(*l));
	return 0;
}

int api_metrics_open(struct api *a, struct api_metrics_cfg *m, char *err, size_t errlen)
{
	int fd = open_sink("metrics_path", m->metrics_path, err, errlen);

	if (fd < 0)
		return -EINVAL;
	if (a->metrics_fd >= 0)
		close(a->metrics_fd);
	a->metrics_fd = fd;
	api_metrics_cfg_free(&a->metrics);
	a->metrics = *m;
	memset(m, 0, sizeof(*m));
	return 0;
}

int api_metrics_flush(struct api *a, char *err, size_t errlen)
{
	json_t *j = api_metrics_line(a);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	char *line = NULL;
	ssize_t w;
	int n;

	json_decref(j);
	if (!s || (n = asprintf(&line, "%s\n", s)) < 0) {
		free(s);
		errbuf_printf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	free(s);
	w = write(a->metrics_fd, line, (size_t)n);
	free(line);
	if (w == n)
		return 0;
	a->metrics_dropped++;
	errbuf_printf(err, errlen, "%s", w < 0 && errno == EAGAIN ?
		      "the metrics pipe is full (nobody reads it): line dropped" :
		      w < 0 ? strerror(errno) : "short write");
	return -EIO;
}

void api_sinks_close(struct api *a)
{
	int fd;

	if (a->metrics_fd >= 0)
		close(a->metrics_fd);
	a->metrics_fd = -1;
	api_metrics_cfg_free(&a->metrics);
	if (a->logger.log_path) {
		log_sink = NULL;
		fd = __atomic_exchange_n(&log_fd, -1, __ATOMIC_ACQ_REL);
		if (fd >= 0)
			close(fd);
	}
	api_logger_cfg_free(&a->logger);
}
