/* Unit tests for the control client's strict HTTP response parser:
 * complete, partial, truncated, malformed, oversized, and mutated input. */
#include <errno.h>
#include <stdlib.h>

#include "nkvm/http_resp.h"
#include "tap.h"

static int parse(const char *s, bool eof, struct http_resp *r)
{
	return http_resp_parse(s, strlen(s), eof, r);
}

static int parse_eof(const char *s)
{
	struct http_resp r;

	return parse(s, true, &r);
}

static void test_good(void)
{
	static const char ok200[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				    "Content-Length: 13\r\n\r\n{\"id\": \"vm\"}\n";
	struct http_resp r;
	size_t i;
	int bad = 0;

	is_int(parse(ok200, false, &r), 0, "200 with Content-Length: complete");
	is_int(r.status, 200, "status 200");
	is_int(r.body_len, 13, "body length");
	ok(!memcmp(ok200 + r.body_off, "{\"id\"", 5), "body offset");
	/* every strict prefix needs more, and is malformed at EOF */
	for (i = 0; i < sizeof(ok200) - 1; i++) {
		bad += http_resp_parse(ok200, i, false, &r) != -EAGAIN;
		bad += http_resp_parse(ok200, i, true, &r) != -EPROTO;
	}
	is_int(bad, 0, "every prefix: -EAGAIN, or -EPROTO once the peer closed");

	is_int(parse("HTTP/1.1 204 No Content\r\n\r\n", false, &r), 0, "204: complete at once");
	is_int(r.body_len, 0, "204: no body");
	is_int(parse("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false, &r), 0,
	       "204 ignores a Content-Length");
	is_int(parse("HTTP/1.0 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}", false, &r), 0,
	       "HTTP/1.0, 400");
	is_int(r.status, 400, "status 400");
	is_int(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, &r), 0,
	       "no reason phrase");
	is_int(parse("HTTP/1.1 200 OK\r\ncontent-length:\t2 \r\n\r\n{}", false, &r), 0,
	       "header name case-insensitive, OWS around the value");
	is_int(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
		     false, &r), 0, "repeated equal Content-Length");
	is_int(parse("HTTP/1.1 200 OK\r\nX: y\r\n\r\n{\"a\":1}", false, &r), -EAGAIN,
	       "no Content-Length: wait for the close");
	is_int(parse("HTTP/1.1 200 OK\r\nX: y\r\n\r\n{\"a\":1}", true, &r), 0,
	       "no Content-Length: body runs to EOF");
	is_int(r.body_len, 7, "... all of it");
}

static void test_bad(void)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 20x OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 199 Odd\r\n\r\n",
		"HTTP/1.1 600 Odd\r\n\r\n",
		"HTTP/1.1 099 Odd\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n",
		"HTTP/1.1 200 OK\n\n{}",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra",
		"HTTP/1.1 204 No Content\r\n\r\nbody",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
		"",
		"garbage",
	};
	struct http_resp r;
	char *big;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int got = parse_eof(bad[i]);

		if (!ok(got == -EPROTO, "malformed %zu refused", i))
			diag("  got %d for \"%s\"", got, bad[i]);
	}
	is_int(http_resp_parse("HTTP/1.1 200 OK\r\nX\0: y\r\n\r\n", 26, true, &r), -EPROTO,
	       "NUL byte in the head");
	is_int(parse_eof("HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n"), -EMSGSIZE,
	       "Content-Length over 1 MiB: -EMSGSIZE at once");
	is_int(parse_eof("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
	       -EMSGSIZE, "Content-Length that overflows: -EMSGSIZE");
	is_int(parse("HTTP/1.1 200 OK\r\nContent-Length: 1048560\r\n\r\n", false, &r), -EMSGSIZE,
	       "head + body over 1 MiB: -EMSGSIZE");

	big = malloc(HTTP_RESP_MAX + 100);
	memset(big, 'a', HTTP_RESP_MAX + 100);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	is_int(http_resp_parse(big, HTTP_HEAD_MAX + 1, false, &r), -EMSGSIZE,
	       "headers with no end past 16 KiB: -EMSGSIZE");
	memcpy(big + 20, "y\r\n\r\n", 5);
	is_int(http_resp_parse(big, HTTP_RESP_MAX + 1, false, &r), -EMSGSIZE,
	       "body with no length past 1 MiB: -EMSGSIZE");
	memcpy(big + 17, "Content-Length: 2\r\n", 19);
	memset(big + 36, 'x', HTTP_HEAD_MAX);
	memcpy(big + 36 + HTTP_HEAD_MAX, "\r\n\r\n{}", 6);
	is_int(http_resp_parse(big, 36 + HTTP_HEAD_MAX + 6, true, &r), -EMSGSIZE,
	       "a complete head over 16 KiB: -EMSGSIZE");
	free(big);
}

/* Random byte flips, cuts and insertions of valid answers: the parser
 * must return one of its codes, and a body inside the buffer. */
static void test_mutations(void)
{
	static const char *const seeds[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"id\": \"vm\"}\n",
		"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n",
		"HTTP/1.1 400 Bad Request\r\nContent-Length: 23\r\n\r\n{\"fault_message\": \"no\"}",
	};
	char buf[256];
	unsigned seed = 12345, i;
	int bad = 0;

	for (i = 0; i < 200000; i++) {
		const char *s = seeds[i % 3];
		size_t len = strlen(s), k;
		struct http_resp r;
		int ret;

		memcpy(buf, s, len);
		for (k = 0; k < 1 + i % 4; k++) {
			seed = seed * 1103515245 + 12345;
			buf[(seed >> 8) % len] = (char)(seed >> 16);
		}
		seed = seed * 1103515245 + 12345;
		if (seed & 0x100)
			len = (seed >> 10) % (len + 1);
		ret = http_resp_parse(buf, len, seed & 0x200, &r);
		if (ret == 0 && (r.body_off > len || r.body_len > len - r.body_off ||
				 r.status < 200 || r.status > 599))
			bad++;
		else if (ret && ret != -EAGAIN && ret != -EPROTO && ret != -EMSGSIZE)
			bad++;
	}
	is_int(bad, 0, "200000 mutated answers: only documented results, body in bounds");
}

int main(void)
{
	test_good();
	test_bad();
	test_mutations();
	return done_testing();
}
