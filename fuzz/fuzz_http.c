/*
 * libFuzzer harness for the control client's HTTP response parser
 * (src/http_resp.c), which reads whatever a control socket's server
 * sends. Input: [0] bit 0 = the peer has closed (eof), then the bytes
 * received, copied into a buffer of exactly their size so ASan sees any
 * read past it. Checks: only the documented results; a complete answer's
 * status is 200-599 and its body lies inside the bytes; at EOF nothing
 * asks for more; and a complete answer stays complete, same status and
 * body, when parsed again as-is (the parser keeps no state).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nkvm/http_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_resp r, r2;
	bool eof;
	char *buf;
	int ret;

	if (size < 1)
		return 0;
	eof = data[0] & 1;
	size--;
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size);
	ret = http_resp_parse(buf, size, eof, &r);
	if (ret && ret != -EAGAIN && ret != -EPROTO && ret != -EMSGSIZE)
		abort();
	if (eof && ret == -EAGAIN)
		abort();
	if (ret == 0) {
		if (r.status < 200 || r.status > 599 || r.body_off > size ||
		    r.body_len > size - r.body_off)
			abort();
		if (http_resp_parse(buf, size, eof, &r2) || r2.status != r.status ||
		    r2.body_off != r.body_off || r2.body_len != r.body_len)
			abort();
	}
	free(buf);
	return 0;
}
