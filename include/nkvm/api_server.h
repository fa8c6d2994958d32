/*
 * The control API on a unix socket: libmicrohttpd on a listening socket
 * nkvm made itself (ctl_sock.h), on MHD's own thread. Limits, so that a
 * slow or hostile client costs nothing but its own connection: 16
 * connections, 10 s idle timeout, 64 KiB request bodies (413 beyond),
 * malformed HTTP answered 400 by MHD. Each connection's peer must be our
 * uid or root (SO_PEERCRED), else it is closed unanswered.
 */
#ifndef NKVM_API_SERVER_H
#define NKVM_API_SERVER_H

struct api;
struct api_server;

/* Serve `a` on listening socket fd (not taken). 0 or -errno. */
int api_server_start(struct api_server **out, struct api *a, int fd)
	__attribute__((warn_unused_result));

/* Stop the thread and close every connection (after api_shutdown, so a
 * request waiting for a start returns). NULL is fine. */
void api_server_stop(struct api_server *s);

#endif
