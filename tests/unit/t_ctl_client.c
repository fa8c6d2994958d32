/*
 * Unit tests for the control client (ctl_client.c) against fake servers
 * (t_ctl_fake.h): requests on the wire, answers good and bad (malformed,
 * truncated, oversized, not JSON, slow, dribbling, silent), missing and
 * stale sockets, bad names, an unsafe directory, a server of another uid.
 */
#include <pwd.h>

#include "nkvm/ctl_client.h"
#include "nkvm/ctl_dir.h"
#include "nkvm/http_resp.h"
#include "t_ctl_fake.h"

#define JSON_200(body) "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
	"Content-Length: " #body "\r\n\r\n"

#define R(p, r) { .method = "GET", .path = (p), .reply = (r) }

static const char root_json[] = "{\"id\": \"vm1\", \"state\": \"Running\", "
				"\"vmm_version\": \"0.1\", \"app_name\": \"nkvm\"}";
static char root_reply[256];

static int call(const char *name, const char *method, const char *path, const char *body,
		int timeout_ms, struct ctl_reply *rep)
{
	return ctl_call(name, method, path, body, timeout_ms, rep);
}

static void test_requests(void)
{
	struct fake_route routes[] = {
		{ .method = "GET", .path = "/", .reply = root_reply },
		{ .method = "PATCH", .path = "/vm", .reply = "HTTP/1.1 204 No Content\r\n\r\n" },
		{ .method = "PUT", .path = "/actions",
		  .reply = fake_reply(400, "Bad Request",
				      "{\"fault_message\": \"no keyboard driver in guest\"}") },
	};
	struct ctl_reply rep;
	pid_t pid;
	char *log;

	snprintf(root_reply, sizeof(root_reply), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(root_json), root_json);
	pid = fake_start("vm1", routes, 3, FAKE_TERM_EXITS);

	is_int(call("vm1", "GET", "/", NULL, 2000, &rep), 0, "GET / answered");
	is_int(rep.status, 200, "status 200");
	is_str(json_string_value(json_object_get(rep.json, "id")), "vm1", "JSON body parsed");
	is_int(rep.peer.pid, pid, "pid from SO_PEERCRED is the server's");
	ok(rep.peer.pidfd >= 0, "a pidfd for it");
	ctl_reply_free(&rep);
	is_int(rep.peer.pidfd, -1, "ctl_reply_free closes the pidfd");

	is_int(call("vm1", "PATCH", "/vm", "{\"state\": \"Paused\"}", 2000, &rep), 0, "PATCH");
	is_int(rep.status, 204, "204");
	ok(rep.json == NULL, "no body, no JSON");
	ctl_reply_free(&rep);

	is_int(call("vm1", "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 2000, &rep),
	       0, "PUT /actions answered");
	is_int(rep.status, 400, "400");
	is_str(ctl_fault(&rep), "no keyboard driver in guest", "fault_message");
	ctl_reply_free(&rep);

	log = fake_log("vm1");
	ok(strstr(log, "GET / HTTP/1.1\r\nHost: localhost\r\n") == log,
	   "request line and Host header");
	ok(strstr(log, "Connection: close\r\n") != NULL, "Connection: close");
	ok(strstr(log, "PATCH /vm HTTP/1.1\r\n") &&
	   strstr(log, "Content-Type: application/json\r\nContent-Length: 19\r\n\r\n"
		       "{\"state\": \"Paused\"}\n--\n"), "PATCH body with its exact Content-Length");
	ok(strstr(log, "\r\n\r\n{\"action_type\": \"SendCtrlAltDel\"}\n--\n") != NULL,
	   "SendCtrlAltDel body");
	free(log);

	is_int(call("vm1", "GET", "/nope", NULL, 2000, &rep), 0, "unknown path answered");
	is_int(rep.status, 404, "404 passed through");
	ctl_reply_free(&rep);
	fake_kill(pid);
	free((char *)routes[2].reply);
}

static void test_bad_answers(void)
{
	static char huge[HTTP_RESP_MAX + 200];
	struct fake_route routes[] = {
		R("/malformed", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}"),
		R("/truncated", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":"),
		R("/oversized", "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n{}"),
		R("/endless", huge),
		R("/notjson", JSON_200(5) "hello"),
		{ .method = "GET", .path = "/nul", .reply = JSON_200(7) "{\"a\":\0}",
		  .reply_len = sizeof(JSON_200(7)) - 1 + 7 },
		R("/dup", JSON_200(13) "{\"a\":1,\"a\":2}"),
		{ .method = "GET", .path = "/slow", .reply = JSON_200(2) "{}", .delay_ms = 1500 },
		{ .method = "GET", .path = "/dribble", .reply = JSON_200(2) "{}", .dribble_ms = 40 },
		R("/silent", NULL),
		R("/closes", ""),
		R("/chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "2\r\n{}\r\n0\r\n\r\n"),
	};
	static const struct { const char *path; int want; const char *what; } cases[] = {
		{ "/malformed", -EPROTO, "bad Content-Length" },
		{ "/truncated", -EPROTO, "body cut short" },
		{ "/oversized", -EMSGSIZE, "Content-Length over 1 MiB" },
		{ "/endless", -EMSGSIZE, "no length, more than 1 MiB" },
		{ "/notjson", -EBADMSG, "body not JSON" },
		{ "/dup", -EBADMSG, "duplicate JSON keys" },
		{ "/chunked", -EPROTO, "chunked encoding" },
		{ "/closes", -EPROTO, "closed without an answer" },
	};
	struct ctl_reply rep;
	double t0;
	size_t i;
	pid_t pid;

	memset(huge, 'x', sizeof(huge) - 1);
	memcpy(huge, "HTTP/1.1 200 OK\r\nX: y\r\n\r\n", 25);
	pid = fake_start("bad", routes, sizeof(routes) / sizeof(routes[0]), FAKE_TERM_EXITS);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(call("bad", "GET", cases[i].path, NULL, 3000, &rep), cases[i].want,
		       "%s: %s", cases[i].what, ctl_strerror(cases[i].want));
		ctl_reply_free(&rep);
	}
	is_int(call("bad", "GET", "/nul", NULL, 3000, &rep), -EBADMSG, "NUL inside the JSON");
	ctl_reply_free(&rep);

	t0 = fake_now();
	is_int(call("bad", "GET", "/slow", NULL, 500, &rep), -ETIMEDOUT, "slow answer: timeout");
	ok(fake_now() - t0 < 1.4, "... after about 0.5 s (%.2f s)", fake_now() - t0);
	ctl_reply_free(&rep);
	t0 = fake_now();
	is_int(call("bad", "GET", "/dribble", NULL, 500, &rep), -ETIMEDOUT,
	       "a byte every 40 ms (3 s in all): the deadline covers the whole answer");
	ok(fake_now() - t0 < 1.4, "... after about 0.5 s (%.2f s)", fake_now() - t0);
	ctl_reply_free(&rep);
	t0 = fake_now();
	is_int(call("bad", "GET", "/silent", NULL, 300, &rep), -ETIMEDOUT, "silent server");
	ok(fake_now() - t0 < 1.2, "... after about 0.3 s (%.2f s)", fake_now() - t0);
	ctl_reply_free(&rep);
	is_int(call("bad", "GET", "/slow", NULL, 3000, &rep), 0, "slow but within the budget");
	ctl_reply_free(&rep);
	fake_kill(pid);
}

static void test_sockets(void)
{
	struct ctl_reply rep;
	char path[128];

	is_int(call("nosuch", "GET", "/", NULL, 1000, &rep), -ENOENT, "no such VM: -ENOENT");
	ctl_reply_free(&rep);
	fake_stale("dead");
	is_int(call("dead", "GET", "/", NULL, 1000, &rep), -ECONNREFUSED, "stale socket: -ECONNREFUSED");
	ok(rep.peer.pid == 0 && rep.peer.pidfd == -1, "no peer for a stale socket");
	ctl_reply_free(&rep);
	ok(fake_exists("dead"), "ctl_call leaves a stale socket alone");
	fake_path(path, sizeof(path), "dead", "sock");
	is_int(ctl_remove_stale(path), 1, "ctl_remove_stale removes it");
	ok(!fake_exists("dead"), "... gone");
	is_int(ctl_remove_stale(path), 0, "absent: nothing to do");

	is_int(call("../x", "GET", "/", NULL, 1000, &rep), -EINVAL, "bad name: -EINVAL");
	ctl_reply_free(&rep);
	is_int(call("", "GET", "/", NULL, 1000, &rep), -EINVAL, "empty name: -EINVAL");
	ctl_reply_free(&rep);

	chmod(fake_dir, 0755);
	is_int(call("nosuch", "GET", "/", NULL, 1000, &rep), -EPERM,
	       "control directory open to others: -EPERM");
	ctl_reply_free(&rep);
	chmod(fake_dir, 0700);

	ok(ctl_peer_trusted(1000, 1000), "same uid trusted");
	ok(!ctl_peer_trusted(0, 1000), "root's server not trusted by a user");
	ok(!ctl_peer_trusted(1001, 1000), "another user's server not trusted");
	ok(ctl_peer_trusted(1000, 0), "root trusts any server");
}

/* As root: a process running as nobody, with its own control directory,
 * connects to a socket root serves there: the connection works, the
 * server's uid is refused. */
static void test_other_uid(void)
{
	struct fake_route routes[] = { R("/", "HTTP/1.1 204 No Content\r\n\r\n") };
	struct passwd *pw = getpwnam("nobody");
	char xdg[80], dir[90], sock[100];
	pid_t srv, child;
	int st = -1;

	if (geteuid() != 0 || !pw) {
		ok(1, "# SKIP another uid needs root and a 'nobody' user");
		return;
	}
	snprintf(xdg, sizeof(xdg), "%s/other", fake_xdg);
	snprintf(dir, sizeof(dir), "%s/nkvm", xdg);
	snprintf(sock, sizeof(sock), "%s/vm.sock", dir);
	if (mkdir(xdg, 0700) || mkdir(dir, 0700) || chown(xdg, pw->pw_uid, pw->pw_gid) ||
	    chown(dir, pw->pw_uid, pw->pw_gid) || chmod(fake_xdg, 0711)) {
		ok(0, "set up a directory for nobody: %s", strerror(errno));
		return;
	}
	/* root serves vm.sock inside nobody's directory */
	{
		char saved[sizeof(fake_dir)];

		memcpy(saved, fake_dir, sizeof(saved));
		snprintf(fake_dir, sizeof(fake_dir), "%s", dir);
		srv = fake_start("vm", routes, 1, FAKE_TERM_EXITS);
		memcpy(fake_dir, saved, sizeof(saved));
	}
	chmod(sock, 0777);
	child = fork();
	if (child == 0) {
		struct ctl_reply rep;
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd, r;

		setenv("XDG_RUNTIME_DIR", xdg, 1);
		if (setgid(pw->pw_gid) || setuid(pw->pw_uid))
			_exit(10);
		/* the socket itself is reachable ... */
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			_exit(11);
		close(fd);
		/* ... but its server is not ours */
		r = ctl_call("vm", "GET", "/", NULL, 1000, &rep);
		ctl_reply_free(&rep);
		_exit(r == -EACCES ? 0 : 12);
	}
	waitpid(child, &st, 0);
	is_int(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0,
	       "a server of another uid is refused (-EACCES) though connect works");
	fake_kill(srv);
	chmod(fake_xdg, 0700);
}

int main(void)
{
	fake_setup();
	test_requests();
	test_bad_answers();
	test_sockets();
	test_other_uid();
	fake_cleanup();
	return done_testing();
}
