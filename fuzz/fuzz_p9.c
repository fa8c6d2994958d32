/*
 * libFuzzer harness for the 9P2000.L server (src/fs/p9_*.c): whole
 * messages, as the virtio-9p device hands them over, against a real
 * directory tree that is rebuilt before every input.
 *
 * Input: [0] flags, then up to MAX_MSGS records [len lo][len hi][len bytes],
 * each one request passed to p9_handle with req_len = len (its own size
 * field may lie; a short last record is passed as it is).
 *   flags bit 0: first a valid Tversion + Tattach(fid 0) (the "prelude"),
 *                msize from bits 3-4: 8192, 65536, P9_MAX_MSIZE, 4096
 *   flags bit 1: replies into a P9_MIN_MSIZE buffer instead of P9_MAX_MSIZE
 *   flags bit 2: a read-only share
 * Both reply buffers and each request are malloc'd at their exact size, so
 * ASan sees any access past them.
 *
 * Checked after every request: the reply is well framed (size field =
 * length, at most the buffer and the msize, the request's tag when it had
 * one, Rlerror or the matching R-type). After every input: every fid
 * still lies inside the share (the escape oracle: climbing ".." from each
 * fid's directory reaches the share root), the canaries outside the share
 * are untouched, and no fd was leaked.
 *
 * Sandbox: the tree lives in a fresh $TMPDIR/nkvm-fuzz-p9.XXXXXX ("box")
 * holding share/ (the root) and outside/ (canaries). Before the first
 * input the harness forks a helper that removes the box when the process
 * ends (however it ends), then restricts itself with Landlock: creating,
 * writing, removing and renaming files only beneath the box (no device
 * nodes even as root), plus, when run by libFuzzer, beneath the current
 * directory and the directories named on the command line (corpus,
 * artifacts). Fuzzing refuses to start where the kernel has no Landlock;
 * replaying the stored corpus runs without it there.
 * NKVM_FUZZ_NO_LANDLOCK=1 skips the sandbox (a coverage build must write
 * its .gcda files; fuzzing on a kernel without Landlock).
 *
 * NKVM_FUZZ_P9_SEEDS=DIR: write the seed corpus into DIR and exit
 * (fuzz/corpus/p9/ was made this way). NKVM_FUZZ_LOG=1: the server's log
 * messages and one line per request (type, length, reply).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../src/fs/p9_impl.h"
#include "nkvm/le.h"
#include "nkvm/log.h"
#include "nkvm/p9.h"

/* Debian 12's uapi headers stop at Landlock ABI 2 */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif

#define MAX_MSGS	64
#define SECRET		"canary: must never change"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char box[256], share[300], outside[300];
static uint8_t *resp_big, *resp_small;
static bool ready, fuzzing, verbose;
static int fuzz_argc;
static char **fuzz_argv;

/* Called by libFuzzer only (not by replay.c): remember the command line,
 * whose directories the sandbox must leave writable. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzzing = true;
	fuzz_argc = *argc;
	fuzz_argv = *argv;
	return 0;
}

/* rm -rf dfd/name with raw syscalls only (the cleanup helper is a child
 * of a possibly multithreaded process), never following a symlink. */
static void rm_rf(int dfd, const char *name)
{
	char buf[2048];
	struct stat st;
	long n;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlinkat(dfd, name, 0);
		return;
	}
	fchmodat(dfd, name, 0700, 0);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	/* twice: a file system may skip entries while they are removed */
	for (int pass = 0; pass < 2; pass++) {
		lseek(fd, 0, SEEK_SET);
		while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
			for (long off = 0; off < n;) {
				struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);

				off += d->d_reclen;
				if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
					rm_rf(fd, d->d_name);
			}
		}
	}
	close(fd);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static void put(const char *dir, const char *name, const char *content)
{
	char p[700];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, content, strlen(content)) < 0)
		__builtin_trap();
	close(fd);
}

/* The share's starting tree: files, directories, a FIFO, and symlinks
 * pointing out of it in every way. */
static void make_share(void)
{
	char p[700];
	int fd = open(box, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	rm_rf(fd, "share");
	close(fd);
	if (mkdir(share, 0755) < 0)
		__builtin_trap();
	fd = open(share, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	mkdirat(fd, "d", 0755);
	mkdirat(fd, "d/sub", 0755);
	put(share, "d/f", "hello from d/f\n");
	put(share, "file", "0123456789abcdef");
	mkfifoat(fd, "fifo", 0644);
	symlinkat("/etc", fd, "etc");
	symlinkat("../..", fd, "up");
	symlinkat("../outside", fd, "out");
	snprintf(p, sizeof(p), "%s/secret", outside);
	symlinkat(p, fd, "abs");
	close(fd);
}

/* What must stay as it is outside the share: the secret, the outside
 * directory, the box's own listing. */
static void canary_state(char *out, size_t cap)
{
	struct stat a, b, c;
	char p[700], data[64] = "";
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/secret", outside);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, data, sizeof(data) - 1) : -1;
	data[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	lstat(p, &a);
	lstat(outside, &b);
	lstat(box, &c);
	snprintf(out, cap, "%s|%o %u %lld %lld.%ld %lu|%o %u %lld.%ld %lu|%o %lld.%ld %lu",
		 data, a.st_mode, a.st_uid, (long long)a.st_size, (long long)a.st_mtim.tv_sec,
		 a.st_mtim.tv_nsec, (unsigned long)a.st_nlink, b.st_mode, b.st_uid,
		 (long long)b.st_mtim.tv_sec, b.st_mtim.tv_nsec, (unsigned long)b.st_nlink,
		 c.st_mode, (long long)c.st_mtim.tv_sec, c.st_mtim.tv_nsec,
		 (unsigned long)c.st_nlink);
}

static int count_fds(void)
{
	char buf[4096];
	int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	long k;

	if (fd < 0)
		return -1;
	while ((k = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < k; n++)
			off += ((struct dirent64 *)(void *)(buf + off))->d_reclen;
	close(fd);
	return n;
}

static int ll_rule(int rs, const char *path, __u64 access)
{
	struct landlock_path_beneath_attr pb = { .allowed_access = access };
	struct stat st;
	int ret;

	pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (pb.parent_fd < 0)
		return -1;
	if (fstat(pb.parent_fd, &st) == 0 && !S_ISDIR(st.st_mode))
		pb.allowed_access &= LANDLOCK_ACCESS_FS_WRITE_FILE |
				     LANDLOCK_ACCESS_FS_TRUNCATE;
	ret = (int)syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	close(pb.parent_fd);
	return ret;
}

/* Landlock: writes only beneath the box (and libFuzzer's directories).
 * 0, or -1 when the kernel has no Landlock. */
static int sandbox(void)
{
	struct landlock_ruleset_attr rsa = { 0 };
	__u64 all, lf;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LANDLOCK_CREATE_RULESET_VERSION);
	int rs;

	if (abi < 1)
		return -1;
	all = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	      LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	      LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	      LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	rsa.handled_access_fs = all;
	rs = (int)syscall(SYS_landlock_create_ruleset, &rsa, sizeof(rsa), 0);
	if (rs < 0)
		return -1;
	if (ll_rule(rs, box, all & ~(LANDLOCK_ACCESS_FS_MAKE_CHAR |
				     LANDLOCK_ACCESS_FS_MAKE_BLOCK)) < 0)
		__builtin_trap();
	lf = all & (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG |
		    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		    LANDLOCK_ACCESS_FS_TRUNCATE);
	if (fuzzing) {
		ll_rule(rs, ".", lf);
		ll_rule(rs, "/dev/null", lf);
		for (int i = 1; i < fuzz_argc; i++) {
			struct stat st;

			if (fuzz_argv[i][0] != '-' && stat(fuzz_argv[i], &st) == 0 &&
			    S_ISDIR(st.st_mode))
				ll_rule(rs, fuzz_argv[i], lf);
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		__builtin_trap();
	close(rs);
	return 0;
}

/* A helper that outlives us just long enough to remove the box. */
static void spawn_cleaner(void)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		__builtin_trap();
	pid = fork();
	if (pid < 0)
		__builtin_trap();
	if (pid == 0) {
		signal(SIGINT, SIG_IGN);	/* Ctrl-C: the parent goes first */
		signal(SIGHUP, SIG_IGN);
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		rm_rf(AT_FDCWD, box);
		_exit(0);
	}
	close(p[0]);	/* p[1] stays open until we exit */
}

static void write_seeds(const char *dir);

static void setup(void)
{
	const char *t = getenv("TMPDIR");

	if (getenv("NKVM_FUZZ_P9_SEEDS")) {
		write_seeds(getenv("NKVM_FUZZ_P9_SEEDS"));
		exit(0);
	}
	verbose = getenv("NKVM_FUZZ_LOG");
	if (!verbose)
		log_threshold = LOG_ERR;
	snprintf(box, sizeof(box), "%s/nkvm-fuzz-p9.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(box))
		__builtin_trap();
	snprintf(share, sizeof(share), "%s/share", box);
	snprintf(outside, sizeof(outside), "%s/outside", box);
	mkdir(outside, 0755);
	put(outside, "secret", SECRET);
	spawn_cleaner();
	if (getenv("NKVM_FUZZ_NO_LANDLOCK"))
		fprintf(stderr, "fuzz_p9: NKVM_FUZZ_NO_LANDLOCK: no sandbox\n");
	else if (sandbox() < 0 && fuzzing) {
		fprintf(stderr, "fuzz_p9: no Landlock on this kernel: refusing to fuzz "
			"(NKVM_FUZZ_NO_LANDLOCK=1 to go on anyway)\n");
		exit(1);
	}
	resp_big = malloc(P9_MAX_MSIZE);
	resp_small = malloc(P9_MIN_MSIZE);
	ready = true;
}

/* The escape oracle: the directory a fid's object is (or lies in) must
 * lead back to the share root; a deleted one is exempt. */
static void check_fids(struct p9_server *s)
{
	for (unsigned b = 0; b < P9_FID_BUCKETS; b++) {
		for (struct p9_fid *f = s->fids[b]; f; f = f->next) {
			const struct p9_obj *o = f->node.self;
			int fd, depth = 0;
			struct stat st;

			if (f->kind != P9_FID_FILE)
				continue;
			if (!S_ISDIR(o->type))
				o = f->node.parent;
			if (!o)
				__builtin_trap();	/* only dirs lack a parent */
			fd = dup(o->fd);
			while (fd >= 0 && fstat(fd, &st) == 0 && depth++ < 4096) {
				int up;
				struct stat ust;

				if (st.st_dev == s->root->dev && st.st_ino == s->root->ino)
					break;
				if (st.st_nlink == 0)
					break;	/* removed: no longer anywhere */
				up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (up < 0 || fstat(up, &ust) < 0)
					__builtin_trap();
				if (ust.st_dev == st.st_dev && ust.st_ino == st.st_ino)
					__builtin_trap();	/* reached "/": outside */
				close(fd);
				fd = up;
			}
			close(fd);
		}
	}
}

static void check_reply(struct p9_server *s, const uint8_t *req, size_t len,
			const uint8_t *resp, size_t n, size_t cap)
{
	if (n < P9_HDR_SIZE || n > cap || get_le32(resp) != n || n > p9_server_msize(s))
		__builtin_trap();
	if (len >= P9_HDR_SIZE && get_le16(resp + 5) != get_le16(req + 5))
		__builtin_trap();
	if (len < P9_HDR_SIZE && get_le16(resp + 5) != P9_NOTAG)
		__builtin_trap();
	if (resp[4] == P9_RLERROR) {
		if (n != P9_LERROR_SIZE || get_le32(resp + 7) == 0)
			__builtin_trap();
	} else if (len < P9_HDR_SIZE || resp[4] != (uint8_t)(req[4] + 1)) {
		__builtin_trap();
	}
}

static void send_one(struct p9_server *s, const uint8_t *msg, size_t len,
		     uint8_t *resp, size_t cap)
{
	uint8_t *copy = malloc(len ? len : 1);
	size_t n;

	memcpy(copy, msg, len);
	n = p9_handle(s, copy, len, resp, cap);
	check_reply(s, copy, len, resp, n, cap);
	if (verbose)
		fprintf(stderr, "fuzz_p9: T%u (%zu bytes) -> R%u%s%d\n", len > 4 ? copy[4] : 0,
			len, resp[4], resp[4] == P9_RLERROR ? " errno " : " ",
			resp[4] == P9_RLERROR ? (int)get_le32(resp + 7) : (int)n);
	free(copy);
}

static void prelude(struct p9_server *s, uint8_t flags, uint8_t *resp, size_t cap)
{
	static const uint32_t msizes[] = { 8192, 65536, P9_MAX_MSIZE, 4096 };
	uint8_t msg[64];
	struct p9_wbuf w;
	size_t n;

	p9w_init(&w, msg, sizeof(msg));
	p9w_u32(&w, msizes[(flags >> 3) & 3]);
	p9w_cstr(&w, P9_VERSION_L);
	n = p9w_finish(&w, P9_TVERSION, P9_NOTAG);
	send_one(s, msg, n, resp, cap);
	p9w_init(&w, msg, sizeof(msg));
	p9w_u32(&w, 0);
	p9w_u32(&w, P9_NOFID);
	p9w_cstr(&w, "fuzz");
	p9w_cstr(&w, "");
	p9w_u32(&w, 0);
	n = p9w_finish(&w, P9_TATTACH, 1);
	send_one(s, msg, n, resp, cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char before[1024], after[1024];
	struct p9_server *s;
	char err[256];
	uint8_t flags, *resp;
	size_t off = 1, cap;
	int fds;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	flags = data[0];
	make_share();
	canary_state(before, sizeof(before));
	fds = count_fds();
	if (p9_server_create(&s, share, flags & 4, err, sizeof(err)))
		__builtin_trap();
	resp = (flags & 2) ? resp_small : resp_big;
	cap = (flags & 2) ? P9_MIN_MSIZE : P9_MAX_MSIZE;
	if (flags & 1)
		prelude(s, flags, resp, cap);
	for (int i = 0; i < MAX_MSGS && off + 2 <= size; i++) {
		size_t len = get_le16(data + off);

		off += 2;
		if (len > size - off)
			len = size - off;
		send_one(s, data + off, len, resp, cap);
		off += len;
	}
	check_fids(s);
	p9_server_destroy(s);
	if (fds != count_fds())
		__builtin_trap();	/* an fd leaked */
	canary_state(after, sizeof(after));
	if (strcmp(before, after) != 0)
		__builtin_trap();	/* something outside the share changed */
	return 0;
}

/* ---- seed corpus ---- */

struct seed {
	uint8_t buf[16384];
	size_t len;
	uint16_t tag;
};

static struct p9_wbuf *msg_begin(struct seed *sd, struct p9_wbuf *w)
{
	p9w_init(w, sd->buf + sd->len + 2, sizeof(sd->buf) - sd->len - 2);
	return w;
}

static void msg_end(struct seed *sd, struct p9_wbuf *w, uint8_t type)
{
	size_t n = p9w_finish(w, type, type == P9_TVERSION ? P9_NOTAG : ++sd->tag);

	put_le16(sd->buf + sd->len, (uint16_t)n);
	sd->len += 2 + n;
}

static void s_version(struct seed *sd, uint32_t msize, const char *v)
{
	struct p9_wbuf w;

	p9w_u32(msg_begin(sd, &w), msize);
	p9w_cstr(&w, v);
	msg_end(sd, &w, P9_TVERSION);
}

static void s_attach(struct seed *sd, uint32_t fid)
{
	struct p9_wbuf w;

	p9w_u32(msg_begin(sd, &w), fid);
	p9w_u32(&w, P9_NOFID);
	p9w_cstr(&w, "root");
	p9w_cstr(&w, "");
	p9w_u32(&w, 0);
	msg_end(sd, &w, P9_TATTACH);
}

/* Twalk fid newfid with names separated by '|'. */
static void s_walk(struct seed *sd, uint32_t fid, uint32_t nfid, const char *path)
{
	struct p9_wbuf w;
	char buf[1024], *save = NULL, *tok;
	uint16_t n = 0;
	uint8_t *cnt;

	p9w_u32(msg_begin(sd, &w), fid);
	p9w_u32(&w, nfid);
	cnt = p9w_reserve(&w, 2);
	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save), n++)
		p9w_cstr(&w, tok);
	put_le16(cnt, n);
	msg_end(sd, &w, P9_TWALK);
}

/* A message from a printf-like spec: 1 = u8, 2 = u16, 4 = u32, 8 = u64,
 * s = string. */
static void s_msg(struct seed *sd, uint8_t type, const char *spec, ...)
{
	struct p9_wbuf w;
	va_list ap;

	msg_begin(sd, &w);
	va_start(ap, spec);
	for (const char *p = spec; *p; p++) {
		switch (*p) {
		case '1': p9w_u8(&w, (uint8_t)va_arg(ap, unsigned)); break;
		case '2': p9w_u16(&w, (uint16_t)va_arg(ap, unsigned)); break;
		case '4': p9w_u32(&w, va_arg(ap, uint32_t)); break;
		case '8': p9w_u64(&w, va_arg(ap, uint64_t)); break;
		case 's': p9w_cstr(&w, va_arg(ap, const char *)); break;
		}
	}
	va_end(ap);
	msg_end(sd, &w, type);
}

/* A raw record (for lying sizes and truncations). */
static void s_raw(struct seed *sd, const void *p, size_t n)
{
	put_le16(sd->buf + sd->len, (uint16_t)n);
	memcpy(sd->buf + sd->len + 2, p, n);
	sd->len += 2 + n;
}

static void seed_write(const char *dir, const char *name, struct seed *sd)
{
	char p[1024];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "wb");
	if (!f || fwrite(sd->buf, 1, sd->len, f) != sd->len)
		perror(p);
	if (f)
		fclose(f);
	memset(sd, 0, sizeof(*sd));
}

#define U64(x) ((uint64_t)(x))

static void write_seeds(const char *dir)
{
	static struct seed sd;
	static const uint8_t lying[] = { 0x40, 0, 0, 0, P9_TGETATTR, 1, 0, 0, 0, 0, 0 };
	static const uint8_t shortw[] = { 0x13, 0, 0, 0, P9_TWALK, 2, 0, 0, 0, 0, 0,
					  1, 0, 0, 0, 9, 0, 'd' };

	/* the brief's session: version, attach, walk, lopen, read, clunk */
	sd.buf[sd.len++] = 0;
	s_version(&sd, 8192, P9_VERSION_L);
	s_attach(&sd, 0);
	s_walk(&sd, 0, 1, "d|f");
	s_msg(&sd, P9_TLOPEN, "44", 1, P9_DOTL_RDONLY);
	s_msg(&sd, P9_TREAD, "484", 1, U64(0), 100);
	s_msg(&sd, P9_TCLUNK, "4", 1);
	seed_write(dir, "session", &sd);

	/* with the prelude: every file operation once */
	sd.buf[sd.len++] = 1;
	s_walk(&sd, 0, 1, "");
	s_msg(&sd, P9_TLCREATE, "4s444", 1, "new", P9_DOTL_RDWR, 0644, 0);
	s_msg(&sd, P9_TWRITE, "4844", 1, U64(0), 4, 0x61626364);
	s_msg(&sd, P9_TREAD, "484", 1, U64(1), 10);
	s_msg(&sd, P9_TFSYNC, "44", 1, 0);
	s_msg(&sd, P9_TGETATTR, "48", 1, U64(P9_GETATTR_BASIC));
	s_msg(&sd, P9_TSETATTR, "4444488888", 1, P9_SETATTR_MODE | P9_SETATTR_SIZE |
	      P9_SETATTR_ATIME | P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET, 0600, 0, 0,
	      U64(2), U64(0), U64(0), U64(12345), U64(6));
	s_msg(&sd, P9_TMKDIR, "4s44", 0, "dir", 0755, 0);
	s_msg(&sd, P9_TSYMLINK, "4ss4", 0, "sym", "dir/../new", 0);
	s_walk(&sd, 0, 2, "sym");
	s_msg(&sd, P9_TREADLINK, "4", 2);
	s_walk(&sd, 0, 3, "new");
	s_msg(&sd, P9_TLINK, "44s", 0, 3, "hard");
	s_msg(&sd, P9_TRENAME, "44s", 3, 0, "renamed");
	s_msg(&sd, P9_TRENAMEAT, "4s4s", 0, "hard", 0, "hard2");
	s_msg(&sd, P9_TMKNOD, "4s4444", 0, "pipe", S_IFIFO | 0644, 0, 0, 0);
	s_msg(&sd, P9_TUNLINKAT, "4s4", 0, "hard2", 0);
	s_msg(&sd, P9_TUNLINKAT, "4s4", 0, "dir", P9_DOTL_AT_REMOVEDIR);
	s_msg(&sd, P9_TSTATFS, "4", 0);
	s_msg(&sd, P9_TLOCK, "414884s", 1, P9_LOCK_TYPE_WRLCK, 0, U64(0), U64(0), 7, "g");
	s_msg(&sd, P9_TGETLOCK, "41884s", 1, P9_LOCK_TYPE_RDLCK, U64(0), U64(9), 7, "g");
	s_msg(&sd, P9_TXATTRWALK, "44s", 1, 4, "");
	s_msg(&sd, P9_TREAD, "484", 4, U64(0), 10);
	s_msg(&sd, P9_TXATTRWALK, "44s", 1, 5, "user.x");
	s_msg(&sd, P9_TXATTRCREATE, "4s84", 1, "user.x", U64(1), 0);
	s_msg(&sd, P9_TFLUSH, "2", 3);
	s_msg(&sd, P9_TREMOVE, "4", 3);
	s_msg(&sd, P9_TCLUNK, "4", 1);
	seed_write(dir, "ops", &sd);

	/* readdir in small steps */
	sd.buf[sd.len++] = 1 | 2;
	s_walk(&sd, 0, 1, "");
	s_msg(&sd, P9_TLOPEN, "44", 1, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY);
	s_msg(&sd, P9_TREADDIR, "484", 1, U64(0), 60);
	s_msg(&sd, P9_TREADDIR, "484", 1, U64(0), 4000);
	s_msg(&sd, P9_TREADDIR, "484", 1, U64(0x7fffffffffffffffull), 4000);
	seed_write(dir, "readdir", &sd);

	/* escapes: "..", symlinks out, bad names */
	sd.buf[sd.len++] = 1 | (1 << 3);
	s_walk(&sd, 0, 1, "..|..|..");
	s_walk(&sd, 0, 2, "d|sub|..|..|..");
	s_walk(&sd, 0, 3, "up|..");
	s_walk(&sd, 0, 4, "etc|passwd");
	s_walk(&sd, 0, 5, "abs");
	s_msg(&sd, P9_TLOPEN, "44", 5, P9_DOTL_RDWR);
	s_msg(&sd, P9_TSETATTR, "4444488888", 5, P9_SETATTR_MODE | P9_SETATTR_SIZE,
	      0777, 0, 0, U64(0), U64(0), U64(0), U64(0), U64(0));
	s_walk(&sd, 0, 6, "out|secret");
	s_walk(&sd, 0, 7, "d/f");
	s_walk(&sd, 0, 8, "fifo");
	s_msg(&sd, P9_TLOPEN, "44", 8, P9_DOTL_RDONLY);
	s_msg(&sd, P9_TMKDIR, "4s44", 0, "..", 0755, 0);
	s_msg(&sd, P9_TRENAMEAT, "4s4s", 0, "d", 0, "../escaped");
	s_msg(&sd, P9_TUNLINKAT, "4s4", 0, "..", P9_DOTL_AT_REMOVEDIR);
	s_msg(&sd, P9_TLINK, "44s", 0, 5, "abs-link");
	s_msg(&sd, P9_TREMOVE, "4", 1);
	seed_write(dir, "escape", &sd);

	/* a read-only share refusing modifications */
	sd.buf[sd.len++] = 1 | 4;
	s_walk(&sd, 0, 1, "file");
	s_msg(&sd, P9_TLOPEN, "44", 1, P9_DOTL_RDWR | P9_DOTL_TRUNC);
	s_msg(&sd, P9_TLOPEN, "44", 1, P9_DOTL_RDONLY);
	s_msg(&sd, P9_TWRITE, "4844", 1, U64(0), 4, 0x61626364);
	s_msg(&sd, P9_TMKDIR, "4s44", 0, "x", 0755, 0);
	s_msg(&sd, P9_TREMOVE, "4", 1);
	seed_write(dir, "ro", &sd);

	/* malformed: lying size, truncated walk, nwname 17, unknown type,
	 * unknown version, before any version */
	sd.buf[sd.len++] = 0;
	s_msg(&sd, P9_TGETATTR, "48", 0, U64(1));
	s_version(&sd, 100, P9_VERSION_L);
	s_version(&sd, 65536, "9P2000.u");
	s_version(&sd, 65536, P9_VERSION_L);
	s_attach(&sd, 0);
	s_raw(&sd, lying, sizeof(lying));
	s_raw(&sd, shortw, sizeof(shortw));
	s_walk(&sd, 0, 1, ".|.|.|.|.|.|.|.|.|.|.|.|.|.|.|.|.");
	s_msg(&sd, 112, "4", 0);
	s_raw(&sd, "\x05\x00\x00", 3);
	seed_write(dir, "malformed", &sd);
}
