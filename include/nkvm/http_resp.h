/*
 * A strict parser for the HTTP/1.1 responses of nkvm's control socket
 * (one response per connection, Connection: close). Pure: it works on a
 * buffer, so it is unit-tested and fuzzed without sockets.
 */
#ifndef NKVM_HTTP_RESP_H
#define NKVM_HTTP_RESP_H

#include <stdbool.h>
#include <stddef.h>

/* The most a response may take, status line and headers included. */
#define HTTP_RESP_MAX (1024 * 1024)
/* The most the status line and headers may take. */
#define HTTP_HEAD_MAX (16 * 1024)

struct http_resp {
	int status;             /* 200-599 */
	size_t body_off;        /* the body is buf[body_off, body_off + body_len) */
	size_t body_len;
};

/*
 * Parse the len bytes received so far; eof says the peer has closed.
 * Returns 0 with *r filled once the response is complete, -EAGAIN when
 * more bytes are needed, -EMSGSIZE when it would exceed HTTP_HEAD_MAX or
 * HTTP_RESP_MAX, -EPROTO when it is malformed: a bad status line or header,
 * a 1xx status, Transfer-Encoding (only Content-Length is accepted),
 * conflicting Content-Lengths, bytes after the body, or a body cut short.
 */
int http_resp_parse(const char *buf, size_t len, bool eof, struct http_resp *r)
	__attribute__((warn_unused_result));

#endif
