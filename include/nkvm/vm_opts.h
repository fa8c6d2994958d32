/*
 * The command-line options `nkvm run` and `nkvm sandbox` share: -k -i -p
 * -m -c --timeout --disk --rng --net --share --fs --virtiofsd --vsock -v,
 * parsed into a struct
 * vm_spec, and the default guest when no -k is given.
 *
 * A subcommand lists VM_OPTS_LONGOPTS and VM_OPTS_SHORTOPTS with its own
 * options (and --help) and calls vm_opts_getopt() with a function for
 * its own ones; after that, vm_opts_finish().
 */
#ifndef NKVM_VM_OPTS_H
#define NKVM_VM_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "nkvm/vm_spec.h"

#define VM_OPTS_LONGOPTS \
	{ "kernel", required_argument, NULL, 'k' }, \
	{ "initrd", required_argument, NULL, 'i' }, \
	{ "params", required_argument, NULL, 'p' }, \
	{ "mem", required_argument, NULL, 'm' }, \
	{ "cpus", required_argument, NULL, 'c' }, \
	{ "timeout", required_argument, NULL, 'T' }, \
	{ "disk", required_argument, NULL, 'D' }, \
	{ "rng", no_argument, NULL, 'R' }, \
	{ "net", required_argument, NULL, 'N' }, \
	{ "share", required_argument, NULL, 'S' }, \
	{ "fs", required_argument, NULL, 'F' }, \
	{ "virtiofsd", required_argument, NULL, 'V' }, \
	{ "vsock", required_argument, NULL, 'K' }, \
	{ "verbose", no_argument, NULL, 'v' }
#define VM_OPTS_SHORTOPTS "k:i:p:m:c:v"

/* A subcommand's parser: --help was shown, exit 0. */
#define VM_OPTS_HELP_SHOWN 1000
/* A subcommand's option function: c is not one of its options. */
#define VM_OPTS_NOT_MINE 1001

/* "nkvm: MESSAGE (see nkvm CMD --help)" on stderr; returns -EXIT_USAGE. */
int vm_opts_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * One getopt_long result c (optarg, optind as getopt left them) for an
 * option of VM_OPTS_LONGOPTS, or ':' (missing value) or anything else (an
 * unknown option). cmd ("run", "sandbox") names the subcommand in
 * messages. 0, -EXIT_USAGE after one line on stderr, -EXIT_HOST without
 * memory.
 */
int vm_opts_parse(struct vm_spec *s, const char *cmd, int c, char **argv)
	__attribute__((warn_unused_result));

/*
 * getopt_long over argv (from its start; opterr off; shortopts starting
 * with ':', "+:" to stop at the first argument). Each result goes to
 * own(ctx, c) (optarg set), and to vm_opts_parse() when own returns
 * VM_OPTS_NOT_MINE. 0 at the end of the options (optind: the first
 * argument left), or the first other value own or vm_opts_parse returned.
 */
int vm_opts_getopt(struct vm_spec *s, const char *cmd, int argc, char **argv,
		   const char *shortopts, const struct option *longopts,
		   int (*own)(void *ctx, int c), void *ctx)
	__attribute__((warn_unused_result));

/*
 * After parsing: with no -k, the default guest's kernel (it must exist)
 * and, with no -i, its initramfs; default_initrd: its initramfs with no -i
 * even when -k was given (`nkvm sandbox` needs nkvm-init). 0, or a
 * negative EXIT_* after one line on stderr.
 */
int vm_opts_finish(struct vm_spec *s, bool default_initrd)
	__attribute__((warn_unused_result));

#endif
