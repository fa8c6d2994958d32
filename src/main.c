/* nkvm entry point: the subcommand table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nkvm/api.h"
#include "nkvm/cmd.h"
#include "nkvm/kvm_release.h"
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
	{ "sandbox", cmd_sandbox, "run a host command in a throwaway VM: nkvm sandbox -- CMD" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: nkvm COMMAND [options]\n\ncommands:\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(f, "\n  nkvm --api-sock PATH | --config-file FILE [...]\n"
		   "                     a VM configured through Firecracker's API or\n"
		   "                     config file (nkvm --api-sock x --help)\n"
		   "  nkvm --version [--compat firecracker]\n"
		   "                     print the version (as Firecracker would, for\n"
		   "                     tools such as Kata's fc back end; also with\n"
		   "                     NKVM_COMPAT=firecracker)\n"
		   "  nkvm COMMAND --help\n");
}

/* Kata's firecracker back end runs `firecracker --version` and takes the
 * second word of the first line, less its "v", as a semantic version. */
static int version(int argc, char **argv)
{
	const char *compat = getenv("NKVM_COMPAT");

	if (argc == 4 && !strcmp(argv[2], "--compat"))
		compat = argv[3];
	else if (argc != 2) {
		fprintf(stderr, "nkvm: --version takes only --compat firecracker\n");
		return EXIT_USAGE;
	}
	if (compat && !strcmp(compat, "firecracker")) {
		printf("Firecracker v%s\nnkvm %s (Firecracker API compatible)\n",
		       API_FC_COMPAT_VERSION, NKVM_VERSION);
		return 0;
	}
	if (compat && *compat) {
		fprintf(stderr, "nkvm: compatibility mode '%s': only 'firecracker'\n", compat);
		return EXIT_USAGE;
	}
	printf("nkvm %s\n", NKVM_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "nkvm: no command given: try 'nkvm run' or 'nkvm --help'\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))
		return version(argc, argv);
	/* Firecracker's command line: options only, no subcommand */
	if (!strcmp(argv[1], "--api-sock") || !strcmp(argv[1], "--config-file") ||
	    !strcmp(argv[1], "--no-api") || !strcmp(argv[1], "--id") ||
	    !strncmp(argv[1], "--api-sock=", 11) || !strncmp(argv[1], "--config-file=", 14) ||
	    !strncmp(argv[1], "--id=", 5))
		kvm_release_exit(cmd_vmm(argc, argv));
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			kvm_release_exit(subcommands[i].fn(argc - 1, argv + 1));
	fprintf(stderr, "nkvm: unknown command '%s': try 'nkvm --help'\n", argv[1]);
	return EXIT_USAGE;
}
