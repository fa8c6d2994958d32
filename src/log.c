/* Logging to stderr with a level threshold and a rate limiter. */
#include <stdarg.h>
#include <stdio.h>

#include "nkvm/log.h"

enum log_level log_threshold = LOG_WARN;
bool log_crlf;

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	va_list ap;

	if (lvl > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one write per line so threads do not interleave inside a line */
	fprintf(stderr, "nkvm: %s%s%s%s", lvl == LOG_ERR ? "" : names[lvl],
		lvl == LOG_ERR ? "" : ": ", line, log_crlf ? "\r\n" : "\n");
}

bool log_ratelimit_ok(struct log_ratelimit *rl)
{
	unsigned long n = __atomic_fetch_add(&rl->count, 1, __ATOMIC_RELAXED);

	return n < rl->burst || n % 1000 == 0;
}

void errbuf_printf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
