/*
 * End-to-end tests of nkvm list/pause/resume/stat/stop against fake VMs
 * (t_ctl_fake.h): what each command sends, prints and exits with, stale
 * sockets, unanswered requests, graceful and forced stops, bad usage.
 * Each command runs in a forked child with its output in files.
 */
#include <jansson.h>

#include "nkvm/cmd.h"
#include "t_ctl_fake.h"

struct out {
	int status;
	double secs;
	char out[8192], err[8192];
};

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* Runs fn(argv...) (NULL-terminated) in a child; fills *o. */
static void run(int (*fn)(int, char **), struct out *o, ...)
{
	char *argv[16], pout[128], perr[128];
	int argc = 0, st;
	double t0 = fake_now();
	va_list ap;
	pid_t pid;

	va_start(ap, o);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	snprintf(pout, sizeof(pout), "%s/cmd.out", fake_xdg);
	snprintf(perr, sizeof(perr), "%s/cmd.err", fake_xdg);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fo = open(pout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(perr, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fo, 1);
		dup2(fe, 2);
		st = fn(argc, argv);
		/* exit, not _exit: the sanitizer build checks the command
		 * for leaks (a leak changes the exit status) */
		exit(st);
	}
	waitpid(pid, &st, 0);
	o->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	o->secs = fake_now() - t0;
	slurp(pout, o->out, sizeof(o->out));
	slurp(perr, o->err, sizeof(o->err));
}

/* Each line of text as a TAP comment. */
static void diag_text(const char *text)
{
	const char *p = text, *nl;

	while (*p) {
		nl = strchr(p, '\n');
		diag("  | %.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
		p = nl ? nl + 1 : p + strlen(p);
	}
}

static int has(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		return 1;
	diag("  '%s' not in:", needle);
	diag_text(hay);
	return 0;
}

/* Stdout has exactly one line (the error goes to stderr), and it names s. */
static int one_line(const char *text, const char *s)
{
	const char *nl = strchr(text, '\n');

	if (nl && !nl[1] && strstr(text, s))
		return 1;
	diag("  want one line naming '%s', got:", s);
	diag_text(text);
	return 0;
}

#define STAT_ALPHA "{\"name\": \"alpha\", \"pid\": 1, \"state\": \"Running\", " \
	"\"vcpu_count\": 2, \"mem_size_mib\": 512, \"uptime_s\": 75.5, \"vcpus\": [" \
	"{\"id\": 0, \"exits\": 1234, \"io\": 56, \"mmio\": 7}, " \
	"{\"id\": 1, \"exits\": 10, \"io\": 0, \"mmio\": 0}], \"devices\": [" \
	"{\"name\": \"com1\", \"type\": \"serial\", \"tx_bytes\": 99}, " \
	"{\"name\": \"blk0\", \"type\": \"virtio-blk\", \"reads\": 3, \"writes\": 4}]}"
#define STAT_BETA "{\"name\": \"beta\", \"pid\": 1, \"state\": \"Paused\", " \
	"\"vcpu_count\": 1, \"mem_size_mib\": 2048, \"uptime_s\": 3700.2, " \
	"\"vcpus\": [], \"devices\": []}"

static const char no_content[] = "HTTP/1.1 204 No Content\r\n\r\n";
static pid_t alpha, beta;

static void test_list(void)
{
	struct fake_route ra[] = {
		{ .method = "GET", .path = "/nkvm/stat", .reply = fake_reply(200, "OK", STAT_ALPHA) },
		{ .method = "PATCH", .path = "/vm", .reply = no_content },
	};
	struct fake_route rb[] = {
		{ .method = "GET", .path = "/nkvm/stat", .reply = fake_reply(200, "OK", STAT_BETA) },
		{ .method = "PATCH", .path = "/vm", .reply = fake_reply(400, "Bad Request",
			"{\"fault_message\": \"the VM is not started\"}") },
	};
	struct fake_route rd[] = { { .method = "GET", .path = NULL, .reply = NULL } };
	char line[128], path[128], *save = NULL;
	struct out o;
	json_t *j;
	pid_t delta;
	int fd;

	run(cmd_list, &o, "list", NULL);
	is_int(o.status, 0, "list with no VMs: exit 0");
	ok(!strncmp(o.out, "NAME", 4) && one_line(o.out, "UPTIME"), "header only");

	alpha = fake_start("alpha", ra, 2, FAKE_TERM_EXITS);
	beta = fake_start("beta", rb, 2, FAKE_TERM_EXITS);
	/* the fakes have their copies */
	free((char *)ra[0].reply);
	free((char *)rb[0].reply);
	free((char *)rb[1].reply);
	fake_stale("gamma");
	fake_stale(".hidden");
	fake_path(path, sizeof(path), "notes", "txt");
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);

	run(cmd_list, &o, "list", NULL);
	is_int(o.status, 0, "list: exit 0");
	diag("list output:");
	diag_text(o.out);
	ok(has(o.out, "NAME ") && has(o.out, "PID") && has(o.out, "VCPUS") &&
	   has(o.out, "MEM") && has(o.out, "STATE") && has(o.out, "UPTIME"), "header");
	snprintf(line, sizeof(line), "alpha %8d     2   512M Running      01:15\n", alpha);
	ok(has(o.out, line), "alpha: SO_PEERCRED pid, 2 vCPUs, 512M, Running, 01:15");
	snprintf(line, sizeof(line), "beta  %8d     1     2G Paused       01:01:40\n", beta);
	ok(has(o.out, line), "beta: 1 vCPU, 2G, Paused, 01:01:40");
	ok(strstr(o.out, "alpha") < strstr(o.out, "beta"), "sorted by name");
	ok(!strstr(o.out, "gamma") && !strstr(o.out, "hidden") && !strstr(o.out, "notes"),
	   "no line for the stale socket, the bad name or the plain file");
	ok(!fake_exists("gamma"), "stale socket removed");
	ok(fake_exists(".hidden"), "a socket with an invalid name is not touched");
	ok(strtok_r(o.out, "\n", &save) && strtok_r(NULL, "\n", &save) &&
	   strtok_r(NULL, "\n", &save) && !strtok_r(NULL, "\n", &save), "exactly 3 lines");

	run(cmd_list, &o, "list", "--json", NULL);
	is_int(o.status, 0, "list --json: exit 0");
	j = json_loads(o.out, 0, NULL);
	ok(json_is_array(j) && json_array_size(j) == 2, "a JSON array of 2");
	is_str(json_string_value(json_object_get(json_array_get(j, 0), "name")), "alpha",
	       "[0].name");
	is_int(json_integer_value(json_object_get(json_array_get(j, 0), "pid")), alpha,
	       "[0].pid from SO_PEERCRED, not the JSON's 1");
	ok(json_real_value(json_object_get(json_array_get(j, 0), "uptime_s")) == 75.5,
	   "[0].uptime_s");
	is_str(json_string_value(json_object_get(json_array_get(j, 1), "state")), "Paused",
	       "[1].state");
	json_decref(j);

	delta = fake_start("delta", rd, 1, FAKE_TERM_EXITS);
	run(cmd_list, &o, "list", NULL);
	is_int(o.status, 1, "a VM that does not answer: exit 1");
	snprintf(line, sizeof(line), "delta %8d     -      - Unresponsive", delta);
	ok(has(o.out, line), "listed as Unresponsive with its pid");
	ok(has(o.out, "alpha") && has(o.out, "beta"), "the others still listed");
	ok(o.secs < 5, "within the 2 s budget per VM (%.1f s)", o.secs);
	fake_kill(delta);
	fake_path(path, sizeof(path), "delta", "sock");
	unlink(path);

	run(cmd_list, &o, "list", "extra", NULL);
	is_int(o.status, 2, "list extra: exit 2");
	ok(one_line(o.err, "unexpected argument 'extra'"), "one line");
	run(cmd_list, &o, "list", "--force", NULL);
	is_int(o.status, 2, "list --force: exit 2");
	run(cmd_list, &o, "list", "--help", NULL);
	ok(o.status == 0 && has(o.out, "usage: nkvm list") && has(o.out, "exit status"),
	   "list --help: usage with exit statuses");
}

static void test_pause_resume(void)
{
	struct out o;
	char *log;

	run(cmd_pause, &o, "pause", "alpha", NULL);
	ok(o.status == 0 && !o.out[0] && !o.err[0], "pause alpha: exit 0, quiet");
	run(cmd_resume, &o, "resume", "alpha", NULL);
	is_int(o.status, 0, "resume alpha: exit 0");
	log = fake_log("alpha");
	ok(has(log, "PATCH /vm HTTP/1.1\r\n") &&
	   has(log, "\r\n\r\n{\"state\": \"Paused\"}\n--\n"), "pause sent PATCH /vm Paused");
	ok(has(log, "\r\n\r\n{\"state\": \"Resumed\"}\n--\n") &&
	   strstr(log, "Paused") < strstr(log, "Resumed"), "then Resumed");
	free(log);

	run(cmd_pause, &o, "pause", "beta", NULL);
	is_int(o.status, 1, "pause refused by the VM: exit 1");
	ok(one_line(o.err, "the VM is not started") && has(o.err, "HTTP 400"),
	   "one line with the fault message");

	run(cmd_pause, &o, "pause", "nosuch", NULL);
	is_int(o.status, 2, "pause nosuch: exit 2");
	ok(one_line(o.err, "no VM named 'nosuch' is running"), "one line naming it");
	fake_stale("gone");
	run(cmd_resume, &o, "resume", "gone", NULL);
	is_int(o.status, 2, "resume of a VM whose nkvm died: exit 2");
	ok(one_line(o.err, "is gone"), "reported as gone");
	ok(fake_exists("gone"), "only list removes stale sockets");
	run(cmd_pause, &o, "pause", "bad/name", NULL);
	is_int(o.status, 2, "bad name: exit 2");
	ok(one_line(o.err, "'bad/name' is not a VM name"), "one line");
	run(cmd_pause, &o, "pause", NULL);
	ok(o.status == 2 && one_line(o.err, "which VM?"), "no name: exit 2");
	run(cmd_pause, &o, "pause", "alpha", "beta", NULL);
	ok(o.status == 2 && one_line(o.err, "one VM at a time"), "two names: exit 2");
	run(cmd_resume, &o, "resume", "--json", "alpha", NULL);
	ok(o.status == 2 && one_line(o.err, "unknown option '--json'"), "resume --json: exit 2");
	run(cmd_pause, &o, "pause", "-h", NULL);
	ok(o.status == 0 && has(o.out, "usage: nkvm pause NAME"), "pause -h: usage");
}

static void test_stat(void)
{
	struct fake_route rbad[] = { { .method = "GET", .path = "/nkvm/stat",
				       .reply = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n[1]" } };
	char line[64];
	struct out o;
	json_t *j;
	pid_t bad;

	run(cmd_stat, &o, "stat", "alpha", NULL);
	is_int(o.status, 0, "stat alpha: exit 0");
	diag("stat output:");
	diag_text(o.out);
	snprintf(line, sizeof(line), "pid:     %d\n", alpha);
	ok(has(o.out, "name:    alpha\n") && has(o.out, line), "name and SO_PEERCRED pid");
	ok(has(o.out, "state:   Running\n") && has(o.out, "uptime:  01:15\n") &&
	   has(o.out, "memory:  512M\n") && has(o.out, "vcpus:   2\n"), "state, uptime, memory");
	ok(has(o.out, "  vcpu 0: exits=1234 io=56 mmio=7\n") &&
	   has(o.out, "  vcpu 1: exits=10 io=0 mmio=0\n"), "per-vCPU counters");
	ok(has(o.out, "  com1 (serial): tx_bytes=99\n") &&
	   has(o.out, "  blk0 (virtio-blk): reads=3 writes=4\n"), "per-device counters");

	run(cmd_stat, &o, "stat", "alpha", "--json", NULL);
	j = json_loads(o.out, 0, NULL);
	ok(o.status == 0 && json_is_object(j), "stat --json: a JSON object");
	is_int(json_integer_value(json_object_get(json_array_get(json_object_get(j, "vcpus"), 0),
						  "exits")), 1234, "with the counters");
	json_decref(j);

	bad = fake_start("odd", rbad, 1, FAKE_TERM_EXITS);
	run(cmd_stat, &o, "stat", "odd", NULL);
	ok(o.status == 1 && one_line(o.err, "not JSON"), "stat answer not an object: exit 1");
	fake_kill(bad);
	run(cmd_stat, &o, "stat", "nosuch", NULL);
	is_int(o.status, 2, "stat nosuch: exit 2");
}

static void test_stop(void)
{
	static const char cad[] = "{\"action_type\": \"SendCtrlAltDel\"}";
	struct fake_route rok[] = { { .method = "PUT", .path = "/actions", .reply = no_content,
				      .exit_after = 1 } };
	struct fake_route rkbd[] = { { .method = "PUT", .path = "/actions",
		.reply = fake_reply(400, "Bad Request",
				    "{\"fault_message\": \"the guest has no keyboard driver\"}") } };
	struct fake_route rslow[] = { { .method = "PUT", .path = "/actions", .reply = no_content } };
	struct out o;
	pid_t p;
	char *log;

	p = fake_start("vm-cad", rok, 1, FAKE_TERM_EXITS);
	run(cmd_stop, &o, "stop", "vm-cad", NULL);
	is_int(o.status, 0, "stop, guest takes Ctrl-Alt-Del: exit 0");
	ok(has(o.out, "vm-cad: Ctrl-Alt-Del sent, waiting up to 10 s\n") &&
	   has(o.out, "vm-cad: stopped\n") && !o.err[0], "says so, nothing on stderr");
	log = fake_log("vm-cad");
	ok(has(log, "PUT /actions HTTP/1.1\r\n") && has(log, cad), "sent PUT /actions SendCtrlAltDel");
	free(log);
	ok(!fake_exists("vm-cad"), "socket gone");
	waitpid(p, NULL, 0);

	p = fake_start("vm-nokbd", rkbd, 1, FAKE_TERM_EXITS);
	free((char *)rkbd[0].reply);
	run(cmd_stop, &o, "stop", "vm-nokbd", NULL);
	is_int(o.status, 0, "stop, no keyboard driver: exit 0");
	ok(one_line(o.err, "the guest has no keyboard driver") && has(o.err, "SIGTERM"),
	   "one line: no keyboard driver, SIGTERM instead");
	ok(o.secs < 3, "SIGTERM at once (%.2f s)", o.secs);
	ok(!fake_exists("vm-nokbd"), "socket gone");
	waitpid(p, NULL, 0);

	p = fake_start("vm-slow", rslow, 1, FAKE_TERM_EXITS);
	run(cmd_stop, &o, "stop", "vm-slow", "--timeout", "1", NULL);
	is_int(o.status, 0, "stop --timeout 1, guest ignores Ctrl-Alt-Del: exit 0");
	ok(one_line(o.err, "still runs 1 s after Ctrl-Alt-Del"), "one line, then SIGTERM");
	ok(o.secs >= 0.9 && o.secs < 4, "after the timeout (%.2f s)", o.secs);
	waitpid(p, NULL, 0);

	p = fake_start("vm-stuck", rslow, 1, FAKE_TERM_IGNORED);
	run(cmd_stop, &o, "stop", "--force", "vm-stuck", NULL);
	is_int(o.status, 0, "stop --force, SIGTERM ignored: exit 0");
	ok(one_line(o.err, "SIGKILL"), "one line: SIGKILL after 3 s");
	ok(o.secs >= 2.9 && o.secs < 8, "after about 3 s (%.2f s)", o.secs);
	ok(!fake_exists("vm-stuck"), "the socket the killed VM left is removed");
	log = fake_log("vm-stuck");
	ok(!strstr(log, "PUT"), "--force sends no Ctrl-Alt-Del");
	free(log);
	waitpid(p, NULL, 0);

	run(cmd_stop, &o, "stop", "gone", NULL);
	ok(o.status == 2 && one_line(o.err, "is gone"), "stop of a dead VM: exit 2, gone");
	run(cmd_stop, &o, "stop", "nosuch", "--force", NULL);
	ok(o.status == 2 && one_line(o.err, "no VM named"), "stop --force nosuch: exit 2");
	run(cmd_stop, &o, "stop", "alpha", "--timeout", "ten", NULL);
	ok(o.status == 2 && one_line(o.err, "--timeout 'ten'"), "--timeout ten: exit 2");
	run(cmd_stop, &o, "stop", "alpha", "--timeout", NULL);
	ok(o.status == 2 && one_line(o.err, "needs a value"), "--timeout without value: exit 2");
	run(cmd_stop, &o, "stop", "--help", NULL);
	ok(o.status == 0 && has(o.out, "--force") && has(o.out, "keyboard"), "stop --help");
}

int main(void)
{
	fake_setup();
	test_list();
	test_pause_resume();
	test_stat();
	test_stop();
	fake_kill(alpha);
	fake_kill(beta);
	fake_cleanup();
	return done_testing();
}
