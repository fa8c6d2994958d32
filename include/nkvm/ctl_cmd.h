/*
 * Shared pieces of the control commands (cmd_list.c, cmd_ctl.c,
 * cmd_stop.c, cmd_stat.c): their option parsing and output formats.
 */
#ifndef NKVM_CTL_CMD_H
#define NKVM_CTL_CMD_H

#include <stdbool.h>
#include <stddef.h>

/* The exit-status part of every control command's --help. */
#define CTL_EXIT_HELP \
	"exit status:\n" \
	"  0    done\n" \
	"  1    the VM refused the request, did not answer in time, answered\n" \
	"       something malformed, or (stop) is still running\n" \
	"  2    usage error: bad option or VM name; no VM of that name is\n" \
	"       running (or its nkvm died and left only its socket)\n" \
	"  3    host error: the control directory or socket is not yours or\n" \
	"       is open to others, or the server runs as another user\n"

/* Options a command accepts (ctl_args.allowed). */
enum {
	CTL_ARG_NAME = 1,      /* one NAME operand, required */
	CTL_ARG_JSON = 2,      /* --json */
	CTL_ARG_FORCE = 4,     /* --force */
	CTL_ARG_TIMEOUT = 8,   /* --timeout SECONDS */
};

struct ctl_args {
	const char *name;
	bool json, force;
	unsigned timeout_s;    /* preset by the caller: the default */
};

/* Parse argv (argv[0] is the command's name) for the options in
 * `allowed`; `usage` prints the --help text. -1 to go on, or the exit
 * status to return: 0 after --help, 2 after one line on a bad option. */
int ctl_parse_args(int argc, char **argv, unsigned allowed, void (*usage)(void),
		   struct ctl_args *a);

/* Uptime as ps prints elapsed time: [[D-]HH:]MM:SS. */
void ctl_fmt_uptime(double seconds, char *buf, size_t len);

/* A size in MiB as 512M, or 2G when a whole number of GiB. */
void ctl_fmt_mib(long long mib, char *buf, size_t len);

#endif
