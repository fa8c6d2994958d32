/* `nkvm sandbox`: the spec nkvm-init reads, in a cpio archive (sandbox.h,
 * guest/sandbox_proto.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nkvm/sandbox.h"
#include "../guest/sandbox_proto.h"

int sbx_buf_add(struct sbx_buf *b, const void *data, size_t len)
{
	if (b->overflow || len > b->max - b->len) {
		b->overflow = true;
		return -1;
	}
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		uint8_t *p;

		while (cap < b->len + len)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->overflow = true;
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

void sbx_buf_free(struct sbx_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* One "key=value\0" record. */
static void rec(struct sbx_buf *b, const char *key, const char *val)
{
	sbx_buf_add(b, key, strlen(key));
	sbx_buf_add(b, "=", 1);
	sbx_buf_add(b, val, strlen(val) + 1);
}

static void rec_num(struct sbx_buf *b, const char *key, bool octal, unsigned long v)
{
	char num[32];

	snprintf(num, sizeof(num), octal ? "%lo" : "%lu", v);
	rec(b, key, num);
}

static void rec_groups(struct sbx_buf *b, const gid_t *groups, int n)
{
	char num[16];
	int i;

	sbx_buf_add(b, "groups=", 7);
	for (i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%s%lu", i ? "," : "", (unsigned long)groups[i]);
		sbx_buf_add(b, num, strlen(num));
	}
	sbx_buf_add(b, "", 1);
}

static void rec_share(struct sbx_buf *b, const struct sbx_host_share *s)
{
	sbx_buf_add(b, s->ro ? "share=ro:" : "share=rw:", 9);
	sbx_buf_add(b, s->tag, strlen(s->tag));
	sbx_buf_add(b, ":", 1);
	sbx_buf_add(b, s->path, strlen(s->path) + 1);
}

int sbx_spec_encode(struct sbx_buf *b, const struct sbx_cmd *c)
{
	int i;

	if (!c->argv || !c->argv[0] || c->cwd[0] != '/' || c->exe[0] != '/' ||
	    c->nshares > SBX_MAX_SHARES)
		return -EINVAL;
	if (c->ngroups > SBX_MAX_GROUPS)
		return -E2BIG;
	for (i = 0; i < c->nshares; i++)
		if (c->shares[i].path[0] != '/' || !c->shares[i].tag[0] ||
		    strchr(c->shares[i].tag, ':'))
			return -EINVAL;
	sbx_buf_add(b, SBX_SPEC_MAGIC, sizeof(SBX_SPEC_MAGIC));
	rec_num(b, "uid", false, c->uid);
	rec_num(b, "gid", false, c->gid);
	rec_groups(b, c->groups, c->ngroups);
	rec_num(b, "umask", true, c->umask & 0777);
	rec_num(b, "tty", false, c->tty & 7);
	rec_num(b, "net", false, c->net);
	rec(b, "cwd", c->cwd);
	rec(b, "exe", c->exe);
	for (i = 0; i < c->nshares; i++)
		rec_share(b, &c->shares[i]);
	for (i = 0; c->argv[i]; i++) {
		if (i >= SBX_MAX_ARGS)
			return -E2BIG;
		rec(b, "arg", c->argv[i]);
	}
	for (i = 0; c->env && c->env[i]; i++) {
		if (i >= SBX_MAX_ENV)
			return -E2BIG;
		rec(b, "env", c->env[i]);
	}
	return b->overflow ? -E2BIG : 0;
}

/* One newc header (magic 070701, 13 fields of 8 hex digits), the name
 * and its NUL padded to 4 bytes. */
static void cpio_header(struct sbx_buf *b, const char *name, unsigned mode,
			uint32_t size)
{
	static const uint8_t zeros[4];
	char h[160];
	uint32_t namesize = (uint32_t)strlen(name) + 1;

	snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 0u, mode, 0u, 0u, 1u, 0u, size, 0u, 0u, 0u, 0u, namesize, 0u);
	sbx_buf_add(b, h, 110);
	sbx_buf_add(b, name, namesize);
	sbx_buf_add(b, zeros, (4 - (110 + namesize) % 4) % 4);
}

int sbx_cpio_one(struct sbx_buf *b, const char *name, const void *data, size_t len)
{
	static const uint8_t zeros[4];

	if (!*name || name[0] == '/' || len > 0xffffffffu)
		return -1;
	cpio_header(b, name, 0100400, (uint32_t)len);
	sbx_buf_add(b, data, len);
	sbx_buf_add(b, zeros, (4 - len % 4) % 4);
	cpio_header(b, "TRAILER!!!", 0, 0);
	return b->overflow ? -1 : 0;
}
