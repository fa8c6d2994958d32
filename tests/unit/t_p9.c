/* 9P2000.L server operations against a real temporary tree: version
 * negotiation (raw bytes too), attach, walk, getattr, lopen, read, write,
 * lcreate, mkdir, readdir (resumable offsets), rename, renameat, unlinkat,
 * symlink, readlink, link, mknod, setattr (mode, size, times, owner),
 * statfs, fsync, clunk, remove, flush, auth, locks, xattrs, msize bounds,
 * fids following renames, and a read-only share refusing every
 * modification while leaving the tree untouched. Containment and
 * malformed messages are in t_p9_path.c. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t_p9_client.h"

static char tmp[256], share[300];

static const char *at(const char *name)
{
	static char p[4][600];
	static unsigned n;
	char *s = p[n++ % 4];

	snprintf(s, 600, "%s/%s", share, name);
	return s;
}

static void put_file(const char *name, const char *content)
{
	int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		diag("cannot write %s", name);
	if (fd >= 0)
		close(fd);
}

static int get_file(const char *name, char *buf, size_t cap)
{
	int fd = open(at(name), O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return 0;
}

static struct p9_server *new_server(bool ro)
{
	struct p9_server *s = NULL;
	char err[256] = "";
	int ret = p9_server_create(&s, share, ro, err, sizeof(err));

	if (ret)
		diag("p9_server_create: %s", err);
	return s;
}

/* version 8192 + attach fid 0. */
static int session(struct p9c *c)
{
	uint32_t msize;
	struct p9_qid q;
	int ret = p9c_version(c, 8192, P9_VERSION_L, &msize, NULL, 0);

	return ret ? ret : p9c_attach(c, 0, &q);
}

static void test_version(void)
{
	/* Tversion msize=8192 "9P2000.L" tag NOTAG, by hand from the spec */
	static const uint8_t raw[] = { 21, 0, 0, 0, 100, 0xff, 0xff, 0x00, 0x20,
				       0, 0, 8, 0, '9', 'P', '2', '0', '0', '0',
				       '.', 'L' };
	static const uint8_t want[] = { 21, 0, 0, 0, 101, 0xff, 0xff, 0x00, 0x20,
					0, 0, 8, 0, '9', 'P', '2', '0', '0', '0',
					'.', 'L' };
	struct p9_server *s = new_server(false);
	uint8_t resp[64];
	struct p9c c;
	struct p9_qid q;
	uint32_t msize;
	char ver[32];
	size_t n;

	p9c_init(&c, s);
	is_int(p9_server_msize(s), P9_MAX_MSIZE, "msize before Tversion: the largest");
	is_int(p9c_attach(&c, 0, &q), -EPROTO, "attach before version: EPROTO");
	n = p9_handle(s, raw, sizeof(raw), resp, sizeof(resp));
	ok(n == sizeof(want) && memcmp(resp, want, n) == 0, "raw Tversion -> raw Rversion");
	is_int(p9_server_msize(s), 8192, "negotiated msize 8192");

	is_int(p9c_version(&c, 1u << 30, P9_VERSION_L, &msize, ver, sizeof(ver)), 0,
	       "huge msize");
	is_int(msize, P9_MAX_MSIZE, "  clamped to the server's max");
	is_int(p9c_version(&c, 100, P9_VERSION_L, &msize, ver, sizeof(ver)), -EINVAL,
	       "msize 100: EINVAL");
	is_int(p9c_version(&c, 8192, "9P2000.u", &msize, ver, sizeof(ver)), 0,
	       "9P2000.u answered");
	is_str(ver, "unknown", "  with version \"unknown\"");
	is_int(p9c_attach(&c, 0, &q), -EPROTO, "  and no session");
	is_int(p9c_version(&c, 8192, "9P2000", &msize, ver, sizeof(ver)), 0, "9P2000");
	is_str(ver, "unknown", "  unknown too");

	is_int(session(&c), 0, "session");
	is_int(p9c_attach(&c, 0, &q), -EEXIST, "attach to a fid in use: EEXIST");
	is_int(p9c_attach(&c, P9_NOFID, &q), -EINVAL, "attach fid NOFID: EINVAL");
	{
		struct p9_wbuf *w = p9c_begin(&c);

		p9w_u32(w, 5);
		p9w_u32(w, 7);	/* an afid: no auth exists */
		p9w_cstr(w, "u");
		p9w_cstr(w, "");
		p9w_u32(w, 0);
		is_int(p9c_send(&c, P9_TATTACH), -EINVAL, "attach with an afid: EINVAL");
		w = p9c_begin(&c);
		p9w_u32(w, 5);
		p9w_cstr(w, "u");
		p9w_cstr(w, "");
		p9w_u32(w, 0);
		is_int(p9c_send(&c, P9_TAUTH), -EOPNOTSUPP, "Tauth: EOPNOTSUPP");
		w = p9c_begin(&c);
		p9w_u16(w, 3);
		is_int(p9c_send(&c, P9_TFLUSH), 0, "Tflush: Rflush");
		w = p9c_begin(&c);
		p9w_u32(w, 0);
		is_int(p9c_send(&c, 112), -EOPNOTSUPP, "9P2000 Topen: EOPNOTSUPP");
		w = p9c_begin(&c);
		is_int(p9c_send(&c, P9_RLERROR), -EOPNOTSUPP, "an R-message: EOPNOTSUPP");
	}
	is_int(p9c_version(&c, 8192, P9_VERSION_L, &msize, ver, sizeof(ver)), 0,
	       "Tversion again");
	is_int(p9c_clunk(&c, 0), -EBADF, "  dropped every fid");
	p9_server_reset(s);
	is_int(p9c_attach(&c, 0, &q), -EPROTO, "after reset: no session");
	is_int(p9_handle(s, raw, sizeof(raw), resp, 10), 0, "resp_cap < 11: nothing");
	is_int(c.bad, 0, "every reply well framed");
	p9c_fini(&c);
	p9_server_destroy(s);
}

static void test_walk_io(void)
{
	struct p9_server *s = new_server(false);
	struct p9_qid q, q2, root;
	struct p9c_attr a;
	struct stat st;
	char buf[256];
	uint32_t n;
	struct p9c c;

	mkdir(at("d"), 0755);
	mkdir(at("d/e"), 0755);
	put_file("d/e/f", "hello, world\n");
	p9c_init(&c, s);
	is_int(session(&c), 0, "session");
	is_int(p9c_getattr(&c, 0, &a), 0, "getattr root");
	stat(share, &st);
	ok(a.qid.type == P9_QTDIR && a.qid.path == st.st_ino && S_ISDIR(a.mode),
	   "  root qid: dir, path = inode");
	root = a.qid;
	is_int(p9c_walk(&c, 0, 1, "d/e/f", &q), 0, "walk d/e/f");
	stat(at("d/e/f"), &st);
	ok(q.type == P9_QTFILE && q.path == st.st_ino, "  qid of f");
	is_int(p9c_getattr(&c, 1, &a), 0, "getattr f");
	ok(a.valid == P9_GETATTR_BASIC && a.size == 13 && S_ISREG(a.mode) &&
	   a.nlink == 1 && a.uid == st.st_uid && a.mtime == (uint64_t)st.st_mtime,
	   "  size, mode, nlink, uid, mtime");
	is_int(p9c_read(&c, 1, 0, 100, buf, sizeof(buf), &n), -EBADF,
	       "read before lopen: EBADF");
	is_int(p9c_lopen(&c, 1, P9_DOTL_RDONLY, &q2), 0, "lopen f");
	is_int(p9c_lopen(&c, 1, P9_DOTL_RDONLY, &q2), -EBUSY, "lopen again: EBUSY");
	ok(q2.path == q.path, "  same qid");
	memset(buf, 0, sizeof(buf));
	is_int(p9c_read(&c, 1, 7, 100, buf, sizeof(buf), &n), 0, "read at 7");
	ok(n == 6 && memcmp(buf, "world\n", 6) == 0, "  \"world\\n\"");
	is_int(p9c_read(&c, 1, 100, 100, buf, sizeof(buf), &n), 0, "read past EOF");
	is_int(n, 0, "  0 bytes");
	is_int(p9c_write(&c, 1, 0, "x", 1, &n), -EBADF, "write on a read-only open: EBADF");
	is_int(p9c_walk(&c, 0, 2, "d/e/f", NULL), 0, "walk f again");
	is_int(p9c_lopen(&c, 2, P9_DOTL_RDWR | P9_DOTL_APPEND, NULL), 0, "lopen O_RDWR|O_APPEND");
	is_int(p9c_write(&c, 2, 0, "more\n", 5, &n), 0, "write (append)");
	is_int(n, 5, "  5 bytes");
	get_file("d/e/f", buf, sizeof(buf));
	is_str(buf, "hello, world\nmore\n", "  appended on the host");
	is_int(p9c_fsync(&c, 2, 0), 0, "fsync");
	is_int(p9c_fsync(&c, 2, 1), 0, "fdatasync");
	is_int(p9c_fsync(&c, 0, 0), -EBADF, "fsync of an unopened fid: EBADF");
	is_int(p9c_walk(&c, 0, 3, "d/e/f", NULL), 0, "walk f a third time");
	is_int(p9c_lopen(&c, 3, P9_DOTL_WRONLY | P9_DOTL_TRUNC, NULL), 0, "lopen O_TRUNC");
	stat(at("d/e/f"), &st);
	is_int(st.st_size, 0, "  truncated");
	is_int(p9c_write(&c, 3, 10, "abc", 3, &n), 0, "write at 10");
	stat(at("d/e/f"), &st);
	is_int(st.st_size, 13, "  size 13");

	is_int(p9c_walk(&c, 0, 4, "d", NULL), 0, "walk d");
	is_int(p9c_walk(&c, 4, 4, "e", &q), 0, "walk d -> e in place (newfid = fid)");
	is_int(p9c_getattr(&c, 4, &a), 0, "getattr");
	ok(a.qid.path == q.path && S_ISDIR(a.mode), "  the fid is now e");
	is_int(p9c_walk(&c, 0, 4, "d", NULL), -EEXIST, "walk to a newfid in use: EEXIST");
	is_int(p9c_walk(&c, 0, 5, "", NULL), 0, "clone (nwname 0)");
	is_int(p9c_getattr(&c, 5, &a), 0, "  getattr of the clone");
	ok(a.qid.path == root.path, "  is the root");
	is_int(p9c_walk(&c, 1, 6, "x", NULL), -ENOTDIR, "walk from a file: ENOTDIR");
	is_int(p9c_walk(&c, 0, 6, "d/missing/x", NULL), -ENOENT, "walk d/missing/x");
	is_int(p9c_clunk(&c, 6), -EBADF, "  partial walk: no newfid");
	is_int(p9c_walk(&c, 0, 6, "nothing", NULL), -ENOENT, "walk a missing first name: ENOENT");
	is_int(p9c_walk(&c, 99, 6, "d", NULL), -EBADF, "walk from an unknown fid: EBADF");
	is_int(p9c_lopen(&c, 4, P9_DOTL_WRONLY, NULL), -EISDIR, "lopen a dir for writing: EISDIR");
	is_int(p9c_lopen(&c, 4, 3, NULL), -EINVAL, "lopen access mode 3: EINVAL");
	is_int(p9c_lopen(&c, 1, P9_DOTL_RDONLY, NULL), -EBUSY, "lopen an open fid: EBUSY");
	for (uint32_t f = 1; f <= 5; f++)
		is_int(p9c_clunk(&c, f), 0, "clunk %u", f);
	is_int(p9c_clunk(&c, 1), -EBADF, "clunk twice: EBADF");
	is_int(c.bad, 0, "every reply well framed");
	p9c_fini(&c);
	p9_server_destroy(s);
}

static bool has_name(const struct p9c_dirent *e, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(e[i].name, name) == 0)
			return true;
	return false;
}

static void test_readdir(void)
{
	struct p9_server *s = new_server(false);
	static struct p9c_dirent ents[256], all[256];
	unsigned n, total = 0, calls = 0, dup = 0;
	uint64_t off = 0;
	char name[64];
	struct p9c c;
	struct stat st;
	bool types = true;

	mkdir(at("many"), 0755);
	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "many/file-with-a-long-name-%03d", i);
		put_file(name, "x");
	}
	mkdir(at("many/subdir"), 0755);
	symlink("target", at("many/link"));
	p9c_init(&c, s);
	is_int(session(&c), 0, "session");
	is_int(p9c_walk(&c, 0, 1, "many", NULL), 0, "walk many");
	is_int(p9c_readdir(&c, 1, 0, 4096, ents, 256, &n), -EBADF, "readdir unopened: EBADF");
	is_int(p9c_lopen(&c, 1, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY, NULL), 0, "lopen dir");
	/* small counts: many calls, each resuming at the last offset */
	do {
		int ret = p9c_readdir(&c, 1, off, 300, ents, 256, &n);

		if (ret || n > 256) {
			ok(0, "readdir at %llu: %d", (unsigned long long)off, ret);
			break;
		}
		for (unsigned i = 0; i < n && total < 256; i++) {
			if (has_name(all, total, ents[i].name))
				dup++;
			all[total++] = ents[i];
		}
		if (n)
			off = ents[n - 1].off;
		calls++;
	} while (n && calls < 200);
	is_int(total, 64, "all 60 files, subdir, link, . and .. listed");
	ok(calls > 5, "  over %u calls of 300 bytes", calls);
	is_int(dup, 0, "  no entry twice");
	ok(has_name(all, total, "file-with-a-long-name-000") &&
	   has_name(all, total, "file-with-a-long-name-059") &&
	   has_name(all, total, ".") && has_name(all, total, ".."), "  names right");
	for (unsigned i = 0; i < total; i++) {
		if (strcmp(all[i].name, "subdir") == 0)
			types &= all[i].type == DT_DIR && all[i].qid.type == P9_QTDIR;
		if (strcmp(all[i].name, "link") == 0)
			types &= all[i].type == DT_LNK && all[i].qid.type == P9_QTSYMLINK;
		if (strcmp(all[i].name, "file-with-a-long-name-007") == 0) {
			stat(at("many/file-with-a-long-name-007"), &st);
			types &= all[i].type == DT_REG && all[i].qid.path == st.st_ino;
		}
	}
	ok(types, "  types and qids");
	/* two calls: first part, then the rest from its last offset */
	is_int(p9c_readdir(&c, 1, 0, 600, ents, 256, &n), 0, "readdir first part");
	ok(n > 2 && n < 64, "  %u entries", n);
	off = ents[n - 1].off;
	{
		unsigned first = n;

		is_int(p9c_readdir(&c, 1, off, 8000, ents + first, 256 - first, &n), 0,
		       "readdir the rest from the last offset");
		is_int(first + n, 64, "  together everything");
		is_int(p9c_readdir(&c, 1, ents[first + n - 1].off, 8000, ents, 256, &n), 0,
		       "readdir past the end");
		is_int(n, 0, "  nothing");
	}
	is_int(p9c_readdir(&c, 1, 0, 20, ents, 256, &n), -EINVAL,
	       "count too small for one entry: EINVAL");
	/* the root's ".." tells nothing about the outside */
	is_int(p9c_walk(&c, 0, 2, "", NULL), 0, "clone root");
	is_int(p9c_lopen(&c, 2, P9_DOTL_RDONLY, NULL), 0, "lopen root");
	is_int(p9c_readdir(&c, 2, 0, 8000, ents, 256, &n), 0, "readdir root");
	stat(share, &st);
	for (unsigned i = 0; i < n; i++)
		if (strcmp(ents[i].name, "..") == 0)
			ok(ents[i].qid.path == st.st_ino, "  root's \"..\" has the root's qid");
	c.resp_cap = 200;
	is_int(p9c_readdir(&c, 1, 0, 8000, ents, 256, &n), 0, "readdir into a 200-byte reply");
	ok(c.resp_len <= 200 && n >= 1, "  bounded by the reply buffer (%zu bytes, %u entries)",
	   c.resp_len, n);
	c.resp_cap = P9_MAX_MSIZE;
	is_int(c.bad, 0, "every reply well framed");
	p9c_fini(&c);
	p9_server_destroy(s);
}

static void test_create(void)
{
	struct p9_server *s = new_server(false);
	struct p9_qid q, q2;
	struct p9c_attr a;
	struct stat st;
	char buf[256];
	uint32_t n;
	struct p9c c;
	mode_t old = umask(022);

	p9c_init(&c, s);
	is_int(session(&c), 0, "session");
	is_int(p9c_walk(&c, 0, 1, "", NULL), 0, "clone root");
	is_int(p9c_lcreate(&c, 1, "new", P9_DOTL_RDWR, 0666, getgid(), &q), 0,
	       "lcreate new 0666");
	ok(lstat(at("new"), &st) == 0 && S_ISREG(st.st_mode) &&
	   (st.st_mode & 07777) == 0666 && q.path == st.st_ino,
	   "  exists, mode exactly 0666 despite umask 022, qid");
	is_int(p9c_write(&c, 1, 0, "data", 4, &n), 0, "  the fid is the open file: write");
	is_int(p9c_read(&c, 1, 0, 10, buf, sizeof(buf), &n), 0, "  read back");
	ok(n == 4 && memcmp(buf, "data", 4) == 0, "  \"data\"");
	is_int(p9c_getattr(&c, 1, &a), 0, "  getattr");
	ok(a.qid.path == q.path && a.size == 4, "  of the new file");
	is_int(p9c_walk(&c, 0, 2, "", NULL), 0, "clone root");
	is_int(p9c_lcreate(&c, 2, "new", P9_DOTL_RDWR | P9_DOTL_EXCL, 0644, 0, NULL), -EEXIST,
	       "lcreate O_EXCL existing: EEXIST");
	is_int(p9c_lcreate(&c, 2, "new", P9_DOTL_RDONLY, 0644, 0, &q2), 0,
	       "lcreate existing without EXCL opens it");
	ok(q2.path == q.path, "  same file");
	is_int(p9c_clunk(&c, 2), 0, "clunk");
	is_int(p9c_lcreate(&c, 1, "x", P9_DOTL_RDWR, 0644, 0, NULL), -EBUSY,
	       "lcreate on an open fid: EBUSY");

	is_int(p9c_mkdir(&c, 0, "dir", 0775, getgid(), &q), 0, "mkdir 0775");
	ok(lstat(at("dir"), &st) == 0 && S_ISDIR(st.st_mode) &&
	   (st.st_mode & 07777) == 0775 && q.type == P9_QTDIR && q.path == st.st_ino,
	   "  a dir, mode exactly 0775, qid");
	is_int(p9c_mkdir(&c, 0, "dir", 0775, 0, NULL), -EEXIST, "mkdir again: EEXIST");
	is_int(p9c_symlink(&c, 0, "sl", "some/where/../else", getgid(), &q), 0, "symlink");
	ok(readlink(at("sl"), buf, sizeof(buf)) == 18 &&
	   memcmp(buf, "some/where/../else", 18) == 0 &&
	   q.type == P9_QTSYMLINK, "  text as given, qid symlink");
	is_int(p9c_walk(&c, 0, 3, "sl", NULL), 0, "walk sl");
	is_int(p9c_readlink(&c, 3, buf, sizeof(buf)), 0, "readlink");
	is_str(buf, "some/where/../else", "  the text");
	is_int(p9c_readlink(&c, 1, buf, sizeof(buf)), -EINVAL, "readlink a file: EINVAL");
	is_int(p9c_lcreate(&c, 3, "x", P9_DOTL_RDWR, 0644, 0, NULL), -ENOTDIR,
	       "lcreate in a symlink fid: ENOTDIR");
	is_int(p9c_symlink(&c, 0, "sl2", "", 0, NULL), -ENOENT, "empty symlink target: ENOENT");

	if (geteuid() != 0)
		mkfifo(at("fifo"), 0640);	/* the guest may not: see below */
	else
		is_int(p9c_mknod(&c, 0, "fifo", S_IFIFO | 0640, 0, 0, getgid(), &q), 0,
		       "mknod fifo as root");
	ok(lstat(at("fifo"), &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0640,
	   "  a FIFO 0640");
	is_int(p9c_mknod(&c, 0, "reg", S_IFREG | 0600, 0, 0, getgid(), NULL), 0, "mknod regular");
	ok(lstat(at("reg"), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600,
	   "  a regular file 0600");
	is_int(p9c_mknod(&c, 0, "dirnode", S_IFDIR | 0600, 0, 0, 0, NULL), -EINVAL,
	       "mknod S_IFDIR: EINVAL");
	is_int(p9c_walk(&c, 0, 4, "fifo", NULL), 0, "walk fifo");
	is_int(p9c_lopen(&c, 4, P9_DOTL_RDONLY, NULL), -EACCES,
	       "lopen a FIFO: EACCES (never opened on the host)");
	if (geteuid() == 0) {
		is_int(p9c_mknod(&c, 0, "null", S_IFCHR | 0666, 1, 3, 4321, &q), 0,
		       "mknod char 1:3 as root");
		ok(lstat(at("null"), &st) == 0 && S_ISCHR(st.st_mode) &&
		   st.st_rdev == makedev(1, 3) && st.st_gid == 4321,
		   "  a char device 1:3 with the guest's gid");
		is_int(p9c_walk(&c, 0, 5, "null", NULL), 0, "walk it");
		is_int(p9c_getattr(&c, 5, &a), 0, "getattr");
		is_int(a.rdev, makedev(1, 3), "  rdev");
		is_int(p9c_lopen(&c, 5, P9_DOTL_RDWR, NULL), -EACCES,
		       "lopen a device node: EACCES");
		is_int(p9c_clunk(&c, 5), 0, "clunk");
		is_int(p9c_lcreate(&c, 0, "null", P9_DOTL_RDWR, 0666, 0, NULL), -EACCES,
		       "lcreate (no EXCL) over a device node does not open it: EACCES");
		is_int(p9c_walk(&c, 0, 5, "", NULL), 0, "clone root");
		is_int(p9c_lcreate(&c, 5, "g", P9_DOTL_RDWR, 0640, 4321, NULL), 0,
		       "lcreate with gid 4321 as root");
		ok(lstat(at("g"), &st) == 0 && st.st_gid == 4321, "  has gid 4321");
		is_int(p9c_mkdir(&c, 0, "gd", 0755, 4322, NULL), 0, "mkdir with gid 4322");
		ok(lstat(at("gd"), &st) == 0 && st.st_gid == 4322, "  has gid 4322");
		is_int(p9c_symlink(&c, 0, "gs", "t", 4323, NULL), 0, "symlink with gid 4323");
		ok(lstat(at("gs"), &st) == 0 && st.st_gid == 4323, "  has gid 4323");
		is_int(p9c_clunk(&c, 5), 0, "clunk");
	}
	is_int(p9c_link(&c, 0, 1, "hard"), 0, "link new -> hard");
	ok(lstat(at("hard"), &st) == 0 && st.st_nlink == 2, "  nlink 2");
	is_int(p9c_link(&c, 0, 0, "rootlink"), -EPERM, "link a directory: EPERM");
	is_int(p9c_link(&c, 0, 3, "sl-hard"), 0, "link a symlink");
	ok(lstat(at("sl-hard"), &st) == 0 && S_ISLNK(st.st_mode), "  links the symlink itself");

	is_int(p9c_unlinkat(&c, 0, "hard", 0), 0, "unlinkat hard");
	ok(lstat(at("hard"), &st) < 0, "  gone");
	is_int(p9c_unlinkat(&c, 0, "dir", 0), -EISDIR, "unlinkat a dir without AT_REMOVEDIR");
	is_int(p9c_unlinkat(&c, 0, "dir", P9_DOTL_AT_REMOVEDIR), 0, "unlinkat dir AT_REMOVEDIR");
	ok(lstat(at("dir"), &st) < 0, "  gone");
	is_int(p9c_unlinkat(&c, 0, "new", 0x1), -EINVAL, "unlinkat unknown flag: EINVAL");
	is_int(p9c_unlinkat(&c, 0, "missing", 0), -ENOENT, "unlinkat missing: ENOENT");
	is_int(c.bad, 0, "every reply well framed");
	umask(old);
	p9c_fini(&c);
	p9_server_destroy(s);
}

static void test_rename_remove(void)
{
	struct p9_server *s = new_server(false);
	struct p9c c;
	struct stat st;
	char buf[64];
	uint32_t n;

	mkdir(at("r"), 0755);
	mkdir(at("r/sub"), 0755);
	put_file("r/a", "AAA");
	put_file("r/sub/b", "BBB");
	p9c_init(&c, s);
	is_int(session(&c), 0, "session");
	is_int(p9c_walk(&c, 0, 1, "r", NULL), 0, "walk r");
	is_int(p9c_walk(&c, 0, 2, "r/a", NULL), 0, "walk r/a");
	is_int(p9c_walk(&c, 0, 3, "r/sub/b", NULL), 0, "walk r/sub/b");
	is_int(p9c_walk(&c, 0, 4, "r/sub", NULL), 0, "walk r/sub");
	is_int(p9c_renameat(&c, 1, "a", 1, "a2"), 0, "renameat r/a -> r/a2");
	ok(lstat(at("r/a2"), &st) == 0 && lstat(at("r/a"), &st) < 0, "  moved on the host");
	is_int(p9c_lopen(&c, 2, P9_DOTL_RDONLY, NULL), 0, "lopen the fid walked as r/a");
	is_int(p9c_read(&c, 2, 0, 10, buf, sizeof(buf), &n), 0, "  read");
	ok(n == 3 && memcmp(buf, "AAA", 3) == 0, "  the renamed file");
	is_int(p9c_rename(&c, 4, 0, "sub2"), 0, "rename r/sub -> /sub2 (Trename)");
	ok(lstat(at("sub2/b"), &st) == 0, "  moved on the host");
	is_int(p9c_lopen(&c, 3, P9_DOTL_RDONLY, NULL), 0, "lopen the fid walked as r/sub/b");
	is_int(p9c_read(&c, 3, 0, 10, buf, sizeof(buf), &n), 0, "  read");
	ok(n == 3 && memcmp(buf, "BBB", 3) == 0, "  follows its moved directory");
	is_int(p9c_rename(&c, 4, 1, "sub"), 0, "rename sub2 back into r as sub (the same fid)");
	ok(lstat(at("r/sub/b"), &st) == 0, "  moved back");
	is_int(p9c_rename(&c, 0, 1, "root"), -EBUSY, "rename the root: EBUSY");
	is_int(p9c_renameat(&c, 1, "missing", 1, "x"), -ENOENT, "renameat missing: ENOENT");
	is_int(p9c_renameat(&c, 2, "a2", 1, "x"), -ENOTDIR, "renameat from a file fid: ENOTDIR");

	/* host-side changes behind a fid's back */
	is_int(p9c_walk(&c, 0, 5, "r/a2", NULL), 0, "walk r/a2");
	rename(at("r/a2"), at("r/a3"));
	is_int(p9c_lopen(&c, 5, P9_DOTL_RDONLY, NULL), -ENOENT,
	       "host renamed the file: lopen ENOENT");
	put_file("r/a2", "other");
	is_int(p9c_lopen(&c, 5, P9_DOTL_RDONLY, NULL), -ESTALE,
	       "host put another file there: lopen ESTALE");
	put_file("r/a4", "x");
	is_int(p9c_walk(&c, 0, 6, "r/a4", NULL), 0, "walk r/a4");
	rename(at("r/a2"), at("r/a4"));
	is_int(p9c_setattr(&c, 6, P9_SETATTR_SIZE, 0, 0, 0, 0, 0, 0, 0, 0), -ESTALE,
	       "truncate through a stale entry: ESTALE");
	ok(stat(at("r/a4"), &st) == 0 && st.st_size == 5, "  the other file untouched");
	is_int(p9c_fidop(&c, P9_TREMOVE, 6), -ESTALE, "remove through a stale entry: ESTALE");
	ok(stat(at("r/a4"), &st) == 0, "  the other file still there");
	is_int(p9c_clunk(&c, 6), -EBADF, "  remove clunked the fid anyway");

	is_int(p9c_fidop(&c, P9_TREMOVE, 5), -ENOENT, "remove fid 5, whose entry is gone: ENOENT");
	is_int(p9c_walk(&c, 0, 5, "r/a4", NULL), 0, "walk r/a4");
	is_int(p9c_fidop(&c, P9_TREMOVE, 5), 0, "remove r/a4");
	ok(lstat(at("r/a4"), &st) < 0, "  gone");
	is_int(p9c_getattr(&c, 5, (struct p9c_attr[1]){ 0 }), -EBADF, "  fid clunked");
	is_int(p9c_walk(&c, 0, 5, "r/sub", NULL), 0, "walk r/sub");
	is_int(p9c_fidop(&c, P9_TREMOVE, 5), -ENOTEMPTY, "remove a non-empty dir: ENOTEMPTY");
	is_int(p9c_unlinkat(&c, 1, "sub", P9_DOTL_AT_REMOVEDIR), -ENOTEMPTY, "unlinkat too");
	is_int(p9c_getattr(&c, 3, (struct p9c_attr[1]){ 0 }), 0,
	       "fids of removed/renamed files keep working for getattr");
	is_int(p9c_walk(&c, 0, 7, "", NULL), 0, "clone root");
	is_int(p9c_fidop(&c, P9_TREMOVE, 7), -EBUSY, "remove the root: EBUSY");
	ok(stat(share, &st) == 0, "  still there");
	is_int(c.bad, 0, "every reply well framed");
	p9c_fini(&c);
	p9_server_destroy(s);
}

static void test_setattr(void)
{
	struct p9_server *s = new_server(false);
	struct p9c c;
	struct stat st;
	struct p9c_attr a;
	time_t now = time(NULL);

	put_file("sa", "0123456789");
	p9c_init(&c, s);
	is_int(session(&c), 0, "session");
	is_int(p9c_walk(&c, 0, 1, "sa", NULL), 0, "walk sa");
	is_int(p9c_setattr(&c, 1, P9_SETATTR_MODE, 0100640, 0, 0, 0, 0, 0, 0, 0), 0,
	       "setattr mode 0640");
	ok(stat(at("sa"), &st) == 0 && (st.st_mode & 07777) == 0640 && S_ISREG(st.st_mode),
	   "  mode 0640, still a file");
	is_int(p9c_setattr(&c, 1, P9_SETATTR_SIZE, 0, 0, 0, 4, 0, 0, 0, 0), 0,
	       "setattr size 4 (unopened fid)");
	ok(stat(at("sa"), &st) == 0 && st.st_size == 4, "  size 4");
	is_int(p9c_setattr(&c, 1, P9_SETATTR_SIZE, 0, 0, 0, 1 << 20, 0, 0, 0, 0), 0,
	       "setattr size 1 MiB");
	ok(stat(at("sa"), &st) == 0 && st.st_size == 1 << 20, "  grown");
	is_int(p9c_lopen(&c, 1, P9_DOTL_RDWR, NULL), 0, "lopen rw");
	is_int(p9c_setattr(&c, 1, P9_SETATTR_SIZE, 0, 0, 0, 3, 0, 0, 0, 0), 0,
	       "setattr size 3 (opened fid)");
	ok(stat(at("sa"), &st) == 0 && st.st_size == 3, "  size 3");
	is_int(p9c_setattr(&c, 1, P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET |
			   P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET,
			   0, 0, 0, 0, 1000, 5, 2000, 7), 0, "setattr atime 1000.5 mtime 2000.7");
	ok(stat(at("sa"), &st) == 0 && st.st_atim.tv_sec == 1000 && st.st_atim.tv_nsec == 5 &&
	   st.st_mtim.tv_sec == 2000 && st.st_mtim.tv_nsec == 7, "  exact times");
	is_int(p9c_setattr(&c, 1, P9_SETATTR_MTIME, 0, 0, 0, 0, 0, 0, 0, 0), 0,
	       "setattr mtime now");
	ok(stat(at("sa"), &st) == 0 && st.st_atim.tv_sec == 1000 && st.st_mtime >= now,
	   "  mtime now, atime untouched");
	is_int(p9c_setattr(&c, 1, P9_SETATTR_CTIME, 0, 0, 0, 0, 0, 0, 0, 0), 0,
	       "setattr ctime alone: fine");
	is_int(p9c_setattr(&c, 0, P9_SETATTR_SIZE, 0, 0, 0, 0, 0, 0, 0, 0), -EISDIR,
	       "truncate a dir: EISDIR");
	is_int(p9c_setattr(&c, 0, P9_SETATTR_MODE, 0750, 0, 0, 0, 0, 0, 0, 0), 0,
	       "chmod the root 0750");
	ok(stat(share, &st) == 0 && (st.st_mode & 07777) == 0750, "  done");
	chmod(share, 0755);
	if (geteuid() == 0) {
		is_int(p9c_setattr(&c, 1, P9_SETATTR_UID | P9_SETATTR_GID, 0, 1234, 5678,
				   0, 0, 0, 0, 0), 0, "chown 1234:5678 as root");
		ok(stat(at("sa"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678, "  done");
		is_int(p9c_setattr(&c, 1, P9_SETATTR_GID, 0, 1, 99, 0, 0, 0, 0, 0), 0,
		       "chgrp 99 only");
		ok(stat(at("sa"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 99,
		   "  uid kept");
	}
	is_int(p9c_getattr(&c, 1, &a), 0, "getattr");
	ok(a.size == 3 && (a.mode & 07777) == 0640, "  agrees");
	is_int(c.bad, 0, "every reply well framed");
	p9c_fini(&c);
	p9_server_destroy(s);
}

/* As an unprivileged user (a child that drops root, or the test itself):
 * chown to others and mknod of anything but a regular file are EPERM. */
static int unprivileged_checks(void)
{
	struct p9_server *s = new_server(false);
	struct p9c c;
	int bad = 0;

	if (!s)
		return 1;
	p9c_init(&c, s);
	bad |= session(&c) != 0;
	bad |= p9c_walk(&c, 0, 1, "up", NULL) != 0;
	bad |= p9c_setattr(&c, 1, P9_SETATTR_UID, 0, 0, 0, 0, 0, 0, 0, 0) != -EPERM;
	bad |= (p9c_mknod(&c, 0, "cdev", S_IFCHR | 0600, 1, 3, 0, NULL) != -EPERM) << 1;
	bad |= (p9c_mknod(&c, 0, "fifo2", S_IFIFO | 0600, 0, 0, 0, NULL) != -EPERM) << 2;
	bad |= (p9c_mknod(&c, 0, "sock2", S_IFSOCK | 0600, 0, 0, 0, NULL) != -EPERM) << 3;
	bad |= (p9c_mknod(&c, 0, "reg2", S_IFREG | 0600, 0, 0, 0, NULL) != 0) << 4;
	bad |= (p9c_mkdir(&c, 0, "d2", 0700, 0, NULL) != 0) << 5;
	p9c_fini(&c);
	p9_server_destroy(s);
	return bad;
}

static void test_unprivileged(void)
{
	pid_t pid;
	int status = -1;

	put_file("up", "x");
	if (geteuid() != 0) {
		is_int(unprivileged_checks(), 0,
		       "unprivileged: chown and mknod char/fifo/socket EPERM, regular fine");
		return;
	}
	/* a share owned by nobody, served by nobody */
	chown(share, 65534, 65534);
	chown(at("up"), 65534, 65534);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(99);
		_exit(unprivileged_checks());
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "as nobody: chown and mknod char/fifo/socket EPERM, regular and mkdir fine "
	   "(status %d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	chown(share, 0, 0);
}

static void test_misc(void)
{
	struct p9_server *s = new_server(false);
	struct p9c c;
	struct statfs sf;
	struct p9_wbuf *w;
	uint32_t n;
	char buf[64];

	p9c_init(&c, s);
	is_int(session(&c), 0, "session");
	w = p9c_begin(&c);
	p9w_u32(w, 0);
	is_int(p9c_send(&c, P9_TSTATFS), 0, "statfs");
	statfs(share, &sf);
	{
		uint32_t type = p9r_u32(&c.r), bsize = p9r_u32(&c.r);
		uint64_t blocks = p9r_u64(&c.r);

		p9r_u64(&c.r);
		p9r_u64(&c.r);
		p9r_u64(&c.r);
		p9r_u64(&c.r);
		p9r_u64(&c.r);
		ok(type == (uint32_t)sf.f_type && bsize == (uint32_t)sf.f_bsize &&
		   blocks == sf.f_blocks && p9r_u32(&c.r) == (uint32_t)sf.f_namelen &&
		   p9c_done(&c) == 0, "  type, bsize, blocks, namelen of the host fs");
	}
	put_file("lk", "x");
	is_int(p9c_walk(&c, 0, 1, "lk", NULL), 0, "walk lk");
	is_int(p9c_lopen(&c, 1, P9_DOTL_RDWR, NULL), 0, "lopen");
	w = p9c_begin(&c);
	p9w_u32(w, 1);
	p9w_u8(w, P9_LOCK_TYPE_WRLCK);
	p9w_u32(w, 0);
	p9w_u64(w, 0);
	p9w_u64(w, 0);
	p9w_u32(w, 42);
	p9w_cstr(w, "guest");
	is_int(p9c_send(&c, P9_TLOCK), 0, "Tlock");
	ok(p9r_u8(&c.r) == P9_LOCK_SUCCESS && p9c_done(&c) == 0, "  granted");
	w = p9c_begin(&c);
	p9w_u32(w, 1);
	p9w_u8(w, P9_LOCK_TYPE_WRLCK);
	p9w_u64(w, 10);
	p9w_u64(w, 20);
	p9w_u32(w, 42);
	p9w_cstr(w, "guest");
	is_int(p9c_send(&c, P9_TGETLOCK), 0, "Tgetlock");
	{
		uint8_t type = p9r_u8(&c.r);
		uint64_t start = p9r_u64(&c.r), len = p9r_u64(&c.r);
		uint32_t pid = p9r_u32(&c.r);
		uint16_t cl;
		const char *cid = p9r_str(&c.r, &cl);

		ok(type == P9_LOCK_TYPE_UNLCK && start == 10 && len == 20 && pid == 42 &&
		   cl == 5 && memcmp(cid, "guest", 5) == 0 && p9c_done(&c) == 0,
		   "  unlocked, the range echoed");
	}
	w = p9c_begin(&c);
	p9w_u32(w, 1);
	p9w_u8(w, 7);
	p9w_u32(w, 0);
	p9w_u64(w, 0);
	p9w_u64(w, 0);
	p9w_u32(w, 42);
	p9w_cstr(w, "guest");
	is_int(p9c_send(&c, P9_TLOCK), -EINVAL, "Tlock type 7: EINVAL");
	w = p9c_begin(&c);
	p9w_u32(w, 1);
	p9w_u32(w, 2);
	p9w_cstr(w, "user.foo");
	is_int(p9c_send(&c, P9_TXATTRWALK), -ENODATA, "Txattrwalk user.foo: ENODATA");
	is_int(p9c_clunk(&c, 2), -EBADF, "  no fid made");
	w = p9c_begin(&c);
	p9w_u32(w, 1);
	p9w_u32(w, 2);
	p9w_cstr(w, "");
	is_int(p9c_send(&c, P9_TXATTRWALK), 0, "Txattrwalk list");
	ok(p9r_u64(&c.r) == 0 && p9c_done(&c) == 0, "  size 0");
	is_int(p9c_read(&c, 2, 0, 100, buf, sizeof(buf), &n), 0, "read the xattr fid");
	is_int(n, 0, "  nothing");
	is_int(p9c_walk(&c, 2, 3, "", NULL), -EBADF, "walk from an xattr fid: EBADF");
	is_int(p9c_clunk(&c, 2), 0, "clunk it");
	w = p9c_begin(&c);
	p9w_u32(w, 1);
	p9w_cstr(w, "user.foo");
	p9w_u64(w, 3);
	p9w_u32(w, 0);
	is_int(p9c_send(&c, P9_TXATTRCREATE), -EOPNOTSUPP, "Txattrcreate: EOPNOTSUPP");
	is_int(c.bad, 0, "every reply well framed");
	p9c_fini(&c);
	p9_server_destroy(s);
}

/* msize bounds every reply: a big read answers at most msize. */
static void test_msize(void)
{
	struct p9_server *s = new_server(false);
	struct p9c c;
	static char big[200000];
	uint32_t n, msize;
	int fd;

	memset(big, 'z', sizeof(big));
	fd = open(at("big"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, big, sizeof(big)) != (ssize_t)sizeof(big))
		diag("cannot write big");
	close(fd);
	p9c_init(&c, s);
	is_int(session(&c), 0, "session at msize 8192");
	is_int(p9c_walk(&c, 0, 1, "big", NULL), 0, "walk big");
	is_int(p9c_lopen(&c, 1, P9_DOTL_RDONLY, NULL), 0, "lopen");
	is_int(p9c_read(&c, 1, 0, 0xffffffffu, NULL, 0, &n), 0, "read count 4 GiB");
	is_int(n, 8192 - P9_IOHDR_SIZE, "  msize - 11 bytes");
	is_int(c.resp_len, 8192, "  reply exactly msize");
	c.resp_cap = 5000;
	is_int(p9c_read(&c, 1, 0, 0xffffffffu, NULL, 0, &n), 0, "read into a 5000-byte buffer");
	is_int(c.resp_len, 5000, "  reply bounded by resp_cap");
	c.resp_cap = P9_MAX_MSIZE;
	is_int(p9c_version(&c, P9_MAX_MSIZE, P9_VERSION_L, &msize, NULL, 0), 0, "version max");
	is_int(p9c_attach(&c, 0, &(struct p9_qid){ 0 }), 0, "attach");
	is_int(p9c_walk(&c, 0, 1, "big", NULL), 0, "walk big");
	is_int(p9c_lopen(&c, 1, P9_DOTL_RDONLY, NULL), 0, "lopen");
	is_int(p9c_read(&c, 1, 0, 0xffffffffu, NULL, 0, &n), 0, "read count 4 GiB");
	is_int(n, sizeof(big), "  the whole 200000-byte file");
	is_int(c.bad, 0, "every reply well framed");
	p9c_fini(&c);
	p9_server_destroy(s);
}

static void test_ro(void)
{
	static char before[16384], after[16384];
	struct p9_server *s;
	struct p9c c;
	struct p9_wbuf *w;
	uint32_t n;
	char buf[64];

	mkdir(at("ro"), 0755);
	put_file("ro/f", "keep");
	symlink("f", at("ro/l"));
	tree_snapshot(share, before, sizeof(before));
	s = new_server(true);
	p9c_init(&c, s);
	is_int(session(&c), 0, "ro: session");
	is_int(p9c_walk(&c, 0, 1, "ro", NULL), 0, "walk ro");
	is_int(p9c_walk(&c, 0, 2, "ro/f", NULL), 0, "walk ro/f");
	is_int(p9c_walk(&c, 0, 3, "ro/l", NULL), 0, "walk ro/l");
	is_int(p9c_lopen(&c, 2, P9_DOTL_WRONLY, NULL), -EROFS, "lopen O_WRONLY: EROFS");
	is_int(p9c_lopen(&c, 2, P9_DOTL_RDWR, NULL), -EROFS, "lopen O_RDWR: EROFS");
	is_int(p9c_lopen(&c, 2, P9_DOTL_RDONLY | P9_DOTL_TRUNC, NULL), -EROFS,
	       "lopen O_RDONLY|O_TRUNC: EROFS");
	is_int(p9c_walk(&c, 0, 4, "ro", NULL), 0, "walk ro");
	is_int(p9c_lcreate(&c, 4, "new", P9_DOTL_RDWR, 0644, 0, NULL), -EROFS, "lcreate: EROFS");
	is_int(p9c_lcreate(&c, 4, "new", P9_DOTL_RDONLY, 0644, 0, NULL), -EROFS,
	       "lcreate read-only: EROFS");
	is_int(p9c_mkdir(&c, 1, "d", 0755, 0, NULL), -EROFS, "mkdir: EROFS");
	is_int(p9c_symlink(&c, 1, "s", "f", 0, NULL), -EROFS, "symlink: EROFS");
	is_int(p9c_mknod(&c, 1, "p", S_IFIFO | 0644, 0, 0, 0, NULL), -EROFS, "mknod: EROFS");
	is_int(p9c_link(&c, 1, 2, "h"), -EROFS, "link: EROFS");
	is_int(p9c_rename(&c, 2, 1, "g"), -EROFS, "rename: EROFS");
	is_int(p9c_renameat(&c, 1, "f", 1, "g"), -EROFS, "renameat: EROFS");
	is_int(p9c_unlinkat(&c, 1, "f", 0), -EROFS, "unlinkat: EROFS");
	is_int(p9c_unlinkat(&c, 0, "ro", P9_DOTL_AT_REMOVEDIR), -EROFS, "unlinkat dir: EROFS");
	is_int(p9c_setattr(&c, 2, P9_SETATTR_MODE, 0600, 0, 0, 0, 0, 0, 0, 0), -EROFS,
	       "setattr mode: EROFS");
	is_int(p9c_setattr(&c, 2, P9_SETATTR_SIZE, 0, 0, 0, 0, 0, 0, 0, 0), -EROFS,
	       "setattr size: EROFS");
	is_int(p9c_setattr(&c, 2, P9_SETATTR_MTIME, 0, 0, 0, 0, 0, 0, 0, 0), -EROFS,
	       "setattr mtime: EROFS");
	is_int(p9c_setattr(&c, 3, P9_SETATTR_UID | P9_SETATTR_GID, 0, 0, 0, 0, 0, 0, 0, 0),
	       -EROFS, "setattr owner of a symlink: EROFS");
	w = p9c_begin(&c);
	p9w_u32(w, 2);
	p9w_cstr(w, "user.x");
	p9w_u64(w, 1);
	p9w_u32(w, 0);
	is_int(p9c_send(&c, P9_TXATTRCREATE), -EROFS, "xattrcreate: EROFS");
	is_int(p9c_fidop(&c, P9_TREMOVE, 2), -EROFS, "remove: EROFS");
	is_int(p9c_walk(&c, 0, 2, "ro/f", NULL), 0, "  (fid clunked anyway) walk ro/f");
	is_int(p9c_lopen(&c, 2, P9_DOTL_RDONLY, NULL), 0, "lopen read-only: fine");
	is_int(p9c_write(&c, 2, 0, "x", 1, &n), -EROFS, "write: EROFS");
	is_int(p9c_read(&c, 2, 0, 10, buf, sizeof(buf), &n), 0, "read: fine");
	ok(n == 4 && memcmp(buf, "keep", 4) == 0, "  \"keep\"");
	is_int(p9c_fsync(&c, 2, 0), 0, "fsync: fine");
	p9c_fini(&c);
	p9_server_destroy(s);
	tree_snapshot(share, after, sizeof(after));
	ok(strcmp(before, after) == 0,
	   "ro: the tree is untouched (names, modes, sizes, mtimes, data)");
	if (strcmp(before, after))
		diag("before:\n%s\nafter:\n%s", before, after);
}

int main(void)
{
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/nkvm-t_p9.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(share, sizeof(share), "%s/share", tmp);
	mkdir(share, 0755);
	chmod(tmp, 0755);
	log_threshold = LOG_ERR;

	test_version();
	test_walk_io();
	test_readdir();
	test_create();
	test_rename_remove();
	test_setattr();
	test_unprivileged();
	test_misc();
	test_msize();
	test_ro();

	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rm_rf(fd, "share");
	close(fd);
	rmdir(tmp);
	return done_testing();
}
