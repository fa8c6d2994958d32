/*
 * libmicrohttpd, loaded when first needed instead of linked.
 *
 * Debian's libmicrohttpd pulls in GnuTLS and nine more libraries; linked
 * normally they cost every nkvm start ~3.5 ms of CPU (the dynamic loader)
 * and 2.5 MiB of RSS, although most VMs never get a control request. nkvm
 * therefore dlopen()s it when the first client connects to a control
 * socket (api_server.c) and calls it through this table.
 */
#ifndef NKVM_MHD_LIB_H
#define NKVM_MHD_LIB_H

#include <stddef.h>
#include <microhttpd.h>

struct mhd_lib {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_quiesce_daemon) *quiesce_daemon;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
	__typeof__(MHD_get_connection_info) *get_connection_info;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
};

/* The library's functions, loaded once (thread-safe); NULL after one error
 * line in err when the library or a symbol is missing. */
const struct mhd_lib *mhd_lib_get(char *err, size_t errlen);

#endif
