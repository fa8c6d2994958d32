/* Kernel command line parsing for nkvm-init: finds `nkvm.cmd=VALUE`.
 *
 * Header-only and static so the guest init and the host unit test
 * (tests/unit/t_guest_cmdline.c) compile the very same code. */
#ifndef NKVM_GUEST_INITCMD_H
#define NKVM_GUEST_INITCMD_H

#include <stddef.h>
#include <string.h>

#define INITCMD_KEY "nkvm.cmd"

/* Results of initcmd_find() besides a value length. */
#define INITCMD_MISSING (-1)
#define INITCMD_TOOLONG (-2)

static inline int initcmd_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\v' || c == '\f';
}

/*
 * Find the value of nkvm.cmd on a kernel command line (NUL-terminated, as
 * read from /proc/cmdline, trailing newline allowed) and copy it to out.
 *
 * Tokens are split the way the kernel's next_arg() splits them, so init
 * runs exactly what the kernel saw: whitespace ends a token unless inside
 * double quotes, a quote may open the token or the value, and one quote
 * around the value is removed. There is no escape for a double quote
 * inside a quoted value (the kernel has none either). An unterminated
 * quote runs to the end of the line, as in the kernel. When the key
 * appears more than once the last one wins, so a VMM can append its own.
 * A bare `nkvm.cmd` without '=' carries no value and is ignored.
 *
 * Returns the value length (0 for an empty value), INITCMD_MISSING, or
 * INITCMD_TOOLONG when the value does not fit in outsz bytes with its NUL.
 */
static inline int initcmd_find(const char *cmdline, char *out, size_t outsz)
{
	const size_t klen = sizeof(INITCMD_KEY) - 1;
	const char *p = cmdline, *val = NULL;
	size_t vlen = 0;

	for (;;) {
		const char *tok, *eq = NULL;
		int in_quote = 0, quoted = 0;
		size_t len;

		while (initcmd_space(*p))
			p++;
		if (!*p)
			break;
		if (*p == '"') {
			p++;
			in_quote = quoted = 1;
		}
		tok = p;
		for (; *p; p++) {
			if (initcmd_space(*p) && !in_quote)
				break;
			if (!eq && *p == '=')
				eq = p;
			if (*p == '"')
				in_quote = !in_quote;
		}
		len = (size_t)(p - tok);
		if (!eq || (size_t)(eq - tok) != klen ||
		    memcmp(tok, INITCMD_KEY, klen) != 0)
			continue;
		/* Value: after '=', minus one quote on each side. */
		val = eq + 1;
		vlen = len - klen - 1;
		if (vlen && *val == '"') {
			val++;
			vlen--;
			quoted = 1;
		}
		if (quoted && vlen && val[vlen - 1] == '"')
			vlen--;
	}
	if (!val)
		return INITCMD_MISSING;
	if (vlen >= outsz || vlen > 0x7fffffff)
		return INITCMD_TOOLONG;
	memcpy(out, val, vlen);
	out[vlen] = '\0';
	return (int)vlen;
}

#endif
