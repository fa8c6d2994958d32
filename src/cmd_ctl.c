/*
 * nkvm pause NAME / nkvm resume NAME: PATCH /vm {"state": "Paused"} or
 * {"state": "Resumed"} on the VM's control socket. A paused VM's vCPUs
 * stand still outside KVM_RUN; its devices and sockets stay up.
 */
#include <stdio.h>

#include "nkvm/cmd.h"
#include "nkvm/ctl_client.h"
#include "nkvm/ctl_cmd.h"

static void pause_usage(void)
{
	printf("usage: nkvm pause NAME\n"
	       "\n"
	       "Stops every vCPU of the running VM NAME (PATCH /vm, state Paused);\n"
	       "nkvm resume NAME continues it. Pausing a paused VM is not an error.\n"
	       "\n"
	       "  -h, --help   this text\n"
	       "\n" CTL_EXIT_HELP);
}

static void resume_usage(void)
{
	printf("usage: nkvm resume NAME\n"
	       "\n"
	       "Continues the VM NAME after nkvm pause (PATCH /vm, state Resumed).\n"
	       "\n"
	       "  -h, --help   this text\n"
	       "\n" CTL_EXIT_HELP);
}

/* PATCH /vm with the given state. */
static int set_state(int argc, char **argv, void (*usage)(void), const char *state)
{
	struct ctl_args a = { 0 };
	struct ctl_reply rep;
	char body[64];
	int r;

	r = ctl_parse_args(argc, argv, CTL_ARG_NAME, usage, &a);
	if (r >= 0)
		return r;
	snprintf(body, sizeof(body), "{\"state\": \"%s\"}", state);
	r = ctl_call(a.name, "PATCH", "/vm", body, CTL_TIMEOUT_MS, &rep);
	if (r)
		r = ctl_report(a.name, r);
	else if (rep.status != 204 && rep.status != 200)
		r = ctl_report_reply(a.name, argv[0], &rep);
	ctl_reply_free(&rep);
	return r;
}

int cmd_pause(int argc, char **argv)
{
	return set_state(argc, argv, pause_usage, "Paused");
}

int cmd_resume(int argc, char **argv)
{
	return set_state(argc, argv, resume_usage, "Resumed");
}
