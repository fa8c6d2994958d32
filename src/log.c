/* Logging to stderr with a level threshold and a rate limiter. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nkvm/log.h"

enum log_level log_threshold = LOG_WARN;
bool log_crlf;
void (*log_sink)(enum log_level lvl, const char *line);
enum log_level log_sink_level = LOG_INFO;
static __thread char last_error[256];

const char *log_last_error(void)
{
	return last_error;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	va_list ap;
	void (*sink)(enum log_level, const char *) = log_sink;
	bool to_sink = sink && lvl <= log_sink_level;

	if (lvl > log_threshold && !to_sink)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (lvl == LOG_ERR)
		/* cut to fit: a fault_message needs no more */
		memccpy(last_error, line, '\0', sizeof(last_error) - 1);
	if (to_sink)
		sink(lvl, line);
	if (lvl > log_threshold)
		return;
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
