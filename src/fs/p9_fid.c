/* 9P fids and the host objects they hold: refcounted O_PATH objects, a
 * bounded hash table of fids, and the fix-up of directory entries after a
 * rename done through the server. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "p9_impl.h"

/* Wraps an O_PATH fd (owned from here on, closed on failure) in an object
 * with its identity. */
int p9_obj_new(int fd, struct p9_obj **out)
{
	struct p9_obj *o;
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	o = malloc(sizeof(*o));
	if (!o) {
		close(fd);
		return -ENOMEM;
	}
	o->fd = fd;
	o->refs = 1;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->type = st.st_mode & S_IFMT;
	*out = o;
	return 0;
}

/* Takes a reference; NULL passes through. */
struct p9_obj *p9_obj_get(struct p9_obj *o)
{
	if (o)
		o->refs++;
	return o;
}

/* Drops a reference, closing the fd with the last one; NULL is fine. */
void p9_obj_put(struct p9_obj *o)
{
	if (!o || --o->refs)
		return;
	close(o->fd);
	free(o);
}

/* Drops what a node holds and empties it. */
void p9_node_release(struct p9_node *n)
{
	p9_obj_put(n->self);
	p9_obj_put(n->parent);
	free(n->name);
	memset(n, 0, sizeof(*n));
}

/* dst = another reference to src's objects and a copy of its name. */
int p9_node_copy(struct p9_node *dst, const struct p9_node *src)
{
	char *name = NULL;

	if (src->name && !(name = strdup(src->name)))
		return -ENOMEM;
	dst->self = p9_obj_get(src->self);
	dst->parent = p9_obj_get(src->parent);
	dst->name = name;
	return 0;
}

static unsigned bucket(uint32_t id)
{
	return (id * 2654435761u) >> 22;	/* 1024 buckets */
}

/* The fid with this number, or NULL. */
struct p9_fid *p9_fid_lookup(struct p9_server *s, uint32_t id)
{
	struct p9_fid *f;

	for (f = s->fids[bucket(id)]; f; f = f->next)
		if (f->id == id)
			return f;
	return NULL;
}

/* A file fid (not an xattr one) with this number, or NULL. */
struct p9_fid *p9_fid_file(struct p9_server *s, uint32_t id)
{
	struct p9_fid *f = p9_fid_lookup(s, id);

	return f && f->kind == P9_FID_FILE ? f : NULL;
}

int p9_req_file(struct p9_server *s, const struct p9_rbuf *r, uint32_t id, struct p9_fid **f)
{
	int ret = p9r_end(r);

	if (ret)
		return ret;
	*f = p9_fid_file(s, id);
	return *f ? 0 : -EBADF;
}

/* Adds an empty fid: -EEXIST when the number is taken, -ENFILE past the
 * bound, -EINVAL for NOFID (it means "no fid" on the wire). */
int p9_fid_new(struct p9_server *s, uint32_t id, struct p9_fid **out)
{
	struct p9_fid *f;
	unsigned b = bucket(id);

	if (id == P9_NOFID)
		return -EINVAL;
	if (p9_fid_lookup(s, id))
		return -EEXIST;
	if (s->nfids >= s->max_fids)
		return -ENFILE;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->id = id;
	f->kind = P9_FID_FILE;
	f->ofd = -1;
	f->next = s->fids[b];
	s->fids[b] = f;
	s->nfids++;
	*out = f;
	return 0;
}

/* Closes the fid's opened file, if any. */
void p9_fid_close_open(struct p9_fid *f)
{
	if (f->ofd >= 0)
		close(f->ofd);
	f->ofd = -1;
	f->oflags = 0;
}

/* Removes a fid from the table and releases everything it holds. */
void p9_fid_free(struct p9_server *s, struct p9_fid *f)
{
	struct p9_fid **pp;

	for (pp = &s->fids[bucket(f->id)]; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			s->nfids--;
			break;
		}
	}
	p9_fid_close_open(f);
	p9_node_release(&f->node);
	free(f);
}

/* Frees every fid. */
void p9_fid_free_all(struct p9_server *s)
{
	for (unsigned b = 0; b < P9_FID_BUCKETS; b++) {
		while (s->fids[b])
			p9_fid_free(s, s->fids[b]);
	}
}

static bool same_obj(const struct p9_obj *a, const struct p9_obj *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/*
 * After the server renamed olddir/oldname to newdir/newname, points every
 * fid that was reached by the old entry at the new one, so a guest that
 * renamed a file can still open it through the fids it already holds.
 * Fids below a renamed directory need nothing: their parent is an fd of
 * that directory, which moved with it. A fid whose entry cannot be updated
 * (no memory) keeps the old one and gets ESTALE when it needs it.
 */
void p9_fid_renamed(struct p9_server *s, const struct p9_obj *olddir,
		    const char *oldname, struct p9_obj *newdir,
		    const char *newname)
{
	for (unsigned b = 0; b < P9_FID_BUCKETS; b++) {
		for (struct p9_fid *f = s->fids[b]; f; f = f->next) {
			struct p9_node *n = &f->node;
			char *name;

			if (!n->parent || !same_obj(n->parent, olddir) ||
			    strcmp(n->name, oldname) != 0)
				continue;
			name = strdup(newname);
			if (!name)
				continue;
			free(n->name);
			n->name = name;
			p9_obj_put(n->parent);
			n->parent = p9_obj_get(newdir);
		}
	}
}
