/* libmicrohttpd through dlopen (see mhd_lib.h). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mhd_lib.h"

/* The soname Debian 12's libmicrohttpd12 ships (the -dev package's
 * headers describe this ABI). */
#define MHD_SONAME "libmicrohttpd.so.12"

static struct mhd_lib lib;
static const struct mhd_lib *loaded;
static char load_err[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define SYM(field, name)                                                     \
	do {                                                                 \
		if (!(*(void **)&lib.field = dlsym(h, name))) {              \
			snprintf(load_err, sizeof(load_err), "%s: no symbol %s", \
				 MHD_SONAME, name);                          \
			return;                                              \
		}                                                            \
	} while (0)

static void load(void)
{
	void *h = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(load_err, sizeof(load_err),
			 "cannot load %s (Debian package libmicrohttpd12): %s", MHD_SONAME,
			 dlerror());
		return;
	}
	SYM(start_daemon, "MHD_start_daemon");
	SYM(stop_daemon, "MHD_stop_daemon");
	SYM(quiesce_daemon, "MHD_quiesce_daemon");
	SYM(create_response_from_buffer, "MHD_create_response_from_buffer");
	SYM(add_response_header, "MHD_add_response_header");
	SYM(queue_response, "MHD_queue_response");
	SYM(destroy_response, "MHD_destroy_response");
	SYM(get_connection_info, "MHD_get_connection_info");
	SYM(lookup_connection_value, "MHD_lookup_connection_value");
	/* never dlclose()d: MHD's threads may outlive any one server */
	loaded = &lib;
}

const struct mhd_lib *mhd_lib_get(char *err, size_t errlen)
{
	pthread_once(&once, load);
	if (!loaded && err && errlen)
		snprintf(err, errlen, "%s", load_err);
	return loaded;
}
