/* Unit tests for the console escape filter (src/term.c). */
#include "nkvm/term.h"
#include "tap.h"

static size_t run(struct term_escape *e, const char *in, size_t n, char *out, bool *quit)
{
	return term_escape_filter(e, (const uint8_t *)in, n, (uint8_t *)out, quit);
}

int main(void)
{
	struct term_escape e = { 0 };
	char out[16];
	bool quit;
	size_t n;

	n = run(&e, "ls\r", 3, out, &quit);
	ok(n == 3 && !memcmp(out, "ls\r", 3) && !quit, "plain bytes pass through");
	n = run(&e, "a\001xb", 4, out, &quit);
	ok(quit && n == 1 && out[0] == 'a', "Ctrl-A x quits, bytes before it pass");
	e.pending = false;
	n = run(&e, "\001\001", 2, out, &quit);
	ok(!quit && n == 1 && out[0] == 1, "Ctrl-A Ctrl-A sends one Ctrl-A");
	n = run(&e, "\001c", 2, out, &quit);
	ok(!quit && n == 2 && out[0] == 1 && out[1] == 'c', "Ctrl-A other sends both");
	n = run(&e, "\001", 1, out, &quit);
	ok(n == 0 && e.pending, "Ctrl-A at the end of a read waits");
	n = run(&e, "X", 1, out, &quit);
	ok(quit && n == 0, "escape split across reads still quits (capital X too)");
	e.pending = false;
	n = run(&e, "\001", 1, out, &quit);
	n = run(&e, "z", 1, out, &quit);
	ok(n == 2 && out[0] == 1 && out[1] == 'z', "pending Ctrl-A flushed with the next byte (n + 1 bytes)");
	return done_testing();
}
