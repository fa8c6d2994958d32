/* Unit tests for `nkvm sandbox`'s host helpers (src/sandbox/) and the
 * guest's decoders (guest/sandbox_proto.h): spec encode/decode with
 * malformed input, stdin framing across chunk boundaries, the environment
 * filter, the PATH search, the cpio wrapper. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/sandbox.h"
#include "tap.h"
#include "../../guest/sandbox_proto.h"

static struct sbx_spec sp;

/* A complete, valid spec from the encoder. */
static size_t good_spec(struct sbx_buf *b)
{
	static char *argv[] = { "sh", "-c", "echo 'a b'; exit 7", NULL };
	static char *env[] = { "PATH=/usr/bin:/bin", "HOME=/home/u", "LC_ALL=C.UTF-8", NULL };
	static const gid_t groups[] = { 24, 27, 1000 };
	static const struct sbx_host_share sh[] = {
		{ "data", "/home/u/data", false }, { "ref", "/srv/a:b", true },
	};
	struct sbx_cmd c = {
		.uid = 1000, .gid = 1001, .groups = groups, .ngroups = 3,
		.umask = 027, .tty = SBX_TTY_IN | SBX_TTY_ERR, .net = true,
		.cwd = "/home/u/src", .exe = "/bin/sh", .argv = argv, .env = env,
		.shares = sh, .nshares = 2,
	};

	memset(b, 0, sizeof(*b));
	b->max = SBX_SPEC_MAX;
	is_int(sbx_spec_encode(b, &c), 0, "encode a full spec");
	return b->len;
}

static void test_spec_roundtrip(void)
{
	struct sbx_buf b;
	size_t len = good_spec(&b), bad;
	char *copy = malloc(len);

	memcpy(copy, b.p, len);
	is_int(sbx_spec_decode(&sp, copy, len, &bad), 0, "decode it");
	ok(sp.uid == 1000 && sp.gid == 1001 && sp.umask == 027, "uid, gid, umask");
	ok(sp.ngroups == 3 && sp.groups[0] == 24 && sp.groups[2] == 1000, "groups");
	ok(sp.tty == (SBX_TTY_IN | SBX_TTY_ERR) && sp.net == 1, "tty bits, net");
	is_str(sp.cwd, "/home/u/src", "cwd");
	is_str(sp.exe, "/bin/sh", "exe");
	ok(sp.argc == 3 && !sp.argv[3], "argc 3, argv NULL-terminated");
	is_str(sp.argv[2], "echo 'a b'; exit 7", "an argument with spaces and quotes intact");
	ok(sp.envc == 3 && !sp.envp[3], "3 env entries, NULL-terminated");
	is_str(sp.envp[2], "LC_ALL=C.UTF-8", "env entry");
	ok(sp.nshares == 2 && !sp.share[0].ro && sp.share[1].ro, "shares and their ro flags");
	is_str(sp.share[1].tag, "ref", "share tag");
	is_str(sp.share[1].path, "/srv/a:b", "share path may hold ':'");
	free(copy);
	sbx_buf_free(&b);
}

/* Decode `len` bytes of s (a copy; the decoder writes in place). */
static int decode(const char *s, size_t len)
{
	char *copy = malloc(len + 1);
	size_t bad;
	int r;

	memcpy(copy, s, len);
	r = sbx_spec_decode(&sp, copy, len, &bad);
	free(copy);
	return r;
}

#define M SBX_SPEC_MAGIC "\0"
#define BASE "uid=1\0gid=2\0cwd=/\0exe=/bin/true\0arg=true\0"
#define SPEC(extra) M BASE extra

static void bad_spec(const char *s, size_t len, const char *what)
{
	is_int(decode(s, len), -1, "refused: %s", what);
}

static void test_spec_malformed(void)
{
	static const char minimal[] = SPEC("");
	struct sbx_buf b;
	size_t len = good_spec(&b), i;
	int refused = 0;

	is_int(decode(minimal, sizeof(minimal) - 1), 0, "a minimal spec decodes");
	is_int(sp.umask, 022, "umask defaults to 022");
	bad_spec("", 0, "empty");
	bad_spec("nkvm-sandbox 2\0" BASE, sizeof("nkvm-sandbox 2\0" BASE) - 1, "wrong magic");
	bad_spec(minimal, sizeof(minimal) - 2, "last record not NUL-terminated");
	bad_spec(SPEC("bogus=1\0"), sizeof(SPEC("bogus=1\0")) - 1, "unknown key");
	bad_spec(SPEC("noequals\0"), sizeof(SPEC("noequals\0")) - 1, "record without '='");
	bad_spec(SPEC("uid=-1\0"), sizeof(SPEC("uid=-1\0")) - 1, "negative uid");
	bad_spec(SPEC("uid=4294967295\0"), sizeof(SPEC("uid=4294967295\0")) - 1, "uid -1 (no such id)");
	bad_spec(SPEC("uid=99999999999999999999999\0"),
		 sizeof(SPEC("uid=99999999999999999999999\0")) - 1, "uid overflow");
	bad_spec(SPEC("uid=\0"), sizeof(SPEC("uid=\0")) - 1, "empty number");
	bad_spec(SPEC("umask=8\0"), sizeof(SPEC("umask=8\0")) - 1, "umask not octal");
	bad_spec(SPEC("umask=1000\0"), sizeof(SPEC("umask=1000\0")) - 1, "umask too big");
	bad_spec(SPEC("tty=8\0"), sizeof(SPEC("tty=8\0")) - 1, "tty bits out of range");
	bad_spec(SPEC("net=2\0"), sizeof(SPEC("net=2\0")) - 1, "net not 0/1");
	bad_spec(SPEC("groups=1,\0"), sizeof(SPEC("groups=1,\0")) - 1, "groups with a trailing comma");
	bad_spec(SPEC("groups=1,,2\0"), sizeof(SPEC("groups=1,,2\0")) - 1, "groups with an empty entry");
	bad_spec(SPEC("cwd=relative\0"), sizeof(SPEC("cwd=relative\0")) - 1, "relative cwd");
	bad_spec(SPEC("exe=bin/true\0"), sizeof(SPEC("exe=bin/true\0")) - 1, "relative exe");
	bad_spec(SPEC("env=NOVALUE\0"), sizeof(SPEC("env=NOVALUE\0")) - 1, "env entry without '='");
	bad_spec(SPEC("env==x\0"), sizeof(SPEC("env==x\0")) - 1, "env entry with an empty name");
	bad_spec(SPEC("share=xx:t:/p\0"), sizeof(SPEC("share=xx:t:/p\0")) - 1, "share mode neither ro nor rw");
	bad_spec(SPEC("share=rw::/p\0"), sizeof(SPEC("share=rw::/p\0")) - 1, "share with an empty tag");
	bad_spec(SPEC("share=rw:t:p\0"), sizeof(SPEC("share=rw:t:p\0")) - 1, "share with a relative path");
	bad_spec(SPEC("share=rw:t\0"), sizeof(SPEC("share=rw:t\0")) - 1, "share without a path");
	bad_spec(M "gid=2\0cwd=/\0exe=/x\0arg=x\0", sizeof(M "gid=2\0cwd=/\0exe=/x\0arg=x\0") - 1, "no uid");
	bad_spec(M "uid=1\0gid=2\0cwd=/\0exe=/x\0", sizeof(M "uid=1\0gid=2\0cwd=/\0exe=/x\0") - 1, "no argument");
	bad_spec(M "uid=1\0gid=2\0exe=/x\0arg=x\0", sizeof(M "uid=1\0gid=2\0exe=/x\0arg=x\0") - 1, "no cwd");
	/* every truncation of a valid spec but the full one is refused, or
	 * decodes to a spec that still has everything it needs */
	for (i = 1; i < len; i++) {
		if (decode((const char *)b.p, i) < 0)
			refused++;
		else if (!sp.cwd || !sp.exe || !sp.argc)
			break;
	}
	is_int(i, len, "no truncation decodes to an incomplete spec");
	ok(refused > 0, "truncations are refused (%d of %zu)", refused, len - 1);
	sbx_buf_free(&b);
}

static void test_spec_limits(void)
{
	static char *argv[SBX_MAX_ARGS + 2];
	char *env[] = { NULL };
	struct sbx_cmd c = { .cwd = "/", .exe = "/bin/x", .argv = argv, .env = env };
	struct sbx_buf b = { .max = SBX_SPEC_MAX };
	char *big = malloc(SBX_SPEC_MAX);
	int i;

	for (i = 0; i < SBX_MAX_ARGS + 1; i++)
		argv[i] = "x";
	is_int(sbx_spec_encode(&b, &c), -E2BIG, "more than SBX_MAX_ARGS arguments: -E2BIG");
	sbx_buf_free(&b);
	b = (struct sbx_buf){ .max = SBX_SPEC_MAX };
	memset(big, 'a', SBX_SPEC_MAX - 1);
	big[SBX_SPEC_MAX - 1] = '\0';
	argv[0] = big;
	argv[1] = NULL;
	is_int(sbx_spec_encode(&b, &c), -E2BIG, "an argument larger than the spec: -E2BIG");
	ok(b.overflow, "the buffer says overflow");
	sbx_buf_free(&b);
	b = (struct sbx_buf){ .max = SBX_SPEC_MAX };
	argv[0] = NULL;
	is_int(sbx_spec_encode(&b, &c), -EINVAL, "empty argv: -EINVAL");
	argv[0] = "x";
	c.cwd = "rel";
	is_int(sbx_spec_encode(&b, &c), -EINVAL, "relative cwd: -EINVAL");
	sbx_buf_free(&b);
	free(big);
}

static void test_frame(void)
{
	uint8_t in[4096], framed[2 * sizeof(in) + 2], out[sizeof(framed)];
	struct sbx_unframe u = { 0 };
	size_t n, i, got = 0, step;
	uint8_t tail[] = { SBX_ESC, SBX_ESC_EOF, 'x', 'y' };
	uint8_t bad[] = { 'a', SBX_ESC, 'q', 'b' };

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + (i >> 8));
	in[10] = in[11] = SBX_ESC;
	in[12] = SBX_ESC_EOF;
	n = sbx_frame(in, sizeof(in), framed);
	ok(n > sizeof(in), "framing escapes 0xFF (%zu -> %zu bytes)", sizeof(in), n);
	memcpy(framed + n, tail, 2);
	n += 2;
	/* decode in odd-sized chunks so escapes straddle chunk ends */
	for (step = 1, i = 0; i < n && !u.eof; i += step, step = step % 13 + 1) {
		size_t len = i + step > n ? n - i : step;

		memcpy(out + got, framed + i, len);
		got += sbx_unframe(&u, out + got, len);
	}
	ok(u.eof, "end marker seen");
	ok(got == sizeof(in) && !memcmp(out, in, sizeof(in)), "binary data comes back exactly");
	is_int(u.errors, 0, "no protocol errors");
	/* after the end marker, nothing more */
	memcpy(out, tail + 2, 2);
	is_int(sbx_unframe(&u, out, 2), 0, "bytes after the end marker are dropped");
	u = (struct sbx_unframe){ 0 };
	memcpy(out, bad, sizeof(bad));
	n = sbx_unframe(&u, out, sizeof(bad));
	ok(n == 2 && out[0] == 'a' && out[1] == 'b' && u.errors == 1 && !u.eof,
	   "FF followed by another byte: both dropped, counted");
}

static void test_env(void)
{
	char *host[] = { "PATH=/h/bin", "HOME=/root", "SSH_AUTH_SOCK=/x", "LC_ALL=C",
			 "TERM=xterm", "PATHX=1", "FOO=bar", "=bad", "noeq", "CC=gcc", NULL };
	char *sets[] = { "FOO", "CC=clang", "NEW=1" };
	char *nopath[] = { "HOME=/h", NULL };
	char **env;

	ok(sbx_env_passes("PATH=/bin", NULL), "PATH passes");
	ok(sbx_env_passes("LC_CTYPE=C.UTF-8", NULL), "LC_* passes");
	ok(sbx_env_passes("LANG=", NULL), "an empty value passes");
	ok(!sbx_env_passes("PATHX=1", NULL), "a longer name with a listed prefix does not");
	ok(!sbx_env_passes("SSH_AUTH_SOCK=/x", NULL), "SSH_AUTH_SOCK does not");
	ok(!sbx_env_passes("PATH", NULL), "an entry without '=' does not");
	ok(sbx_env_arg_valid("FOO") && sbx_env_arg_valid("_x1=a=b"), "--env NAME, NAME=VALUE");
	ok(!sbx_env_arg_valid("1X") && !sbx_env_arg_valid("=v") && !sbx_env_arg_valid("A-B=1") &&
	   !sbx_env_arg_valid(""), "--env refuses bad names");
	env = sbx_env_build(host, sets, 3);
	ok(env != NULL, "build the environment");
	is_str(sbx_env_get(env, "PATH"), "/h/bin", "PATH kept");
	is_str(sbx_env_get(env, "LC_ALL"), "C", "LC_ALL kept");
	is_str(sbx_env_get(env, "FOO"), "bar", "--env FOO passes the host's value");
	is_str(sbx_env_get(env, "CC"), "clang", "--env CC=clang overrides the host's CC");
	is_str(sbx_env_get(env, "NEW"), "1", "--env NEW=1 sets a new one");
	ok(!sbx_env_get(env, "SSH_AUTH_SOCK") && !sbx_env_get(env, "PATHX"), "others left out");
	free(env);
	env = sbx_env_build(nopath, NULL, 0);
	ok(env && sbx_env_get(env, "PATH") && sbx_env_get(env, "PATH")[0] == '/',
	   "no PATH on the host: a default one");
	free(env);
}

static void test_find_program(void)
{
	char dir[] = "/tmp/t_sandbox.XXXXXX", out[4096], path[256];
	int fd;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/prog", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0755);
	close(fd);
	snprintf(path, sizeof(path), "%s/noexec", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	snprintf(path, sizeof(path), "/nonexistent:%s", dir);
	is_int(sbx_find_program("prog", path, "/", out, sizeof(out)), 0, "found in the second PATH entry");
	snprintf(path, sizeof(path), "%s/prog", dir);
	is_str(out, path, "as an absolute path");
	snprintf(path, sizeof(path), "%s", dir);
	if (geteuid() != 0)
		is_int(sbx_find_program("noexec", path, "/", out, sizeof(out)), -ENOENT,
		       "a file without x permission is skipped");
	else
		ok(1, "a file without x permission is skipped # SKIP root may execute anything");
	is_int(sbx_find_program("nosuch", path, "/", out, sizeof(out)), -ENOENT, "not found: -ENOENT");
	is_int(sbx_find_program("prog", ":", dir, out, sizeof(out)), 0, "an empty PATH entry is the cwd");
	is_int(sbx_find_program("./x/y", "/bin", "/c/d", out, sizeof(out)), 0, "a name with '/' is not searched");
	is_str(out, "/c/d/./x/y", "and made absolute against the cwd");
	is_int(sbx_find_program("/abs/p", "/bin", "/c", out, sizeof(out)), 0, "an absolute name");
	is_str(out, "/abs/p", "kept as is");
	is_int(sbx_find_program("/abs/p", "/bin", "/c", out, 4), -ENAMETOOLONG, "too long: -ENAMETOOLONG");
	is_int(sbx_find_program("", "/bin", "/c", out, sizeof(out)), -ENOENT, "an empty name: -ENOENT");
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ok(system(path) == 0, "cleanup");
}

/* The newc header field i (0-based, after the magic) of the entry at p. */
static unsigned long field(const uint8_t *p, int i)
{
	char h[9];

	memcpy(h, p + 6 + 8 * i, 8);
	h[8] = '\0';
	return strtoul(h, NULL, 16);
}

static void test_cpio(void)
{
	struct sbx_buf b = { .max = 4096 };
	const uint8_t *p;
	size_t off;

	is_int(sbx_cpio_one(&b, "nkvm-sandbox", "hello", 5), 0, "wrap one file");
	p = b.p;
	ok(!memcmp(p, "070701", 6), "newc magic");
	is_int(field(p, 1), 0100400, "a read-only regular file");
	is_int(field(p, 6), 5, "its size");
	is_int(field(p, 11), 13, "name size with the NUL");
	ok(!memcmp(p + 110, "nkvm-sandbox", 13), "its name");
	off = (110 + 13 + 3) & ~3u;
	ok(!memcmp(p + off, "hello", 5), "data 4-byte aligned");
	off = (off + 5 + 3) & ~3u;
	ok(!memcmp(p + off, "070701", 6) && !memcmp(p + off + 110, "TRAILER!!!", 11),
	   "then the trailer");
	is_int(b.len % 4, 0, "whole archive a multiple of 4 bytes");
	sbx_buf_free(&b);
	b = (struct sbx_buf){ .max = 64 };
	is_int(sbx_cpio_one(&b, "f", "x", 1), -1, "too big for the buffer's limit: refused");
	sbx_buf_free(&b);
	b = (struct sbx_buf){ .max = 4096 };
	is_int(sbx_cpio_one(&b, "/abs", "x", 1), -1, "an absolute name: refused");
	sbx_buf_free(&b);
}

int main(void)
{
	test_spec_roundtrip();
	test_spec_malformed();
	test_spec_limits();
	test_frame();
	test_env();
	test_find_program();
	test_cpio();
	return done_testing();
}
