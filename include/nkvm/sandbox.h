/*
 * `nkvm sandbox` host side, the parts without a VM (unit-tested in
 * tests/unit/t_sandbox.c): which environment variables go in, finding the
 * program in PATH, encoding the spec nkvm-init reads, and wrapping it in a
 * cpio archive appended to the initramfs. The format itself is
 * guest/sandbox_proto.h.
 */
#ifndef NKVM_SANDBOX_H
#define NKVM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* An output buffer that grows up to a limit (the spec's, or the cpio's). */
struct sbx_buf {
	uint8_t *p;
	size_t len, cap, max;
	bool overflow;          /* something did not fit in max; p kept as is */
};

/* Append bytes; on overflow (or no memory) sets b->overflow and returns -1. */
int sbx_buf_add(struct sbx_buf *b, const void *data, size_t len);
void sbx_buf_free(struct sbx_buf *b);

/*
 * The environment variables a sandboxed command gets from nkvm's own
 * environment: PATH HOME TERM COLORTERM LANG LANGUAGE LC_* TZ USER LOGNAME
 * SHELL, plus those named by --env NAME. True if entry ("NAME=VALUE")
 * passes. `extra` is a NULL-terminated list of names (may be NULL).
 */
bool sbx_env_passes(const char *entry, const char *const *extra);

/* A --env value: NAME or NAME=VALUE, NAME a shell identifier. */
bool sbx_env_arg_valid(const char *arg);

/*
 * Build the command's environment: the passing entries of `environ`, then
 * each --env NAME=VALUE (overriding), PATH defaulted when missing. Returns
 * a malloc'd NULL-terminated array of pointers into environ/sets (not
 * copies), or NULL without memory.
 */
char **sbx_env_build(char *const *environ, char *const *sets, int nsets);

/* The value of NAME in a NULL-terminated "NAME=VALUE" list, or NULL. */
const char *sbx_env_get(char *const *env, const char *name);

/*
 * Find the program as execvp() would: a name with '/' is taken as is
 * (relative to cwd); otherwise each PATH entry is tried (empty = cwd) for a
 * regular file the caller may execute. The absolute result goes to out.
 * 0, -ENOENT (not found), -ENAMETOOLONG.
 */
int sbx_find_program(const char *name, const char *path, const char *cwd,
		     char *out, size_t outlen) __attribute__((warn_unused_result));

struct sbx_host_share {
	const char *tag, *path;  /* path: absolute, where it appears */
	bool ro;
};

/* What the command is and who runs it, as nkvm sees it on the host. */
struct sbx_cmd {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int ngroups;
	mode_t umask;
	unsigned tty;            /* SBX_TTY_* */
	bool net;
	const char *cwd, *exe;
	char *const *argv;       /* NULL-terminated, at least one */
	char *const *env;        /* NULL-terminated */
	const struct sbx_host_share *shares;
	int nshares;
};

/* Encode the spec (guest/sandbox_proto.h) into b (b->max: SBX_SPEC_MAX).
 * 0, or -E2BIG when it does not fit, -EINVAL for a value the format cannot
 * carry (a relative path, an empty argv). */
int sbx_spec_encode(struct sbx_buf *b, const struct sbx_cmd *c)
	__attribute__((warn_unused_result));

/* A newc cpio archive holding one read-only root-owned file `name`
 * (relative, e.g. "nkvm-sandbox") with `data`, then the trailer. 0 or -1. */
int sbx_cpio_one(struct sbx_buf *b, const char *name, const void *data, size_t len)
	__attribute__((warn_unused_result));

#endif
