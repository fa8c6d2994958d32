/* Unit test for nkvm-init's kernel command line parser (guest/initcmd.h). */
#include "tap.h"
#include "../../guest/initcmd.h"

#include <stdlib.h>

static char out[4096];

/* Runs the parser and checks both the result code and the value. */
static void check(const char *cmdline, int want_ret, const char *want, const char *what)
{
	int ret;

	memset(out, 'X', sizeof(out));
	ret = initcmd_find(cmdline, out, sizeof(out));
	is_int(ret, want_ret, "%s: result", what);
	if (want)
		is_str(ret >= 0 ? out : NULL, want, "%s: value", what);
}

static void test_long(void)
{
	size_t n = 3000, i;
	char *line = malloc(n + 64);
	char small[8];

	/* A 3000-byte line of filler, the command at the very end. */
	for (i = 0; i < n; i++)
		line[i] = (i % 10 == 9) ? ' ' : 'a';
	strcpy(line + n, " nkvm.cmd=\"exit 7\"\n");
	check(line, 6, "exit 7", "long line, value at end");

	/* A value longer than the output buffer is reported, not cut. */
	strcpy(line, "nkvm.cmd=");
	memset(line + 9, 'b', n);
	line[9 + n] = '\0';
	memset(out, 0, sizeof(out));
	is_int(initcmd_find(line, out, sizeof(out)), (int)n, "3000-byte value fits 4096");
	is_int(initcmd_find(line, small, sizeof(small)), INITCMD_TOOLONG, "value too long for buffer");
	is_int(initcmd_find("nkvm.cmd=12345678", small, sizeof(small)), INITCMD_TOOLONG,
	       "value + NUL one past buffer");
	is_int(initcmd_find("nkvm.cmd=1234567", small, sizeof(small)), 7, "value + NUL exactly fits");
	free(line);
}

int main(void)
{
	check("console=ttyS0 nkvm.cmd=uname", 5, "uname", "plain value");
	check("nkvm.cmd=\"echo hi; exit 3\"", 15, "echo hi; exit 3", "quoted, spaces and semicolon");
	check("nkvm.cmd=\"echo a;b\" console=ttyS0 quiet", 8, "echo a;b", "value at start");
	check("console=ttyS0 nkvm.cmd=\"ls -l /\" quiet", 7, "ls -l /", "value in middle");
	check("console=ttyS0 quiet nkvm.cmd=\"ls -l /\"\n", 7, "ls -l /",
	      "value at end, /proc/cmdline newline");
	check("console=ttyS0 quiet nkvm.cmd=true\n", 4, "true", "plain value at end with newline");
	check("console=ttyS0 quiet", INITCMD_MISSING, NULL, "missing");
	check("", INITCMD_MISSING, NULL, "empty command line");
	check("   \n", INITCMD_MISSING, NULL, "blank command line");
	check("nkvm.cmd= quiet", 0, "", "empty value");
	check("nkvm.cmd=\"\" quiet", 0, "", "empty quoted value");
	check("nkvm.cmd quiet", INITCMD_MISSING, NULL, "key without '=' carries no value");
	check("nkvm.cmd=\"echo hi; exit 3", 15, "echo hi; exit 3",
	      "unterminated quote runs to end of line");
	check("nkvm.cmd=\"echo hi\nquiet", 13, "echo hi\nquiet",
	      "unterminated quote keeps the newline inside");
	check("xnkvm.cmd=bad", INITCMD_MISSING, NULL, "xnkvm.cmd= does not match");
	check("nkvm.cmdx=bad nkvm.cm=bad", INITCMD_MISSING, NULL, "longer/shorter key does not match");
	check("xnkvm.cmd=bad nkvm.cmd=good", 4, "good", "similar key then real key");
	check("foo=\"nkvm.cmd=bad\" x", INITCMD_MISSING, NULL, "key inside another quoted value");
	check("\"nkvm.cmd=echo a b\" quiet", 8, "echo a b", "quote opening the whole token");
	check("nkvm.cmd=a\"b c\"d quiet", 7, "a\"b c\"d", "quotes inside a value, as the kernel");
	check("nkvm.cmd=one nkvm.cmd=\"two 2\"", 5, "two 2", "last occurrence wins");
	check("nkvm.cmd=a=b", 3, "a=b", "'=' inside the value");
	check("\tnkvm.cmd=x\t", 1, "x", "tabs separate tokens");
	check("nkvm.cmd=\"", 0, "", "lone quote");
	check("-- nkvm.cmd=after", 5, "after", "after -- still found");
	test_long();
	return done_testing();
}
