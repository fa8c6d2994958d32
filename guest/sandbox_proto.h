/*
 * `nkvm sandbox`: what the host hands nkvm-init, and how stdin travels.
 *
 * Header-only and static so nkvm-init (musl, in the guest), nkvm (the
 * encoder side) and the unit test (tests/unit/t_sandbox.c) compile the very
 * same code.
 *
 * The spec: nkvm appends a one-file cpio archive to the initramfs, holding
 * SBX_SPEC_PATH (no temp file on the host, no kernel command line limit).
 * It is a list of NUL-terminated records: first SBX_SPEC_MAGIC, then
 * "key=value" records, in any order:
 *   uid=N gid=N umask=OCTAL groups=N,N,...  (decimal; groups may be empty)
 *   tty=DIGITS   bit 0: stdin is a terminal, 1: stdout, 2: stderr
 *   net=0|1      configure the network (DHCP) before the command
 *   cwd=/PATH exe=/PATH   working directory and the program to execve
 *   arg=A (repeated: argv in order, at least one)  env=N=V (repeated)
 *   share=ro:TAG:/PATH or share=rw:TAG:/PATH   a 9p share and where it goes
 * The decoder rejects anything else: a guest would rather refuse to run a
 * command than run a different one.
 *
 * Stdin when it is not a terminal ("framed"): the bytes go to the guest's
 * hvc0 with 0xFF escaped as FF FF; FF 00 marks the end of input (a tty in
 * raw mode has no end-of-file of its own). Any other byte after FF is a
 * protocol error and both bytes are dropped.
 */
#ifndef NKVM_GUEST_SANDBOX_PROTO_H
#define NKVM_GUEST_SANDBOX_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SBX_SPEC_PATH "/nkvm-sandbox"
#define SBX_SPEC_MAGIC "nkvm-sandbox 1"
#define SBX_SPEC_MAX (128 * 1024)
#define SBX_MAX_ARGS 4096
#define SBX_MAX_ENV 512
#define SBX_MAX_GROUPS 64
#define SBX_MAX_SHARES 8
/* the tag root share nkvm adds, read-only */
#define SBX_ROOT_TAG "nkvm-root"

#define SBX_TTY_IN  1
#define SBX_TTY_OUT 2
#define SBX_TTY_ERR 4

#define SBX_ESC 0xff
#define SBX_ESC_EOF 0x00

struct sbx_share {
	const char *tag, *path;
	int ro;
};

struct sbx_spec {
	unsigned long uid, gid, umask, tty, net;
	unsigned long groups[SBX_MAX_GROUPS];
	int ngroups;
	const char *cwd, *exe;
	char *argv[SBX_MAX_ARGS + 1];  /* NULL-terminated */
	int argc;
	char *envp[SBX_MAX_ENV + 1];   /* NULL-terminated */
	int envc;
	struct sbx_share share[SBX_MAX_SHARES];
	int nshares;
};

/* Decimal (base 10) or octal (base 8) digits only, whole string, <= max. */
static inline int sbx_parse_num(const char *s, unsigned base, unsigned long max,
				unsigned long *out)
{
	unsigned long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (*s < '0' || d >= base || d > max || v > (max - d) / base)
			return -1;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static inline int sbx_parse_groups(struct sbx_spec *sp, char *v)
{
	while (*v) {
		char *comma = strchr(v, ',');

		if (comma)
			*comma = '\0';
		if (sp->ngroups >= SBX_MAX_GROUPS ||
		    sbx_parse_num(v, 10, 0xfffffffeUL, &sp->groups[sp->ngroups]) < 0)
			return -1;
		sp->ngroups++;
		if (!comma)
			break;
		v = comma + 1;
		if (!*v)
			return -1;	/* trailing comma */
	}
	return 0;
}

/* "ro:TAG:/PATH" or "rw:TAG:/PATH"; the tag has no ':' (nkvm splits
 * --share at its last ':'). */
static inline int sbx_parse_share(struct sbx_spec *sp, char *v)
{
	struct sbx_share *s;
	char *tag, *path;

	if (sp->nshares >= SBX_MAX_SHARES)
		return -1;
	s = &sp->share[sp->nshares];
	if (!strncmp(v, "ro:", 3))
		s->ro = 1;
	else if (!strncmp(v, "rw:", 3))
		s->ro = 0;
	else
		return -1;
	tag = v + 3;
	path = strchr(tag, ':');
	if (!path || path == tag || path[1] != '/')
		return -1;
	*path++ = '\0';
	s->tag = tag;
	s->path = path;
	sp->nshares++;
	return 0;
}

/* One "key=value" record; 0 or -1. */
static inline int sbx_parse_record(struct sbx_spec *sp, char *rec)
{
	char *v = strchr(rec, '=');

	if (!v)
		return -1;
	*v++ = '\0';
	if (!strcmp(rec, "uid"))
		return sbx_parse_num(v, 10, 0xfffffffeUL, &sp->uid);
	if (!strcmp(rec, "gid"))
		return sbx_parse_num(v, 10, 0xfffffffeUL, &sp->gid);
	if (!strcmp(rec, "umask"))
		return sbx_parse_num(v, 8, 0777, &sp->umask);
	if (!strcmp(rec, "tty"))
		return sbx_parse_num(v, 10, 7, &sp->tty);
	if (!strcmp(rec, "net"))
		return sbx_parse_num(v, 10, 1, &sp->net);
	if (!strcmp(rec, "groups"))
		return sbx_parse_groups(sp, v);
	if (!strcmp(rec, "share"))
		return sbx_parse_share(sp, v);
	if (!strcmp(rec, "cwd") || !strcmp(rec, "exe")) {
		if (*v != '/')
			return -1;
		if (rec[0] == 'c')
			sp->cwd = v;
		else
			sp->exe = v;
		return 0;
	}
	if (!strcmp(rec, "arg")) {
		if (sp->argc >= SBX_MAX_ARGS)
			return -1;
		sp->argv[sp->argc++] = v;
		return 0;
	}
	if (!strcmp(rec, "env")) {
		if (sp->envc >= SBX_MAX_ENV || !strchr(v, '=') || *v == '=')
			return -1;
		sp->envp[sp->envc++] = v;
		return 0;
	}
	return -1;
}

/*
 * Decode a spec of `len` bytes in place (the records end up pointing into
 * buf). Returns 0, or -1 when anything is wrong: no magic, a record that
 * is not NUL-terminated, an unknown key, a bad number, too many entries, no
 * uid/gid/cwd/exe/arg. *bad_at is set to the offset of the bad record.
 */
static inline int sbx_spec_decode(struct sbx_spec *sp, char *buf, size_t len,
				  size_t *bad_at)
{
	size_t off, mlen = sizeof(SBX_SPEC_MAGIC);
	int have_uid = 0, have_gid = 0;

	memset(sp, 0, sizeof(*sp));
	sp->umask = 022;
	*bad_at = 0;
	if (len < mlen || len > SBX_SPEC_MAX || memcmp(buf, SBX_SPEC_MAGIC, mlen))
		return -1;
	if (buf[len - 1] != '\0') {
		*bad_at = len;
		return -1;
	}
	for (off = mlen; off < len;) {
		char *rec = buf + off;

		*bad_at = off;
		off += strlen(rec) + 1;	/* before parsing splits the record */
		have_uid |= !strncmp(rec, "uid=", 4);
		have_gid |= !strncmp(rec, "gid=", 4);
		if (sbx_parse_record(sp, rec) < 0)
			return -1;
	}
	*bad_at = len;
	if (!have_uid || !have_gid || !sp->cwd || !sp->exe || !sp->argc)
		return -1;
	sp->argv[sp->argc] = NULL;
	sp->envp[sp->envc] = NULL;
	return 0;
}

/* Host side: escape n bytes of stdin into out (room for 2 * n). Returns
 * the framed length. */
static inline size_t sbx_frame(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		out[o++] = in[i];
		if (in[i] == SBX_ESC)
			out[o++] = SBX_ESC;
	}
	return o;
}

struct sbx_unframe {
	int esc;        /* the previous chunk ended in FF */
	int eof;        /* FF 00 seen: the rest is ignored */
	unsigned long errors;
};

/* Guest side: decode n framed bytes in place; returns the data length.
 * Sets u->eof at the end marker (bytes after it are dropped). */
static inline size_t sbx_unframe(struct sbx_unframe *u, uint8_t *buf, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && !u->eof; i++) {
		uint8_t c = buf[i];

		if (!u->esc) {
			if (c == SBX_ESC)
				u->esc = 1;
			else
				buf[o++] = c;
			continue;
		}
		u->esc = 0;
		if (c == SBX_ESC)
			buf[o++] = c;
		else if (c == SBX_ESC_EOF)
			u->eof = 1;
		else
			u->errors++;
	}
	return o;
}

#endif
