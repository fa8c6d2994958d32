/*
 * nkvm list: every running nkvm of this user, found by its control socket
 * in the per-user directory (ctl_dir.h) and asked for GET /nkvm/stat.
 * A socket nobody listens on any more (its nkvm was killed) is removed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "nkvm/cmd.h"
#include "nkvm/ctl_client.h"
#include "nkvm/ctl_cmd.h"
#include "nkvm/ctl_dir.h"

#define SOCK_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

void cmd_list_usage(void)
{
	printf("usage: nkvm list [--json]\n"
	       "\n"
	       "Lists the VMs this user runs (started with nkvm run --name NAME), one\n"
	       "per line: NAME PID VCPUS MEM STATE UPTIME. Their control sockets live in\n"
	       "$XDG_RUNTIME_DIR/nkvm/ (or ~/.nkvm/ without XDG_RUNTIME_DIR); a socket\n"
	       "left by an nkvm that died is removed. A VM that does not answer within\n"
	       "2 s is listed with state 'Unresponsive'.\n"
	       "\n"
	       "  --json       a JSON array of {name, pid, state, vcpu_count,\n"
	       "               mem_size_mib, uptime_s} instead\n"
	       "  -h, --help   this text\n"
	       "\n" CTL_EXIT_HELP);
}

/* A VM's socket name "NAME.sock" -> NAME, if NAME is valid. */
static bool sock_name(const char *file, char *name)
{
	size_t n = strlen(file);

	if (n <= 5 || n - 5 > CTL_NAME_MAX || strcmp(file + n - 5, ".sock"))
		return false;
	memcpy(name, file, n - 5);
	name[n - 5] = '\0';
	return ctl_name_valid(name);
}

/* One VM's entry for the output, built from its stat answer (the pid is
 * SO_PEERCRED's). NULL when the socket was stale (and removed). */
static json_t *list_one(const char *name, bool *failed)
{
	char sock[SOCK_PATH_MAX];
	struct ctl_reply rep;
	json_t *o, *st;
	int r;

	r = ctl_sock_path(sock, sizeof(sock), name, false);
	if (r)
		return NULL;    /* too long a path: not one nkvm made */
	o = json_object();
	r = ctl_call_path(sock, "GET", "/nkvm/stat", NULL, CTL_LIST_TIMEOUT_MS, &rep);
	if (r == -ECONNREFUSED) {
		r = ctl_remove_stale(sock);
		if (r < 0)
			fprintf(stderr, "nkvm: list: cannot remove the stale socket %s: %s\n",
				sock, strerror(-r));
		ctl_reply_free(&rep);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "name", json_string(name));
	if (rep.peer.pid > 0)
		json_object_set_new(o, "pid", json_integer(rep.peer.pid));
	if (r || rep.status != 200 || !json_is_object(rep.json)) {
		json_object_set_new(o, "state", json_string("Unresponsive"));
		json_object_set_new(o, "error", json_string(r ? ctl_strerror(r) :
			ctl_fault(&rep) ? ctl_fault(&rep) : "bad answer to GET /nkvm/stat"));
		*failed = true;
	} else {
		static const char *const keys[] = { "state", "vcpu_count", "mem_size_mib",
						    "uptime_s" };
		size_t i;

		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if ((st = json_object_get(rep.json, keys[i])))
				json_object_set(o, keys[i], st);
	}
	ctl_reply_free(&rep);
	return o;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every valid VM name with a socket in dir, sorted; NULL on no memory. */
static char **scan_dir(const char *dir, size_t *count, int *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, name[CTL_NAME_MAX + 1];
	size_t n = 0;

	*err = 0;
	*count = 0;
	if (!d) {
		*err = errno == ENOENT ? 0 : -errno;
		return NULL;
	}
	while ((de = readdir(d))) {
		char **nn;

		if (de->d_type != DT_SOCK && de->d_type != DT_UNKNOWN)
			continue;
		if (!sock_name(de->d_name, name))
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn || !(nn[n] = strdup(name))) {
			names = nn ? nn : names;
			*err = -ENOMEM;
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	*count = n;
	return names;
}

static void print_table(json_t *vms)
{
	size_t i, w = 4;
	json_t *v;

	json_array_foreach(vms, i, v) {
		size_t n = strlen(json_string_value(json_object_get(v, "name")));

		if (n > w)
			w = n;
	}
	printf("%-*s %8s %5s %6s %-12s %s\n", (int)w, "NAME", "PID", "VCPUS", "MEM",
	       "STATE", "UPTIME");
	json_array_foreach(vms, i, v) {
		json_t *cpus = json_object_get(v, "vcpu_count");
		json_t *up = json_object_get(v, "uptime_s");
		const char *state = json_string_value(json_object_get(v, "state"));
		char mem[32], upt[32], ncpu[16] = "-", pid[16] = "-";

		if (json_is_integer(json_object_get(v, "pid")))
			snprintf(pid, sizeof(pid), "%lld",
				 (long long)json_integer_value(json_object_get(v, "pid")));
		if (json_is_integer(cpus))
			snprintf(ncpu, sizeof(ncpu), "%lld", (long long)json_integer_value(cpus));
		ctl_fmt_mib(json_is_integer(json_object_get(v, "mem_size_mib")) ?
			    (long long)json_integer_value(json_object_get(v, "mem_size_mib")) : 0,
			    mem, sizeof(mem));
		ctl_fmt_uptime(json_is_number(up) ? json_number_value(up) : -1, upt, sizeof(upt));
		printf("%-*s %8s %5s %6s %-12.12s %s\n", (int)w,
		       json_string_value(json_object_get(v, "name")), pid, ncpu, mem,
		       state ? state : "?", upt);
	}
}

int cmd_list(int argc, char **argv)
{
	struct ctl_args a = { 0 };
	char dir[SOCK_PATH_MAX], **names;
	size_t i, n = 0;
	bool failed = false;
	json_t *vms;
	int r;

	r = ctl_parse_args(argc, argv, CTL_ARG_JSON, cmd_list_usage, &a);
	if (r >= 0)
		return r;
	r = ctl_dir_path(dir, sizeof(dir), false);
	if (r && r != -ENOENT) {
		fprintf(stderr, "nkvm: list: the control directory %s\n",
			r == -EPERM ? "is not yours or is open to others (it must be 0700)" :
			strerror(-r));
		return CTL_EXIT_HOST;
	}
	names = r ? NULL : scan_dir(dir, &n, &r);
	if (r && r != -ENOENT) {
		fprintf(stderr, "nkvm: list: cannot read %s: %s\n", dir, strerror(-r));
		failed = true;
	}
	vms = json_array();
	for (i = 0; names && i < n; i++) {
		json_t *o = list_one(names[i], &failed);

		if (o)
			json_array_append_new(vms, o);
		free(names[i]);
	}
	free(names);
	if (a.json) {
		json_dumpf(vms, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		print_table(vms);
	}
	json_decref(vms);
	return failed ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}
