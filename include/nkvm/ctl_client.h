/*
 * The client side of a running nkvm's control socket (ctl_dir.h): one HTTP
 * request per connection to the Firecracker-style API, answered in JSON.
 * Used by `nkvm list/pause/resume/stop/stat`.
 */
#ifndef NKVM_CTL_CLIENT_H
#define NKVM_CTL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/* Exit statuses of the control commands (README, each --help). */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,   /* the VM refused, did not answer, or did not stop */
	CTL_EXIT_USAGE = 2,    /* bad option or name; no VM of that name running */
	CTL_EXIT_HOST = 3,     /* control directory or socket not ours, host error */
};

/* Per-request receive budgets (the whole response must arrive in it). */
#define CTL_TIMEOUT_MS      10000
#define CTL_LIST_TIMEOUT_MS 2000

/* Who serves a control socket: SO_PEERCRED's pid, never the JSON's. */
struct ctl_peer {
	pid_t pid;
	int pidfd;             /* pidfd of pid, or -1 (no pidfd_open) */
};

struct ctl_reply {
	int status;            /* HTTP status */
	json_t *json;          /* the body, or NULL when it was empty */
	struct ctl_peer peer;  /* set once connected, even if the call failed */
};

/* Connect to a control socket within timeout_ms and check its server (see
 * ctl_call for who is believed). The connected fd, or -errno as ctl_call;
 * the caller closes the fd and peer->pidfd. */
int ctl_connect(const char *sock, int timeout_ms, struct ctl_peer *peer)
	__attribute__((warn_unused_result));

/* Remove the socket if its nkvm is gone (connect refused). 1 removed,
 * 0 left alone (alive, or absent), or -errno. */
int ctl_remove_stale(const char *sock);

/*
 * Send METHOD PATH (with a JSON body, or NULL) to the VM NAME and read its
 * answer within timeout_ms. Only a server running as our uid (or anyone,
 * when we are root) is believed. 0 with *rep filled (any HTTP status), or:
 * -EINVAL bad name, -ENOENT no such VM, -ECONNREFUSED its nkvm is gone
 * (stale socket), -EPERM control directory not ours or open to others,
 * -EACCES the server is another user's, -ETIMEDOUT, -EPROTO malformed
 * answer, -EMSGSIZE answer too large, -EBADMSG body not JSON,
 * -ECONNRESET the VM went away mid-request, another -errno.
 */
int ctl_call(const char *name, const char *method, const char *path, const char *body,
	     int timeout_ms, struct ctl_reply *rep) __attribute__((warn_unused_result));

/* Same, on a socket path instead of a VM name (for `list` and tests). */
int ctl_call_path(const char *sock, const char *method, const char *path,
		  const char *body, int timeout_ms, struct ctl_reply *rep)
	__attribute__((warn_unused_result));

/* Releases the JSON and closes the pidfd (also after a failed call). */
void ctl_reply_free(struct ctl_reply *rep);

/* Whether a server with uid `peer` may be believed by a client with euid
 * `me`: the same user, or the client is root. */
bool ctl_peer_trusted(uid_t peer, uid_t me);

/* What a ctl_call() error means, in a few words ("is not running"). */
const char *ctl_strerror(int err);

/* One line on stderr for a failed ctl_call() on NAME; returns the exit
 * status it maps to. */
int ctl_report(const char *name, int err);

/* One line on stderr for an HTTP error reply (its fault_message); returns
 * CTL_EXIT_FAILED. */
int ctl_report_reply(const char *name, const char *what, const struct ctl_reply *rep);

/* Checks a NAME argument: CTL_EXIT_OK, or one line and CTL_EXIT_USAGE. */
int ctl_check_name(const char *cmd, const char *name);

/* The "fault_message" of an error reply, or NULL. */
const char *ctl_fault(const struct ctl_reply *rep);

#endif
