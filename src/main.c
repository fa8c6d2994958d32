/* nkvm entry point: the subcommand table. */
#include <stdio.h>
#include <string.h>

#include "nkvm/cmd.h"
#include "nkvm/vm.h"

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct subcommand subcommands[] = {
	{ "run", cmd_run, "boot a guest (the default guest when no kernel is given)" },
	{ "list", cmd_list, "list this user's running VMs" },
	{ "pause", cmd_pause, "pause a running VM's vCPUs" },
	{ "resume", cmd_resume, "resume a paused VM" },
	{ "stop", cmd_stop, "stop a VM: Ctrl-Alt-Del, then SIGTERM (--force: SIGKILL)" },
	{ "stat", cmd_stat, "a running VM's state, vCPU and device counters" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: nkvm COMMAND [options]\n\ncommands:\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(f, "\n  nkvm --version     print the version\n"
		   "  nkvm COMMAND --help\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "nkvm: no command given: try 'nkvm run' or 'nkvm --help'\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("nkvm %s\n", NKVM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "nkvm: unknown command '%s': try 'nkvm --help'\n", argv[1]);
	return EXIT_USAGE;
}
