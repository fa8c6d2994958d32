/* Terminal raw mode with guaranteed restore, and the console escape key. */
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "nkvm/log.h"
#include "nkvm/term.h"

#define ESCAPE_CHAR 0x01  /* Ctrl-A, as in QEMU */

static struct termios saved;
static int saved_fd = -1;

static void fatal_signal(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int term_raw(int fd)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE };
	struct termios t;
	size_t i;

	if (!isatty(fd))
		return 0;
	if (tcgetattr(fd, &saved) < 0)
		return -1;
	saved_fd = fd;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], fatal_signal);
	t = saved;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSAFLUSH, &t) < 0) {
		saved_fd = -1;
		return -1;
	}
	log_crlf = true;
	return 0;
}

void term_restore(void)
{
	if (saved_fd < 0)
		return;
	tcsetattr(saved_fd, TCSAFLUSH, &saved);
	saved_fd = -1;
	log_crlf = false;
}

size_t term_escape_filter(struct term_escape *e, const uint8_t *in, size_t n,
			  uint8_t *out, bool *quit)
{
	size_t i, o = 0;

	*quit = false;
	for (i = 0; i < n; i++) {
		uint8_t c = in[i];

		if (e->pending) {
			e->pending = false;
			if (c == 'x' || c == 'X') {
				*quit = true;
				return o;
			}
			/* Ctrl-A Ctrl-A sends one Ctrl-A; Ctrl-A other sends both */
			out[o++] = ESCAPE_CHAR;
			if (c == ESCAPE_CHAR)
				continue;
		} else if (c == ESCAPE_CHAR) {
			e->pending = true;
			continue;
		}
		out[o++] = c;
	}
	return o;
}
