/*
 * nkvm stat NAME: a running VM's counters from GET /nkvm/stat: state,
 * uptime, memory, per-vCPU exits, per-device counters. Whatever counters
 * the server adds are printed too (key=value), so this file need not
 * change with every new counter.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nkvm/cmd.h"
#include "nkvm/ctl_client.h"
#include "nkvm/ctl_cmd.h"

static void usage(void)
{
	printf("usage: nkvm stat NAME [--json]\n"
	       "\n"
	       "Shows a running VM's state, uptime, memory, vCPU exit counters and\n"
	       "device counters (GET /nkvm/stat on its control socket).\n"
	       "\n"
	       "  --json       the server's JSON, indented, instead\n"
	       "  -h, --help   this text\n"
	       "\n" CTL_EXIT_HELP);
}

/* " key=value" for every member of o but `skip` (and nested ones compact). */
static void print_counters(json_t *o, const char *skip)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		char *s;

		if (!strcmp(k, skip) || !strcmp(k, "type"))
			continue;
		if (json_is_integer(v)) {
			printf(" %s=%lld", k, (long long)json_integer_value(v));
		} else if (json_is_real(v)) {
			printf(" %s=%g", k, json_real_value(v));
		} else if (json_is_string(v)) {
			printf(" %s=%s", k, json_string_value(v));
		} else {
			s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			printf(" %s=%s", k, s ? s : "?");
			free(s);
		}
	}
	putchar('\n');
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

static void print_stat(const char *name, pid_t pid, json_t *st)
{
	json_t *up = json_object_get(st, "uptime_s"), *v;
	char buf[32];
	size_t i;

	printf("name:    %s\n", name);
	printf("pid:     %d\n", (int)pid);
	printf("state:   %s\n", str_or(st, "state", "?"));
	ctl_fmt_uptime(json_is_number(up) ? json_number_value(up) : -1, buf, sizeof(buf));
	printf("uptime:  %s\n", buf);
	ctl_fmt_mib(json_is_integer(json_object_get(st, "mem_size_mib")) ?
		    (long long)json_integer_value(json_object_get(st, "mem_size_mib")) : 0,
		    buf, sizeof(buf));
	printf("memory:  %s\n", buf);
	v = json_object_get(st, "vcpu_count");
	if (json_is_integer(v))
		printf("vcpus:   %lld\n", (long long)json_integer_value(v));
	json_array_foreach(json_object_get(st, "vcpus"), i, v) {
		json_t *id = json_object_get(v, "id");

		if (!json_is_object(v))
			continue;
		printf("  vcpu %lld:", json_is_integer(id) ? (long long)json_integer_value(id)
							 : (long long)i);
		print_counters(v, "id");
	}
	json_array_foreach(json_object_get(st, "devices"), i, v) {
		if (!json_is_object(v))
			continue;
		printf("  %s (%s):", str_or(v, "name", "?"), str_or(v, "type", "?"));
		print_counters(v, "name");
	}
}

int cmd_stat(int argc, char **argv)
{
	struct ctl_args a = { 0 };
	struct ctl_reply rep;
	int r;

	r = ctl_parse_args(argc, argv, CTL_ARG_NAME | CTL_ARG_JSON, usage, &a);
	if (r >= 0)
		return r;
	r = ctl_call(a.name, "GET", "/nkvm/stat", NULL, CTL_TIMEOUT_MS, &rep);
	if (r)
		r = ctl_report(a.name, r);
	else if (rep.status != 200)
		r = ctl_report_reply(a.name, "stat", &rep);
	else if (!json_is_object(rep.json))
		r = ctl_report(a.name, -EBADMSG);
	else if (a.json)
		r = json_dumpf(rep.json, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) ||
		    putchar('\n') == EOF;
	else
		print_stat(a.name, rep.peer.pid, rep.json);
	ctl_reply_free(&rep);
	return r;
}
