/* `nkvm --api-sock PATH | --config-file F ...`: Firecracker's command line
 * (top-level options, no subcommand): a VM configured through the API or
 * a config file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nkvm/api.h"
#include "nkvm/api_config.h"
#include "nkvm/clock.h"
#include "nkvm/cmd.h"
#include "nkvm/ctl_dir.h"
#include "nkvm/log.h"
#include "nkvm/vm.h"
#include "nkvm/vmm_main.h"

#define VMM_HELP_SHOWN 1000

void cmd_vmm_usage(void)
{
	printf(
"usage: nkvm --api-sock PATH [--id NAME]\n"
"       nkvm --config-file FILE [--no-api | --api-sock PATH] [--id NAME]\n"
"\n"
"Firecracker-style: start empty and wait for the VM's configuration and\n"
"InstanceStart on the REST API (--api-sock), or boot the VM a Firecracker\n"
"config file describes (--config-file), serving the API as well unless\n"
"--no-api. See README.md, \"Control API\".\n"
"\n"
"      --api-sock PATH     serve the API on this unix socket (mode 0600)\n"
"      --config-file FILE  boot the VM FILE describes (Firecracker's JSON)\n"
"      --no-api            with --config-file: no control socket at all\n"
"      --id NAME           the VM's name (GET / \"id\"; default vm-PID);\n"
"                          without --api-sock the socket is\n"
"                          $XDG_RUNTIME_DIR/nkvm/NAME.sock\n"
"  -v, --verbose           debug messages on stderr\n"
"\n"
"Exit status: as nkvm run (see nkvm run --help); 2 also for a bad config\n"
"file or a control socket in use.\n");
}

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "nkvm: %s%s%s (see nkvm --help)\n", msg, arg ? " " : "", arg ? arg : "");
	return -EXIT_USAGE;
}

static int parse(int argc, char **argv, struct vmm_opts *o, const char **config)
{
	static const struct option longopts[] = {
		{ "api-sock", required_argument, NULL, 'A' },
		{ "config-file", required_argument, NULL, 'F' },
		{ "no-api", no_argument, NULL, 'N' },
		{ "id", required_argument, NULL, 'I' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'A': o->api_sock = optarg; break;
		case 'F': *config = optarg; break;
		case 'N': o->no_api = true; break;
		case 'I':
			if (!ctl_name_valid(optarg))
				return usage_error("--id: 1 to 64 of A-Z a-z 0-9 _ . -, not starting with . or -:",
						   optarg);
			o->name = optarg;
			break;
		case 'v': log_threshold = LOG_DEBUG; break;
		case 'h':
			cmd_vmm_usage();
			return VMM_HELP_SHOWN;
		case ':':
			return usage_error("option needs a value:", argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (o->no_api && !*config)
		return usage_error("--no-api needs --config-file (nothing could start the VM)", NULL);
	if (o->no_api && o->api_sock)
		return usage_error("--no-api and --api-sock contradict each other", NULL);
	o->wait_start = !*config;
	return 0;
}

int cmd_vmm(int argc, char **argv)
{
	struct api_logger_cfg logger = { .level = LOG_INFO };
	struct api_metrics_cfg metrics = { 0 };
	struct vmm_opts o = { .logger = &logger, .metrics = &metrics };
	const char *config = NULL;
	struct vm_spec spec;
	uint64_t t0 = mono_ns();
	char err[1024];
	int r;

	api_spec_init(&spec);
	r = parse(argc, argv, &o, &config);
	if (!r && config && api_config_load(config, &spec, &logger, &metrics, err, sizeof(err)) < 0) {
		log_err("%s", err);
		r = -EXIT_USAGE;
	}
	if (!r)
		r = vmm_main(&spec, &o, t0);
	vm_spec_free(&spec);
	api_logger_cfg_free(&logger);
	api_metrics_cfg_free(&metrics);
	if (r == VMM_HELP_SHOWN)
		return 0;
	return r < 0 ? -r : r;
}
