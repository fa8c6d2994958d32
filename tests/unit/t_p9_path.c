/* 9P server containment and robustness: ".." at and below the root,
 * symlinks to /etc, to "../../" and absolute ones (walked through, opened,
 * read, set, linked, renamed, removed), names with '/', NUL, "", ".", "..",
 * 256 and 300 bytes in every operation that takes one, a directory moved
 * out of the share by a host process while the guest holds fids in it,
 * renames inside (host and guest) followed by "..", a share spanning a
 * tmpfs mount (qid mixing, ".." across it), nwname 17, the fid
 * limit, and every message type truncated at every length, with lying
 * size fields, trailing bytes and each byte overwritten (run under
 * SANITIZE=1 for over-reads). After each group the tree outside the share
 * must be exactly as it was. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t_p9_client.h"

static char tmp[256], share[300], outside[300];
static char outside_before[16384];
static struct p9_qid rootq;

static const char *at(const char *base, const char *name)
{
	static char p[4][700];
	static unsigned n;
	char *s = p[n++ % 4];

	snprintf(s, 700, "%s/%s", base, name);
	return s;
}

static void put_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		diag("cannot write %s", path);
	if (fd >= 0)
		close(fd);
}

/* The outside tree and the temp dir's own listing must not change. */
static void outside_untouched(const char *what)
{
	static char now[16384];
	int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	bool only = d != NULL;

	tree_snapshot(outside, now, sizeof(now));
	while (d && (e = readdir(d)))
		only &= !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
			!strcmp(e->d_name, "share") || !strcmp(e->d_name, "outside");
	if (d)
		closedir(d);
	ok(strcmp(now, outside_before) == 0 && only,
	   "%s: nothing outside the share changed", what);
}

static struct p9_server *new_server(void)
{
	struct p9_server *s = NULL;
	char err[256] = "";

	if (p9_server_create(&s, share, false, err, sizeof(err)))
		diag("p9_server_create: %s", err);
	return s;
}

static int session(struct p9c *c)
{
	uint32_t msize;
	int ret = p9c_version(c, 65536, P9_VERSION_L, &msize, NULL, 0);

	return ret ? ret : p9c_attach(c, 0, &rootq);
}

static bool is_root(const struct p9_qid *q)
{
	return q->path == rootq.path && q->type == P9_QTDIR;
}

static void test_dotdot(struct p9c *c)
{
	const char *dd[P9_MAXWELEM], *mixed[] = { "d", "sub", "..", "..", "..", "d" };
	struct p9_qid qids[P9_MAXWELEM], q;
	struct p9c_attr a;
	struct stat st;
	unsigned nq;
	bool all = true;

	for (int i = 0; i < P9_MAXWELEM; i++)
		dd[i] = "..";
	is_int(p9c_walkv(c, 0, 1, 1, dd, &nq, qids), 0, "walk \"..\" from the root");
	ok(nq == 1 && is_root(&qids[0]), "  stays at the root");
	is_int(p9c_getattr(c, 1, &a), 0, "  getattr");
	stat(share, &st);
	ok(a.qid.path == st.st_ino && S_ISDIR(a.mode), "  is the share root");
	is_int(p9c_walk(c, 0, 2, "../..", &q), 0, "walk \"../..\"");
	ok(is_root(&q), "  root");
	is_int(p9c_walkv(c, 0, 3, P9_MAXWELEM, dd, &nq, qids), 0, "walk 16 x \"..\"");
	for (unsigned i = 0; i < nq; i++)
		all &= is_root(&qids[i]);
	ok(nq == P9_MAXWELEM && all, "  every step at the root");
	is_int(p9c_lcreate(c, 3, "made-after-dotdot", P9_DOTL_RDWR, 0644, 0, NULL), 0,
	       "lcreate from that fid");
	ok(access(at(share, "made-after-dotdot"), F_OK) == 0, "  lands inside the share");
	is_int(p9c_walk(c, 0, 4, "d/sub/deep/../../../..", &q), 0, "walk d/sub/deep/../../../..");
	ok(is_root(&q), "  root");
	is_int(p9c_walkv(c, 0, 5, 6, mixed, &nq, qids), 0, "walk d sub .. .. .. d");
	stat(at(share, "d"), &st);
	ok(nq == 6 && qids[1].path != qids[0].path && qids[2].path == st.st_ino &&
	   is_root(&qids[3]) && is_root(&qids[4]) && qids[5].path == st.st_ino,
	   "  d, sub, d, root, root, d");
	is_int(p9c_walk(c, 0, 6, "d/.", &q), 0, "walk d/.");
	ok(q.path == st.st_ino, "  \".\" stays at d");
	for (uint32_t f = 1; f <= 6; f++)
		p9c_clunk(c, f);
	p9c_unlinkat(c, 0, "made-after-dotdot", 0);
}

static void test_symlinks(struct p9c *c)
{
	static const char *const links[] = { "etc", "up", "abs", "outdir" };
	struct p9_qid q;
	struct p9c_attr a;
	struct stat before, st;
	char buf[512];
	unsigned nq;
	struct p9_qid qids[2];
	const char *through[] = { "outdir", "secret" };

	for (unsigned i = 0; i < 4; i++) {
		uint32_t f = 10 + i;

		is_int(p9c_walk(c, 0, f, links[i], &q), 0, "walk %s", links[i]);
		ok(q.type == P9_QTSYMLINK, "  a symlink qid");
		is_int(p9c_getattr(c, f, &a), 0, "  getattr");
		ok(S_ISLNK(a.mode), "  S_IFLNK: the link itself");
		is_int(p9c_lopen(c, f, P9_DOTL_RDONLY, NULL), -ELOOP, "  lopen: ELOOP");
		is_int(p9c_walk(c, f, 20, "secret", NULL), -ENOTDIR,
		       "  walk on through it: ENOTDIR");
		is_int(p9c_walk(c, f, 20, "..", NULL), -ENOTDIR, "  \"..\" from it: ENOTDIR");
		is_int(p9c_lcreate(c, f, "x", P9_DOTL_RDWR, 0644, 0, NULL), -ENOTDIR,
		       "  lcreate in it: ENOTDIR");
		is_int(p9c_mkdir(c, f, "x", 0755, 0, NULL), -ENOTDIR, "  mkdir in it: ENOTDIR");
		is_int(p9c_symlink(c, f, "x", "y", 0, NULL), -ENOTDIR, "  symlink in it: ENOTDIR");
		is_int(p9c_mknod(c, f, "x", S_IFIFO | 0644, 0, 0, 0, NULL), -ENOTDIR,
		       "  mknod in it: ENOTDIR");
		is_int(p9c_unlinkat(c, f, "secret", 0), -ENOTDIR, "  unlinkat in it: ENOTDIR");
		is_int(p9c_renameat(c, f, "secret", 0, "stolen"), -ENOTDIR,
		       "  renameat out of it: ENOTDIR");
		is_int(p9c_renameat(c, 0, "d", f, "x"), -ENOTDIR, "  renameat into it: ENOTDIR");
		is_int(p9c_link(c, f, 0, "x"), -ENOTDIR, "  link into it: ENOTDIR");
	}
	is_int(p9c_readlink(c, 10, buf, sizeof(buf)), 0, "readlink etc");
	is_str(buf, "/etc", "  the text only");
	is_int(p9c_readlink(c, 11, buf, sizeof(buf)), 0, "readlink up");
	is_str(buf, "../../", "  the text only");
	is_int(p9c_walkv(c, 0, 20, 2, through, &nq, qids), 0, "walk outdir/secret");
	ok(nq == 1, "  stops at the symlink (%u of 2)", nq);
	is_int(p9c_clunk(c, 20), -EBADF, "  no newfid");
	is_int(p9c_walk(c, 0, 20, "etc/passwd", NULL), -ENOENT, "walk etc/passwd: partial");

	/* attributes of an absolute link to a file outside: the link only */
	stat(at(outside, "secret"), &before);
	is_int(p9c_setattr(c, 12, P9_SETATTR_MODE, 0777, 0, 0, 0, 0, 0, 0, 0), -EOPNOTSUPP,
	       "chmod the abs symlink: EOPNOTSUPP");
	is_int(p9c_setattr(c, 12, P9_SETATTR_SIZE, 0, 0, 0, 0, 0, 0, 0, 0), -EINVAL,
	       "truncate the abs symlink: EINVAL");
	is_int(p9c_setattr(c, 12, P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET | P9_SETATTR_MTIME |
			   P9_SETATTR_MTIME_SET, 0, 0, 0, 0, 111, 0, 222, 0), 0,
	       "set times of the abs symlink");
	ok(lstat(at(share, "abs"), &st) == 0 && st.st_mtime == 222, "  the link's own mtime");
	if (geteuid() == 0) {
		is_int(p9c_setattr(c, 12, P9_SETATTR_UID | P9_SETATTR_GID, 0, 4444, 4444, 0, 0, 0,
				   0, 0), 0, "chown the abs symlink (root)");
		ok(lstat(at(share, "abs"), &st) == 0 && st.st_uid == 4444, "  the link's owner");
	}
	is_int(p9c_link(c, 0, 12, "hl"), 0, "hard link the abs symlink");
	ok(lstat(at(share, "hl"), &st) == 0 && S_ISLNK(st.st_mode), "  links the symlink");
	is_int(p9c_rename(c, 12, 0, "abs2"), 0, "rename the abs symlink");
	is_int(p9c_fidop(c, P9_TREMOVE, 12), 0, "remove the abs symlink");
	is_int(p9c_unlinkat(c, 0, "hl", 0), 0, "unlinkat hl");
	stat(at(outside, "secret"), &st);
	ok(st.st_mode == before.st_mode && st.st_size == before.st_size &&
	   st.st_mtime == before.st_mtime && st.st_nlink == 1 && st.st_uid == before.st_uid,
	   "the target outside: mode, size, times, owner, links unchanged");
	symlink(at(outside, "secret"), at(share, "abs"));
	for (uint32_t f = 10; f < 14; f++)
		p9c_clunk(c, f);
	outside_untouched("symlinks");
}

/* Every operation that takes a name refuses bad ones. */
static void test_names(struct p9c *c)
{
	char n256[257], n300[301];
	struct {
		const char *name;
		int want, want_walk;
	} bad[] = {
		{ "a/b", -EINVAL, -EINVAL },
		{ "../outside", -EINVAL, -EINVAL },
		{ "/etc", -EINVAL, -EINVAL },
		{ "", -EINVAL, -EINVAL },
		{ ".", -EINVAL, 0 },
		{ "..", -EINVAL, 0 },
		{ n256, -ENAMETOOLONG, -ENAMETOOLONG },
		{ n300, -ENAMETOOLONG, -ENAMETOOLONG },
	};
	unsigned nq;
	struct p9_qid qids[1];

	memset(n256, 'n', 256);
	n256[256] = '\0';
	memset(n300, 'x', 300);
	n300[300] = '\0';
	is_int(p9c_walk(c, 0, 1, "d/f", NULL), 0, "walk d/f (a link source)");
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *nm = bad[i].name;
		char label[40];
		int w;

		snprintf(label, sizeof(label), "\"%.12s%s\"", nm, strlen(nm) > 12 ? "..." : "");
		w = p9c_walkv(c, 0, 2, 1, &nm, &nq, qids);
		is_int(w, bad[i].want_walk, "walk %s", label);
		if (!w)
			p9c_clunk(c, 2);
		is_int(p9c_walk(c, 0, 2, "", NULL), 0, "  clone root");
		is_int(p9c_lcreate(c, 2, nm, P9_DOTL_RDWR, 0644, 0, NULL), bad[i].want,
		       "  lcreate %s", label);
		p9c_clunk(c, 2);
		is_int(p9c_mkdir(c, 0, nm, 0755, 0, NULL), bad[i].want, "  mkdir %s", label);
		is_int(p9c_symlink(c, 0, nm, "t", 0, NULL), bad[i].want, "  symlink %s", label);
		is_int(p9c_mknod(c, 0, nm, S_IFIFO | 0644, 0, 0, 0, NULL), bad[i].want,
		       "  mknod %s", label);
		is_int(p9c_link(c, 0, 1, nm), bad[i].want, "  link %s", label);
		is_int(p9c_rename(c, 1, 0, nm), bad[i].want, "  rename to %s", label);
		is_int(p9c_renameat(c, 0, nm, 0, "zz"), bad[i].want, "  renameat from %s", label);
		is_int(p9c_renameat(c, 0, "d", 0, nm), bad[i].want, "  renameat to %s", label);
		is_int(p9c_unlinkat(c, 0, nm, 0), bad[i].want, "  unlinkat %s", label);
		is_int(p9c_unlinkat(c, 0, nm, P9_DOTL_AT_REMOVEDIR), bad[i].want,
		       "  unlinkat dir %s", label);
	}
	/* a name with a NUL inside: "d\0x" */
	{
		struct p9_wbuf *w = p9c_begin(c);

		p9w_u32(w, 0);
		p9w_u32(w, 2);
		p9w_u16(w, 1);
		p9w_str(w, "d\0x", 3);
		is_int(p9c_send(c, P9_TWALK), -EINVAL, "walk \"d\\0x\": EINVAL");
		w = p9c_begin(c);
		p9w_u32(w, 0);
		p9w_str(w, "e\0/../x", 7);
		p9w_u32(w, 0755);
		p9w_u32(w, 0);
		is_int(p9c_send(c, P9_TMKDIR), -EINVAL, "mkdir \"e\\0/../x\": EINVAL");
		w = p9c_begin(c);
		p9w_u32(w, 0);
		p9w_cstr(w, "sym");
		p9w_str(w, "/etc\0x", 6);
		p9w_u32(w, 0);
		is_int(p9c_send(c, P9_TSYMLINK), -EINVAL, "symlink target with a NUL: EINVAL");
	}
	{
		char n255[256];

		memset(n255, 'm', 255);
		n255[255] = '\0';
		is_int(p9c_walk(c, 0, 2, n255, NULL), -ENOENT,
		       "walk a 255-byte name: ENOENT (allowed)");
		is_int(p9c_mkdir(c, 0, n255, 0755, 0, NULL), 0, "mkdir a 255-byte name");
		is_int(p9c_unlinkat(c, 0, n255, P9_DOTL_AT_REMOVEDIR), 0, "  and remove it");
	}
	p9c_clunk(c, 1);
	outside_untouched("bad names");
}

/* A directory moved out of the share by a host process while the guest
 * holds fids in it: ".." from there is refused; the fids keep their own
 * subtree (what their fds already reached), nothing beyond. */
static void test_moved_out(struct p9c *c)
{
	struct p9_qid q;
	struct stat st;

	mkdir(at(share, "mv"), 0755);
	mkdir(at(share, "mv/in"), 0755);
	put_file(at(share, "mv/in/file"), "in");
	is_int(p9c_walk(c, 0, 30, "mv", NULL), 0, "walk mv");
	is_int(p9c_walk(c, 0, 31, "mv/in", NULL), 0, "walk mv/in");
	is_int(p9c_walk(c, 30, 32, "..", &q), 0, "\"..\" from mv before the move");
	ok(is_root(&q), "  the root");
	p9c_clunk(c, 32);
	if (rename(at(share, "mv"), at(tmp, "moved"))) {
		ok(0, "host rename: %s", strerror(errno));
		return;
	}
	is_int(p9c_walk(c, 30, 32, "..", NULL), -ENOENT,
	       "moved out: \"..\" from its fid: ENOENT, not the temp dir");
	is_int(p9c_walk(c, 30, 32, "../outside/secret", NULL), -ENOENT,
	       "  \"../outside/secret\": ENOENT");
	is_int(p9c_walk(c, 31, 32, "..", NULL), -ENOENT, "  \"..\" from a fid below it: ENOENT");
	is_int(p9c_walk(c, 31, 32, "../..", NULL), -ENOENT, "  \"../..\": ENOENT");
	is_int(p9c_walk(c, 30, 32, "in/..", &q), -ENOENT,
	       "  in/..: the step back up to the moved dir is refused too");
	is_int(p9c_walk(c, 30, 32, "in/file", NULL), 0,
	       "  its own subtree stays reachable through the fid (documented)");
	p9c_clunk(c, 32);
	is_int(p9c_walk(c, 0, 32, "mv", NULL), -ENOENT, "  and gone from the share");
	rename(at(tmp, "moved"), at(share, "mv"));
	is_int(p9c_walk(c, 31, 32, "..", &q), 0, "moved back: \"..\" works again");
	stat(at(share, "mv"), &st);
	ok(q.path == st.st_ino, "  and is mv");
	p9c_clunk(c, 32);

	/* moved within the share by the host: ".." is the real parent now */
	mkdir(at(share, "other"), 0755);
	rename(at(share, "mv/in"), at(share, "other/in"));
	is_int(p9c_walk(c, 31, 32, "..", &q), 0, "host moved in under other: \"..\"");
	stat(at(share, "other"), &st);
	ok(q.path == st.st_ino, "  is other, its new parent");
	is_int(p9c_walk(c, 31, 33, "../..", &q), 0, "  \"../..\"");
	ok(is_root(&q), "  the root");
	p9c_clunk(c, 32);
	p9c_clunk(c, 33);
	/* moved by the guest */
	is_int(p9c_walk(c, 0, 34, "other", NULL), 0, "walk other");
	is_int(p9c_renameat(c, 0, "other", 30, "other"), 0, "guest renameat other -> mv/other");
	is_int(p9c_walk(c, 31, 32, "../..", &q), 0, "\"../..\" from in");
	stat(at(share, "mv"), &st);
	ok(q.path == st.st_ino, "  is mv");
	is_int(p9c_walk(c, 31, 33, "../../..", &q), 0, "\"../../..\"");
	ok(is_root(&q), "  the root");
	is_int(p9c_fidop(c, P9_TREMOVE, 32), -ENOTEMPTY,
	       "remove mv via a fid reached by \"..\" (name found by scanning): ENOTEMPTY");
	is_int(p9c_walk(c, 31, 32, "..", NULL), 0, "walk to other via \"..\"");
	is_int(p9c_rename(c, 32, 0, "other2"), 0, "rename a \"..\"-reached fid");
	ok(access(at(share, "other2/in/file"), F_OK) == 0, "  moved to the root");
	for (uint32_t f = 30; f <= 34; f++)
		p9c_clunk(c, f);
	outside_untouched("moved directories");
}

/* A share spanning two devices (a tmpfs mounted inside, in a private mount
 * namespace, when we may): qids differ from the raw inode numbers there,
 * ".." climbs back across the mount to the root. */
static void test_mount(void)
{
	struct p9_qid q, q2;
	struct stat st, rst;
	struct p9_server *s;
	struct p9c cl, *c = &cl;

	mkdir(at(share, "mnt"), 0755);
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("t_p9_path", at(share, "mnt"), "tmpfs", 0, "size=1m") < 0) {
		ok(1, "# SKIP no mount namespace here (%s)", strerror(errno));
		rmdir(at(share, "mnt"));
		return;
	}
	/* a server made now: fds opened before the unshare see the old mounts */
	s = new_server();
	p9c_init(c, s);
	is_int(session(c), 0, "a new session");
	put_file(at(share, "mnt/file"), "on tmpfs");
	stat(at(share, "mnt"), &st);
	stat(share, &rst);
	is_int(p9c_walk(c, 0, 40, "mnt", &q), 0, "walk into a tmpfs mounted in the share");
	ok(st.st_dev != rst.st_dev && q.path != st.st_ino &&
	   (q.path & 0xffffffffffffull) == (st.st_ino & 0xffffffffffffull),
	   "  another device: inode mixed with it in the top bits");
	is_int(p9c_walk(c, 40, 41, "file", &q2), 0, "walk mnt/file");
	is_int(p9c_walk(c, 40, 42, "..", &q2), 0, "\"..\" from the mount's root");
	ok(is_root(&q2), "  crosses back to the share root");
	is_int(p9c_lopen(c, 41, P9_DOTL_RDONLY, NULL), 0, "lopen mnt/file");
	is_int(c->bad, 0, "every reply well framed");
	p9c_fini(c);
	p9_server_destroy(s);
	umount2(at(share, "mnt"), MNT_DETACH);
	rmdir(at(share, "mnt"));
}

static void test_fid_limit(struct p9c *c)
{
	const char *seventeen[P9_MAXWELEM + 1];
	struct p9_qid qids[P9_MAXWELEM];
	unsigned nq, made = 0;
	uint32_t f;
	int ret = 0;

	for (int i = 0; i <= P9_MAXWELEM; i++)
		seventeen[i] = ".";
	is_int(p9c_walkv(c, 0, 1, P9_MAXWELEM + 1, seventeen, &nq, qids), -EINVAL,
	       "walk with nwname 17: EINVAL");
	is_int(p9c_clunk(c, 1), -EBADF, "  no fid made");
	is_int(p9c_walkv(c, 0, 1, P9_MAXWELEM, seventeen, &nq, qids), 0, "nwname 16: fine");
	p9c_clunk(c, 1);
	is_int(p9c_walk(c, 0, P9_NOFID, "", NULL), -EINVAL, "walk to newfid NOFID: EINVAL");
	for (f = 1; f < P9_MAX_FIDS; f++) {
		ret = p9c_walk(c, 0, f, "", NULL);
		if (ret)
			break;
		made++;
	}
	is_int(made, P9_MAX_FIDS - 1, "%u clones made (with fid 0: the limit)", made);
	is_int(p9c_walk(c, 0, P9_MAX_FIDS + 5, "", NULL), -ENFILE, "one more: ENFILE");
	is_int(p9c_attach(c, P9_MAX_FIDS + 5, &(struct p9_qid){ 0 }), -ENFILE, "attach: ENFILE");
	is_int(p9c_clunk(c, 77), 0, "clunk one");
	is_int(p9c_walk(c, 0, P9_MAX_FIDS + 5, "", NULL), 0, "  then a new one fits");
	is_int(p9c_version(c, 65536, P9_VERSION_L, &nq, NULL, 0), 0, "Tversion frees them all");
	is_int(p9c_attach(c, 0, &rootq), 0, "attach");
	is_int(p9c_walk(c, 0, 1, "d", NULL), 0, "walk works");
}

/* One valid message body of each type, using the fixture's fids. */
static const uint8_t msg_types[] = {
	P9_TVERSION, P9_TAUTH, P9_TATTACH, P9_TFLUSH, P9_TWALK, P9_TGETATTR,
	P9_TSETATTR, P9_TLOPEN, P9_TLCREATE, P9_TREAD, P9_TWRITE, P9_TREADDIR,
	P9_TMKDIR, P9_TSYMLINK, P9_TLINK, P9_TRENAME, P9_TRENAMEAT, P9_TUNLINKAT,
	P9_TMKNOD, P9_TREADLINK, P9_TSTATFS, P9_TFSYNC, P9_TCLUNK, P9_TREMOVE,
	P9_TXATTRWALK, P9_TXATTRCREATE, P9_TLOCK, P9_TGETLOCK,
};

static void build(struct p9_wbuf *w, uint8_t type)
{
	switch (type) {
	case P9_TVERSION: p9w_u32(w, 65536); p9w_cstr(w, P9_VERSION_L); break;
	case P9_TAUTH: p9w_u32(w, 9); p9w_cstr(w, "u"); p9w_cstr(w, ""); p9w_u32(w, 0); break;
	case P9_TATTACH:
		p9w_u32(w, 9); p9w_u32(w, P9_NOFID); p9w_cstr(w, "u"); p9w_cstr(w, "");
		p9w_u32(w, 0);
		break;
	case P9_TFLUSH: p9w_u16(w, 5); break;
	case P9_TWALK:
		p9w_u32(w, 0); p9w_u32(w, 9); p9w_u16(w, 3); p9w_cstr(w, "m");
		p9w_cstr(w, ".."); p9w_cstr(w, "m");
		break;
	case P9_TGETATTR: p9w_u32(w, 2); p9w_u64(w, P9_GETATTR_BASIC); break;
	case P9_TSETATTR:
		p9w_u32(w, 2); p9w_u32(w, P9_SETATTR_MODE | P9_SETATTR_SIZE | P9_SETATTR_MTIME);
		p9w_u32(w, 0644); p9w_u32(w, 0); p9w_u32(w, 0); p9w_u64(w, 5);
		for (int i = 0; i < 4; i++)
			p9w_u64(w, 0);
		break;
	case P9_TLOPEN: p9w_u32(w, 4); p9w_u32(w, P9_DOTL_RDONLY); break;
	case P9_TLCREATE:
		p9w_u32(w, 5); p9w_cstr(w, "c"); p9w_u32(w, P9_DOTL_RDWR); p9w_u32(w, 0644);
		p9w_u32(w, 0);
		break;
	case P9_TREAD: p9w_u32(w, 2); p9w_u64(w, 0); p9w_u32(w, 100); break;
	case P9_TWRITE: p9w_u32(w, 2); p9w_u64(w, 0); p9w_u32(w, 5); p9w_mem(w, "hello", 5); break;
	case P9_TREADDIR: p9w_u32(w, 6); p9w_u64(w, 0); p9w_u32(w, 1000); break;
	case P9_TMKDIR: p9w_u32(w, 1); p9w_cstr(w, "dd"); p9w_u32(w, 0755); p9w_u32(w, 0); break;
	case P9_TSYMLINK:
		p9w_u32(w, 1); p9w_cstr(w, "sl"); p9w_cstr(w, "/etc"); p9w_u32(w, 0);
		break;
	case P9_TLINK: p9w_u32(w, 1); p9w_u32(w, 2); p9w_cstr(w, "hl"); break;
	case P9_TRENAME: p9w_u32(w, 4); p9w_u32(w, 1); p9w_cstr(w, "g2"); break;
	case P9_TRENAMEAT:
		p9w_u32(w, 1); p9w_cstr(w, "g"); p9w_u32(w, 1); p9w_cstr(w, "g3");
		break;
	case P9_TUNLINKAT: p9w_u32(w, 1); p9w_cstr(w, "g"); p9w_u32(w, 0); break;
	case P9_TMKNOD:
		p9w_u32(w, 1); p9w_cstr(w, "p"); p9w_u32(w, S_IFIFO | 0644); p9w_u32(w, 0);
		p9w_u32(w, 0); p9w_u32(w, 0);
		break;
	case P9_TREADLINK: p9w_u32(w, 3); break;
	case P9_TSTATFS: p9w_u32(w, 0); break;
	case P9_TFSYNC: p9w_u32(w, 2); p9w_u32(w, 0); break;
	case P9_TCLUNK: p9w_u32(w, 4); break;
	case P9_TREMOVE: p9w_u32(w, 4); break;
	case P9_TXATTRWALK: p9w_u32(w, 2); p9w_u32(w, 9); p9w_cstr(w, ""); break;
	case P9_TXATTRCREATE:
		p9w_u32(w, 2); p9w_cstr(w, "user.x"); p9w_u64(w, 1); p9w_u32(w, 0);
		break;
	case P9_TLOCK:
	case P9_TGETLOCK:
		p9w_u32(w, 2); p9w_u8(w, P9_LOCK_TYPE_RDLCK);
		if (type == P9_TLOCK)
			p9w_u32(w, 0);
		p9w_u64(w, 0); p9w_u64(w, 10); p9w_u32(w, 1); p9w_cstr(w, "host");
		break;
	}
}

/* fids: 0 root, 1 dir m, 2 m/f open rdwr, 3 symlink m/s, 4 file m/g,
 * 5 clone of m (for lcreate), 6 m opened (for readdir). */
static int fixture(struct p9c *c)
{
	int ret, fd;

	/* a mutated setattr may have taken the permissions away */
	chmod(share, 0755);
	fd = open(share, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rm_rf(fd, "m");
	close(fd);
	mkdir(at(share, "m"), 0755);
	put_file(at(share, "m/f"), "ffff");
	put_file(at(share, "m/g"), "gggg");
	symlink("/etc", at(share, "m/s"));
	ret = session(c);
	ret = ret ? ret : p9c_walk(c, 0, 1, "m", NULL);
	ret = ret ? ret : p9c_walk(c, 0, 2, "m/f", NULL);
	ret = ret ? ret : p9c_lopen(c, 2, P9_DOTL_RDWR, NULL);
	ret = ret ? ret : p9c_walk(c, 0, 3, "m/s", NULL);
	ret = ret ? ret : p9c_walk(c, 0, 4, "m/g", NULL);
	ret = ret ? ret : p9c_walk(c, 0, 5, "m", NULL);
	ret = ret ? ret : p9c_walk(c, 0, 6, "m", NULL);
	return ret ? ret : p9c_lopen(c, 6, P9_DOTL_RDONLY, NULL);
}

/* Feeds exactly len bytes from a buffer of exactly that size (ASan sees
 * any read past it); the reply must be a well-framed Rlerror(EPROTO). */
static bool feed_proto(struct p9c *c, const uint8_t *msg, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	uint16_t tag = len >= P9_HDR_SIZE ? get_le16(msg + 5) : P9_NOTAG;
	size_t n;
	bool good;

	memcpy(copy, msg, len);
	n = p9_handle(c->s, copy, len, c->resp, c->resp_cap);
	good = p9c_check_reply(c->resp, n, c->resp_cap, msg[4], tag) == -EPROTO;
	free(copy);
	return good;
}

static void test_malformed(struct p9c *c)
{
	uint8_t msg[512], mut[512];
	unsigned bad_prefix = 0, bad_sized = 0, bad_lie = 0, bad_mut = 0, muts = 0;

	if (fixture(c)) {
		ok(0, "fixture");
		return;
	}
	for (size_t t = 0; t < sizeof(msg_types); t++) {
		struct p9_wbuf *w = p9c_begin(c);
		uint8_t type = msg_types[t];
		size_t len;
		bool good = true;

		build(w, type);
		len = p9w_finish(w, type, 0x1234);
		memcpy(msg, c->req, len);
		/* every prefix, size field still claiming the whole message */
		for (size_t l = 0; l < len; l++)
			if (!feed_proto(c, msg, l)) {
				bad_prefix++;
				good = false;
			}
		/* every truncated body with an honest size field */
		for (size_t l = P9_HDR_SIZE; l < len; l++) {
			memcpy(mut, msg, l);
			put_le32(mut, (uint32_t)l);
			if (!feed_proto(c, mut, l)) {
				bad_sized++;
				good = false;
			}
		}
		/* a trailing byte; size fields that lie either way */
		memcpy(mut, msg, len);
		mut[len] = 0;
		put_le32(mut, (uint32_t)len + 1);
		good &= feed_proto(c, mut, len + 1);
		put_le32(mut, (uint32_t)len);
		good &= feed_proto(c, mut, len + 1);
		memcpy(mut, msg, len);
		put_le32(mut, (uint32_t)len + 1);
		good &= feed_proto(c, mut, len);
		put_le32(mut, (uint32_t)len - 1);
		good &= feed_proto(c, mut, len);
		put_le32(mut, 0xffffffffu);
		good &= feed_proto(c, mut, len);
		put_le32(mut, 0);
		good &= feed_proto(c, mut, len);
		if (!good)
			bad_lie++;
		ok(good, "%3u: every prefix (%zu), truncated body, trailing byte and lying size: "
		   "Rlerror(EPROTO), tag kept", type, len);
	}
	is_int(bad_prefix + bad_sized, 0, "  (%u prefixes, %u truncated bodies wrong)",
	       bad_prefix, bad_sized);
	/* each byte of each valid message overwritten with 0x00, 0xff and
	 * 0x2f ('/'): whatever it then means, a well-framed reply */
	for (size_t t = 0; t < sizeof(msg_types); t++) {
		struct p9_wbuf *w;
		uint8_t type = msg_types[t];
		static const uint8_t vals[] = { 0x00, 0xff, 0x2f, 0x2e };
		size_t len;

		if (fixture(c)) {
			ok(0, "fixture for %u", type);
			continue;
		}
		w = p9c_begin(c);
		build(w, type);
		len = p9w_finish(w, type, 0x4321);
		memcpy(msg, c->req, len);
		for (size_t i = 4; i < len; i++) {
			for (size_t v = 0; v < sizeof(vals); v++) {
				uint8_t *copy = malloc(len);
				size_t n;
				uint16_t tag;

				memcpy(copy, msg, len);
				copy[i] = vals[v];
				tag = get_le16(copy + 5);
				n = p9_handle(c->s, copy, len, c->resp, c->resp_cap);
				if (n < P9_HDR_SIZE || get_le32(c->resp) != n ||
				    get_le16(c->resp + 5) != tag ||
				    (c->resp[4] != P9_RLERROR && c->resp[4] != copy[4] + 1)) {
					bad_mut++;
					diag("type %u byte %zu = %#x: bad reply", type, i, vals[v]);
				}
				free(copy);
				muts++;
				if (p9_server_msize(c->s) == P9_MAX_MSIZE && fixture(c))
					diag("fixture failed");
			}
		}
	}
	is_int(bad_mut, 0, "%u mutated messages: every reply well framed", muts);
	p9_server_reset(c->s);
	is_int(fixture(c), 0, "the server still works");
	outside_untouched("malformed and mutated messages");
}

int main(void)
{
	struct p9_server *s;
	struct p9c c;

	snprintf(tmp, sizeof(tmp), "%s/nkvm-t_p9_path.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	chmod(tmp, 0755);
	snprintf(share, sizeof(share), "%s/share", tmp);
	snprintf(outside, sizeof(outside), "%s/outside", tmp);
	mkdir(share, 0755);
	mkdir(outside, 0755);
	mkdir(at(outside, "dir"), 0755);
	put_file(at(outside, "secret"), "TOP SECRET");
	put_file(at(outside, "dir/x"), "x");
	mkdir(at(share, "d"), 0755);
	mkdir(at(share, "d/sub"), 0755);
	mkdir(at(share, "d/sub/deep"), 0755);
	put_file(at(share, "d/f"), "f");
	symlink("/etc", at(share, "etc"));
	symlink("../../", at(share, "up"));
	symlink(at(outside, "secret"), at(share, "abs"));
	symlink("../outside", at(share, "outdir"));
	tree_snapshot(outside, outside_before, sizeof(outside_before));
	log_threshold = LOG_ERR;

	s = new_server();
	p9c_init(&c, s);
	if (session(&c))
		ok(0, "session");
	test_dotdot(&c);
	test_symlinks(&c);
	test_names(&c);
	test_moved_out(&c);
	test_fid_limit(&c);
	test_malformed(&c);
	is_int(c.bad, 0, "every reply well framed");
	p9c_fini(&c);
	p9_server_destroy(s);
	test_mount();

	{
		int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		rm_rf(fd, "share");
		rm_rf(fd, "outside");
		close(fd);
		rmdir(tmp);
	}
	return done_testing();
}
