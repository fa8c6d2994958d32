/*
 * mkcpio: write a newc cpio archive (an initramfs) to stdout from a spec
 * on stdin, in the spec format of the kernel's usr/gen_init_cpio:
 *
 *   dir   NAME MODE UID GID
 *   file  NAME HOSTPATH MODE UID GID
 *   slink NAME TARGET MODE UID GID
 *   nod   NAME MODE UID GID c|b MAJ MIN
 *   pipe  NAME MODE UID GID
 *   sock  NAME MODE UID GID
 *
 * MODE is octal permission bits; '#' starts a comment line. It exists so
 * the initramfs can hold /dev/console without root or a kernel tree. The
 * whole spec is checked before the first byte is written, so a bad line
 * leaves no half archive behind. Every entry gets mtime 0 (or -t SECONDS)
 * so that the same inputs give the same bytes.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FIELDS 9

struct entry {
	char type;			/* d f l n p s */
	char *name, *src;		/* src: host path or link target */
	unsigned int mode, uid, gid, maj, min;
	uint32_t size;
	int line;
};

static struct entry *ents;
static size_t nents, cap;
static unsigned int mtime;
static unsigned int next_ino = 721;

static void __attribute__((noreturn, format(printf, 2, 3))) die_line(int line, const char *fmt, ...)
{
	va_list ap;

	if (line)
		fprintf(stderr, "mkcpio: line %d: ", line);
	else
		fprintf(stderr, "mkcpio: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static unsigned int parse_num(const char *s, int base, unsigned long max, int line,
			      const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (!*s || *end || errno || v > max || *s == '-' || *s == '+')
		die_line(line, "bad %s '%s'", what, s);
	return (unsigned int)v;
}

/* Archive names are relative, as gen_init_cpio writes them. */
static char *clean_name(char *name, int line)
{
	while (*name == '/')
		name++;
	if (!*name)
		die_line(line, "empty name");
	if (strlen(name) >= PATH_MAX)
		die_line(line, "name too long");
	return name;
}

static void parse_line(char *buf, int line)
{
	static const struct {
		const char *kw;
		char type;
		int nf;			/* fields after the keyword */
		int mode_at;		/* index of MODE among them */
	} kinds[] = {
		{ "dir", 'd', 4, 1 }, { "file", 'f', 5, 2 }, { "slink", 'l', 5, 2 },
		{ "nod", 'n', 7, 1 }, { "pipe", 'p', 4, 1 }, { "sock", 's', 4, 1 },
	};
	char *f[MAX_FIELDS + 1], *save = NULL, *tok;
	int n = 0;
	size_t k;
	struct entry e = { .line = line };

	for (tok = strtok_r(buf, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == MAX_FIELDS)
			die_line(line, "too many fields");
		f[n++] = tok;
	}
	if (!n || f[0][0] == '#')
		return;
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (!strcmp(f[0], kinds[k].kw))
			break;
	if (k == sizeof(kinds) / sizeof(kinds[0]))
		die_line(line, "unknown type '%s' (dir, file, slink, nod, pipe, sock)", f[0]);
	if (n - 1 != kinds[k].nf)
		die_line(line, "'%s' takes %d fields, got %d", f[0], kinds[k].nf, n - 1);

	int m = kinds[k].mode_at + 1;
	e.type = kinds[k].type;
	e.name = clean_name(f[1], line);
	e.mode = parse_num(f[m], 8, 07777, line, "mode");
	e.uid = parse_num(f[m + 1], 10, UINT32_MAX, line, "uid");
	e.gid = parse_num(f[m + 2], 10, UINT32_MAX, line, "gid");
	if (e.type == 'f' || e.type == 'l')
		e.src = f[2];
	if (e.type == 'n') {
		if (strcmp(f[5], "c") && strcmp(f[5], "b"))
			die_line(line, "device type must be c or b, got '%s'", f[5]);
		e.type = f[5][0];
		e.maj = parse_num(f[6], 10, 0xfff, line, "major");
		e.min = parse_num(f[7], 10, 0xfffff, line, "minor");
	}
	if (e.type == 'l') {
		if (strlen(e.src) >= PATH_MAX)
			die_line(line, "link target too long");
		/* With its NUL, as gen_init_cpio; the kernel accepts both. */
		e.size = (uint32_t)strlen(e.src) + 1;
	}
	if (e.type == 'f') {
		struct stat st;

		if (stat(e.src, &st) < 0)
			die_line(line, "%s: %s", e.src, strerror(errno));
		if (!S_ISREG(st.st_mode))
			die_line(line, "%s: not a regular file", e.src);
		if (st.st_size > (off_t)UINT32_MAX)
			die_line(line, "%s: too big for newc (4 GiB)", e.src);
		e.size = (uint32_t)st.st_size;
	}
	/* Both point into the line buffer, which the next line reuses. */
	e.name = strdup(e.name);
	e.src = e.src ? strdup(e.src) : NULL;
	if (!e.name || ((e.type == 'f' || e.type == 'l') && !e.src))
		die_line(0, "out of memory");
	if (nents == cap) {
		cap = cap ? cap * 2 : 64;
		ents = realloc(ents, cap * sizeof(*ents));
		if (!ents)
			die_line(0, "out of memory");
	}
	ents[nents++] = e;
}

static unsigned long long offset;

static void put(const void *p, size_t len)
{
	fwrite(p, 1, len, stdout);
	offset += len;
}

static void pad_to(unsigned int align)
{
	static const char zero[512];

	put(zero, (align - offset % align) % align);
}

/* One newc header and name. The (dev)major:minor 3:1 of the archived
 * file system, nlink 2 for dir/pipe/sock and the trailer's zeros are what
 * gen_init_cpio writes, so a spec gives the bytes the kernel's tool gives
 * (with -t 0 and files dated 0: it stamps files with their own mtime). */
static void header(const char *name, unsigned int mode, const struct entry *e, uint32_t size)
{
	char h[128];
	size_t namesz = strlen(name) + 1;
	unsigned int t = mode & S_IFMT;

	snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 next_ino++, mode, e ? e->uid : 0, e ? e->gid : 0,
		 t == S_IFDIR || t == S_IFIFO || t == S_IFSOCK ? 2u : 1u, e ? mtime : 0u, size,
		 e ? 3u : 0u, e ? 1u : 0u, e ? e->maj : 0, e ? e->min : 0,
		 (unsigned int)namesz, 0u);
	put(h, 110);
	put(name, namesz);
	pad_to(4);
}

static void copy_file(const struct entry *e)
{
	char buf[65536];
	unsigned long long total = 0;
	size_t n;
	FILE *in = fopen(e->src, "rb");

	if (!in)
		die_line(e->line, "%s: %s", e->src, strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (total + n > e->size)
			break;
		put(buf, n);
		total += n;
	}
	if (ferror(in))
		die_line(e->line, "%s: read error", e->src);
	/* The size is already in the header: a file that changed is fatal. */
	if (total != e->size || (n = fread(buf, 1, 1, in)) != 0)
		die_line(e->line, "%s: changed size while archiving", e->src);
	fclose(in);
	pad_to(4);
}

static void emit(const struct entry *e)
{
	static const struct { char type; unsigned int fmt; } fmts[] = {
		{ 'd', S_IFDIR }, { 'f', S_IFREG }, { 'l', S_IFLNK },
		{ 'c', S_IFCHR }, { 'b', S_IFBLK }, { 'p', S_IFIFO }, { 's', S_IFSOCK },
	};
	unsigned int fmt = 0;

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
		if (fmts[i].type == e->type)
			fmt = fmts[i].fmt;
	header(e->name, fmt | e->mode, e, e->size);
	if (e->type == 'f')
		copy_file(e);
	else if (e->type == 'l') {
		put(e->src, e->size);
		pad_to(4);
	}
}

/* Reads the spec from stdin, checks all of it, then writes the archive. */
int main(int argc, char **argv)
{
	char *buf = NULL;
	size_t bufcap = 0;
	ssize_t len;
	int line = 0;

	if (argc == 3 && !strcmp(argv[1], "-t")) {
		mtime = parse_num(argv[2], 10, UINT32_MAX, 0, "timestamp");
	} else if (argc != 1) {
		fprintf(stderr, "usage: mkcpio [-t SECONDS] < spec > archive.cpio\n");
		return 1;
	}
	while ((len = getline(&buf, &bufcap, stdin)) >= 0) {
		line++;
		if ((size_t)len != strlen(buf))
			die_line(line, "NUL byte in spec");
		parse_line(buf, line);
	}
	if (ferror(stdin))
		die_line(0, "reading spec: %s", strerror(errno));
	free(buf);

	for (size_t i = 0; i < nents; i++)
		emit(&ents[i]);
	next_ino = 0;
	header("TRAILER!!!", 0, NULL, 0);
	pad_to(512);
	if (fflush(stdout) || ferror(stdout))
		die_line(0, "writing archive: %s", strerror(errno));
	return 0;
}
