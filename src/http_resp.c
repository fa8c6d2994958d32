/* Strict HTTP/1.1 response parsing for the control client (http_resp.h). */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "nkvm/http_resp.h"

/* RFC 9110 token characters (header names). */
static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Field values: visible ASCII, spaces and tabs, and obs-text. */
static bool is_vchar(char c)
{
	unsigned char u = (unsigned char)c;

	return u == '\t' || (u >= 0x20 && u != 0x7f);
}

/* "HTTP/1.x SSS[ reason]" (the line without its CRLF). */
static int parse_status(const char *s, size_t n, int *status)
{
	size_t i;

	if (n < 12 || (memcmp(s, "HTTP/1.1 ", 9) && memcmp(s, "HTTP/1.0 ", 9)))
		return -EPROTO;
	for (i = 9; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EPROTO;
	if (n > 12 && s[12] != ' ')
		return -EPROTO;
	for (i = 13; i < n; i++)
		if (!is_vchar(s[i]))
			return -EPROTO;
	*status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	return *status >= 200 && *status <= 599 ? 0 : -EPROTO;
}

/* A Content-Length value: digits only, at most HTTP_RESP_MAX. */
static int parse_length(const char *v, size_t n, size_t *out)
{
	size_t i, x = 0;

	if (n == 0)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EPROTO;
		x = x * 10 + (size_t)(v[i] - '0');
		if (x > HTTP_RESP_MAX)
			return -EMSGSIZE;
	}
	*out = x;
	return 0;
}

/* One "Name: value" line (without CRLF); records Content-Length. */
static int parse_header(const char *s, size_t n, size_t *clen, bool *have_clen)
{
	const char *colon = memchr(s, ':', n), *v;
	size_t i, name_len, vlen, x;
	int r;

	if (!colon || colon == s)
		return -EPROTO;  /* also catches obs-fold (leading space) */
	name_len = (size_t)(colon - s);
	for (i = 0; i < name_len; i++)
		if (!is_tchar(s[i]))
			return -EPROTO;
	v = colon + 1;
	vlen = n - name_len - 1;
	for (i = 0; i < vlen; i++)
		if (!is_vchar(v[i]))
			return -EPROTO;
	while (vlen && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (name_len == 17 && !strncasecmp(s, "Transfer-Encoding", 17))
		return -EPROTO;
	if (name_len != 14 || strncasecmp(s, "Content-Length", 14))
		return 0;
	r = parse_length(v, vlen, &x);
	if (r)
		return r;
	if (*have_clen && x != *clen)
		return -EPROTO;
	*clen = x;
	*have_clen = true;
	return 0;
}

int http_resp_parse(const char *buf, size_t len, bool eof, struct http_resp *r)
{
	const char *end = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
	const char *line = buf, *eol;
	size_t head, clen = 0, need;
	bool have_clen = false;
	int ret;

	if (!end) {
		if (len > HTTP_HEAD_MAX)
			return -EMSGSIZE;
		return eof ? -EPROTO : -EAGAIN;
	}
	head = (size_t)(end - buf) + 4;
	if (head > HTTP_HEAD_MAX)
		return -EMSGSIZE;
	if (memchr(buf, '\0', head))
		return -EPROTO;
	/* status line, then headers, each ending in CRLF; a bare CR or LF
	 * inside a line is malformed */
	for (;;) {
		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		if (memchr(line, '\n', (size_t)(eol - line)) ||
		    memchr(line, '\r', (size_t)(eol - line)))
			return -EPROTO;
		if (line == buf)
			ret = parse_status(line, (size_t)(eol - line), &r->status);
		else
			ret = parse_header(line, (size_t)(eol - line), &clen, &have_clen);
		if (ret)
			return ret;
		if (eol == end)
			break;
		line = eol + 2;
	}
	r->body_off = head;
	if (r->status == 204 || r->status == 304) {
		r->body_len = 0;
		return len == head ? 0 : -EPROTO;
	}
	if (!have_clen) {
		/* no length: the body runs to the end of the connection */
		if (!eof)
			return len > HTTP_RESP_MAX ? -EMSGSIZE : -EAGAIN;
		r->body_len = len - head;
		return 0;
	}
	need = head + clen;
	if (need > HTTP_RESP_MAX)
		return -EMSGSIZE;
	if (len < need)
		return eof ? -EPROTO : -EAGAIN;
	if (len > need)
		return -EPROTO;
	r->body_len = clen;
	return 0;
}
