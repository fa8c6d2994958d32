/*
 * Parsers for command-line values. Strict on purpose: no signs, no
 * whitespace, no hex, no fractions, so a typo is an error instead of a
 * surprising value. Syntax errors win over range errors.
 */
#include <errno.h>
#include <stdbool.h>
#include <strings.h>

#include "nkvm/opts.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Leading decimal digits of *sp into *out; advances *sp past them. Returns
 * the digit count; *overflow is set when the value does not fit 64 bits.
 */
static size_t scan_u64(const char **sp, uint64_t *out, bool *overflow)
{
	const char *start = *sp, *p = start;
	uint64_t v = 0;

	*overflow = false;
	while (is_digit(*p)) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			*overflow = true;
		else
			v = v * 10 + d;
		p++;
	}
	*out = v;
	*sp = p;
	return (size_t)(p - start);
}

/* log2 of a K/M/G/T multiplier (any case), 0 for anything else. */
static unsigned unit_shift(char c)
{
	switch (c) {
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	case 't':
	case 'T':
		return 40;
	}
	return 0;
}

/*
 * Size: digits, then an optional K/M/G/T (any case) optionally followed by
 * "B" or "iB", or a bare "B" for bytes. No suffix means MiB. "0" parses as
 * 0: minimums are the caller's business. Fractions ("1.5G") are -EINVAL.
 */
int opts_parse_size(const char *s, uint64_t *bytes)
{
	const char *p = s;
	uint64_t v;
	unsigned shift;
	bool overflow;

	if (!s)
		return -EINVAL;
	if (!scan_u64(&p, &v, &overflow))
		return -EINVAL;
	shift = unit_shift(*p);
	if (shift) {
		p++;
		if ((*p == 'i' || *p == 'I') && (p[1] == 'b' || p[1] == 'B'))
			p++;
	} else {
		/* a bare number is MiB, a bare "B" bytes */
		shift = (*p == 'b' || *p == 'B') ? 0 : 20;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return -EINVAL;
	if (overflow || v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = v << shift;
	return 0;
}

/* Decimal integer in [min, max]; *out is written only on success. */
int opts_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *p = s;
	uint64_t v;
	bool overflow;

	if (!s || !scan_u64(&p, &v, &overflow) || *p)
		return -EINVAL;
	if (overflow || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/*
 * One element starting at p: "key", "key=value" or key="quoted value".
 * Stores it in *kv, NUL-terminates in place and returns the start of the
 * next element (NULL after the last), or sets *err.
 */
static char *kv_one(char *p, struct opts_kv *kv, int *err)
{
	char *q;

	kv->key = p;
	kv->val = NULL;
	while (*p && *p != '=' && *p != ',' && *p != '"')
		p++;
	if (p == kv->key || *p == '"')
		goto bad;
	if (*p != '=')
		goto next;
	*p++ = '\0';
	if (*p == '"') {
		kv->val = ++p;
		q = p;
		while (*q && *q != '"')
			q++;
		if (*q != '"')
			goto bad;	/* unterminated */
		*q++ = '\0';
		p = q;
		if (*p && *p != ',')
			goto bad;	/* text after the closing quote */
		goto next;
	}
	kv->val = p;
	while (*p && *p != ',' && *p != '"')
		p++;
	if (*p == '"')
		goto bad;	/* a quote inside an unquoted value */
next:
	if (!*p)
		return NULL;
	*p++ = '\0';
	return p;
bad:
	*err = -EINVAL;
	return NULL;
}

/*
 * Split "k=v,k2,k3=\"a,b\"" in place. Values may contain '=' (only the
 * first one splits); a value in double quotes may contain commas but no
 * quote (there are no escapes); "k=" gives an empty value, "k" a NULL one.
 * Every element needs a key, so ",", "=x", "a,,b" and a trailing comma are
 * -EINVAL; "" is 0 pairs. More than min(max, OPTS_KV_MAX) pairs is
 * -EINVAL. Duplicate keys are left to the caller. On error the string and
 * kv[] hold partial results.
 */
int opts_kv_split(char *s, struct opts_kv *kv, int max)
{
	int n = 0, err = 0;
	char *p = s;

	if (!s || !kv || max < 0)
		return -EINVAL;
	if (max > OPTS_KV_MAX)
		max = OPTS_KV_MAX;
	if (!*p)
		return 0;
	while (p) {
		if (n >= max)
			return -EINVAL;
		p = kv_one(p, &kv[n++], &err);
		if (err)
			return err;
	}
	return n;
}

/* on/off, true/false, yes/no, 1/0 in any case -> 1/0, else -EINVAL. */
int opts_parse_bool(const char *s)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };
	size_t i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i]))
			return 1;
		if (!strcasecmp(s, no[i]))
			return 0;
	}
	return -EINVAL;
}
