/* Logging: one line per message on stderr, prefixed "nkvm: ". */
#ifndef NKVM_LOG_H
#define NKVM_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;
/* Set while the terminal is in raw mode: lines then end in CR LF. */
extern bool log_crlf;

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A second destination (the API's PUT /logger): called with every message
 * at or below log_sink_level, whatever log_threshold says, from the
 * logging thread. NULL: none.
 */
extern void (*log_sink)(enum log_level lvl, const char *line);
extern enum log_level log_sink_level;

/* The calling thread's last error message ("" when none), for the API's
 * fault_message when a boot it asked for fails. */
const char *log_last_error(void);

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Rate limiter for messages a guest can trigger: true at most `burst` times,
 * then once every 1000 calls, so a hostile guest cannot flood the log.
 */
struct log_ratelimit {
	unsigned long count;
	unsigned burst;
};
bool log_ratelimit_ok(struct log_ratelimit *rl);

/* printf into a caller's error buffer (parsers and loaders report errors
 * this way); does nothing when err is NULL or errlen 0. */
void errbuf_printf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
