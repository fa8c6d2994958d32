/* Option parsing shared by the control commands (ctl_cmd.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nkvm/ctl_client.h"
#include "nkvm/ctl_cmd.h"

#define TIMEOUT_MAX_S 3600

static int bad(const char *cmd, const char *what, const char *arg)
{
	fprintf(stderr, "nkvm: %s: %s '%s' (see nkvm %s --help)\n", cmd, what, arg, cmd);
	return CTL_EXIT_USAGE;
}

static bool parse_seconds(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v < 1 || v > TIMEOUT_MAX_S)
		return false;
	*out = (unsigned)v;
	return true;
}

int ctl_parse_args(int argc, char **argv, unsigned allowed, void (*usage)(void),
		   struct ctl_args *a)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0];
	int c;

	optind = 0;             /* full getopt reset: commands may run twice */
	while ((c = getopt_long(argc, argv, ":hf", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage();
			return CTL_EXIT_OK;
		case 'j':
			if (!(allowed & CTL_ARG_JSON))
				return bad(cmd, "unknown option", "--json");
			a->json = true;
			break;
		case 'f':
			if (!(allowed & CTL_ARG_FORCE))
				return bad(cmd, "unknown option", argv[optind - 1]);
			a->force = true;
			break;
		case 't':
			if (!(allowed & CTL_ARG_TIMEOUT))
				return bad(cmd, "unknown option", "--timeout");
			if (!parse_seconds(optarg, &a->timeout_s)) {
				fprintf(stderr, "nkvm: %s: --timeout '%s': must be a whole number "
					"of seconds from 1 to %d\n", cmd, optarg, TIMEOUT_MAX_S);
				return CTL_EXIT_USAGE;
			}
			break;
		case ':':
			return bad(cmd, "option needs a value:", argv[optind - 1]);
		default:
			return bad(cmd, "unknown option", argv[optind - 1]);
		}
	}
	if (!(allowed & CTL_ARG_NAME)) {
		if (optind < argc)
			return bad(cmd, "unexpected argument", argv[optind]);
		return -1;
	}
	if (optind + 1 < argc)
		return bad(cmd, "one VM at a time; unexpected argument", argv[optind + 1]);
	a->name = optind < argc ? argv[optind] : NULL;
	c = ctl_check_name(cmd, a->name);
	return c == CTL_EXIT_OK ? -1 : c;
}
