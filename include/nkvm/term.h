/* The host terminal: raw mode while a guest owns it, restored on every exit
 * path (normal exit, errors, fatal signals). */
#ifndef NKVM_TERM_H
#define NKVM_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Put fd (a TTY) in raw mode; no-op returning 0 when it is not a TTY. */
int term_raw(int fd);
/* Restore the saved mode; safe to call many times and from signal handlers. */
void term_restore(void);

/*
 * Console escape filter (Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A):
 * filters in[0..n) into out (which has room for n + 1 bytes) and returns the
 * number of bytes to pass on; sets *quit when the escape was typed.
 */
struct term_escape {
	bool pending;   /* the previous byte was Ctrl-A */
};
size_t term_escape_filter(struct term_escape *e, const uint8_t *in, size_t n,
			  uint8_t *out, bool *quit);

#endif
