/* Unit tests for the control API without a VM: routing and the pre-boot
 * rules (api.c), the control socket's life (ctl_sock.c), and the real
 * HTTP server (api_server.c) on a unix socket fed good, truncated, huge
 * and malformed requests. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nkvm/api.h"
#include "nkvm/api_server.h"
#include "nkvm/ctl_sock.h"
#include "tap.h"

static char dir[] = "/tmp/t_api_server.XXXXXX";

static void set_path(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	if (n >= sizeof(sa->sun_path))
		n = sizeof(sa->sun_path) - 1;
	memcpy(sa->sun_path, path, n);
	sa->sun_path[n] = '\0';
}

static unsigned call(struct api *a, const char *m, const char *url, const char *body,
		     char *out, size_t outlen)
{
	struct api_resp r;

	api_handle(a, m, url, body, body ? strlen(body) : 0, &r);
	snprintf(out, outlen, "%s", r.body ? r.body : "");
	free(r.body);
	return r.status;
}

/* status and a substring of the body */
static void expect(struct api *a, const char *m, const char *url, const char *body,
		   unsigned status, const char *want)
{
	char out[1024];
	unsigned st = call(a, m, url, body, out, sizeof(out));

	ok(st == status && strstr(out, want), "%s %s -> %u", m, url, status);
	if (st != status || !strstr(out, want))
		diag("  got %u %s, want %u with \"%s\"", st, out, status, want);
}

static struct api *new_api(void)
{
	struct vm_spec s;
	char err[256];
	struct api *a;

	api_spec_init(&s);
	a = api_new("unit", &s, NULL, NULL, err, sizeof(err));
	if (!a)
		diag("api_new: %s", err);
	return a;
}

static void test_routes(void)
{
	struct api *a = new_api();
	struct vm_spec boot;

	expect(a, "GET", "/", NULL, 200, "\"state\":\"Not started\"");
	expect(a, "GET", "/", NULL, 200, "\"app_name\":\"nkvm\"");
	expect(a, "GET", "/version", NULL, 200, "firecracker_version");
	expect(a, "GET", "/machine-config", NULL, 200, "\"mem_size_mib\":128");
	expect(a, "GET", "/machine-config?x=1", NULL, 200, "\"vcpu_count\":1");
	expect(a, "PUT", "/machine-config", "{\"vcpu_count\":3,\"mem_size_mib\":300}", 204, "");
	expect(a, "GET", "/machine-config", NULL, 200, "\"vcpu_count\":3");
	expect(a, "PATCH", "/machine-config", "{\"mem_size_mib\":64}", 204, "");
	expect(a, "GET", "/vm/config", NULL, 200, "\"mem_size_mib\":64");
	expect(a, "PUT", "/machine-config", "{\"vcpu_count\":\"3\"}", 400, "fault_message");
	expect(a, "PUT", "/machine-config", NULL, 400, "body is empty");
	expect(a, "PUT", "/machine-config", "{\"vcpu_count\":", 400, "Invalid JSON body");
	expect(a, "PUT", "/machine-config", "{\"a\":1,\"a\":2}", 400, "Invalid JSON body");
	expect(a, "PUT", "/drives/", "{}", 400, "Invalid request method and/or path");
	expect(a, "PUT", "/drives/a/b", "{}", 400, "Invalid request method and/or path");
	expect(a, "PUT", "/drives/a", "{\"drive_id\":\"b\",\"path_on_host\":\"/x\",\"is_root_device\":false}",
	       400, "does not match");
	expect(a, "DELETE", "/vm", NULL, 400, "Invalid request method and/or path: DELETE /vm.");
	expect(a, "GET", "/actions", NULL, 400, "Invalid request method");
	expect(a, "GET", "/balloon", NULL, 400, "GET /balloon: not supported by nkvm");
	expect(a, "PUT", "/balloon/statistics", "{}", 400, "not supported by nkvm");
	expect(a, "PUT", "/snapshot/create", "{}", 400, "not supported by nkvm");
	expect(a, "PUT", "/mmds/config", "{}", 400, "not supported by nkvm");
	expect(a, "PUT", "/pmem/x", "{}", 400, "not supported by nkvm");
	expect(a, "GET", "/balloonx", NULL, 400, "Invalid request method");
	expect(a, "PATCH", "/network-interfaces/eth0", "{}", 400, "rate limiters");
	expect(a, "GET", "relative", NULL, 400, "Invalid request path");
	expect(a, "PATCH", "/vm", "{\"state\":\"Paused\"}", 400, "before starting the microVM");
	expect(a, "PATCH", "/drives/x", "{\"drive_id\":\"x\"}", 400, "before starting the microVM");
	expect(a, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", 400, "before starting");
	expect(a, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", 400, "not initialized");
	expect(a, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 400, "without kernel");
	expect(a, "PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"/tmp/v\"}", 204, "");
	expect(a, "GET", "/vm/config", NULL, 200, "\"guest_cid\":3");
	expect(a, "PUT", "/entropy", "{}", 204, "");
	expect(a, "PUT", "/logger", "{\"level\":\"Warning\"}", 204, "");
	expect(a, "PUT", "/logger", "{\"log_path\":\"/nonexistent/log\"}", 400, "No such file");
	expect(a, "PUT", "/metrics", "{\"metrics_path\":\"/nonexistent/m\"}", 400, "No such file");
	expect(a, "GET", "/nkvm/stat", NULL, 200, "\"state\":\"Not started\"");
	expect(a, "GET", "/nkvm/stat", NULL, 200, "\"vcpus\":[]");

	/* once a start is asked for, pre-boot requests are refused */
	api_request_start(a);
	is_int(api_take_start(a, &boot), 0, "a start request hands out the spec");
	is_int(boot.cpus, 3, "  a copy of it");
	vm_spec_free(&boot);
	expect(a, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128}", 400,
	       "not supported after starting the microVM");
	expect(a, "PUT", "/boot-source", "{\"kernel_image_path\":\"/x\"}", 400, "after starting");
	expect(a, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 400, "after starting");
	api_shutdown(a);
	is_int(api_take_start(a, &boot), -EAGAIN, "after shutdown: no start");
	api_free(a);
}

static void test_metrics_logger(void)
{
	char path[256], log[256], body[600], buf[4096];
	struct api *a = new_api();
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/metrics", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	if (mkfifo(path, 0600) < 0 || (fd = open(path, O_RDONLY | O_NONBLOCK)) < 0) {
		ok(0, "fifo");
		return;
	}
	close(open(log, O_CREAT | O_WRONLY, 0600));
	snprintf(body, sizeof(body), "{\"metrics_path\":\"%s\",\"emit_id\":true}", path);
	expect(a, "PUT", "/metrics", body, 204, "");
	expect(a, "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", 204, "");
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	ok(n > 0 && buf[n - 1] == '\n' && strstr(buf, "{\"utc_timestamp_ms\":") == buf &&
	   strstr(buf, "\"id\":\"unit\"") && !strchr(buf, '\n')[1], "metrics: one JSON line");
	close(fd);
	snprintf(body, sizeof(body), "{\"log_path\":\"%s\",\"show_level\":true}", log);
	expect(a, "PUT", "/logger", body, 204, "");
	log_warn("hello from the test");
	log_debug("not at Info");
	fd = open(log, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[n > 0 ? n : 0] = '\0';
	ok(strstr(buf, "[unit:main:WARN] hello from the test\n") && !strstr(buf, "not at Info"),
	   "logger: Firecracker-style line at the level asked for");
	if (fd >= 0)
		close(fd);
	api_free(a);
	ok(log_sink == NULL, "logger: detached when the API goes");
}

static void test_ctl_sock(void)
{
	struct ctl_sock c, d;
	char path[256], err[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	is_int(ctl_sock_open(&c, path, err, sizeof(err)), 0, "ctl_sock: bound");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "  mode 0600");
	is_int(ctl_sock_open(&d, path, err, sizeof(err)), -EADDRINUSE, "  a live socket is refused");
	ok(strstr(err, "name in use") != NULL, "  saying the name is in use");
	ctl_sock_close(&c);
	ok(stat(path, &st) < 0, "  removed at close");
	/* a socket whose owner died */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	set_path(&sa, path);
	ok(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "  a stale socket made");
	close(fd);
	is_int(ctl_sock_open(&c, path, err, sizeof(err)), 0, "  a stale socket is taken over");
	/* a new socket at the path since: not ours to remove */
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ok(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "  someone else's socket at the path");
	ctl_sock_close(&c);
	ok(stat(path, &st) == 0, "  left alone at close");
	close(fd);
	unlink(path);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	is_int(ctl_sock_open(&c, path, err, sizeof(err)), -EEXIST, "  a regular file at the path: refused");
	ok(stat(path, &st) == 0 && S_ISREG(st.st_mode), "  and kept");
	unlink(path);
	memset(path, 'x', 200);
	path[200] = '\0';
	is_int(ctl_sock_open(&c, path, err, sizeof(err)), -ENAMETOOLONG, "  a path too long");
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	set_path(&sa, path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send req (len bytes; 0 = strlen), half-close unless keep_open, read
 * the answer (up to 5 s). */
static size_t exchange(const char *path, const char *req, size_t len, bool keep_open,
		       char *out, size_t outlen)
{
	struct pollfd p;
	size_t got = 0;
	ssize_t n;
	int fd = connect_to(path);

	out[0] = '\0';
	if (fd < 0)
		return 0;
	len = len ? len : strlen(req);
	while (len) {
		n = write(fd, req, len);
		if (n <= 0)
			break;
		req += n;
		len -= (size_t)n;
	}
	if (!keep_open)
		shutdown(fd, SHUT_WR);
	p.fd = fd;
	p.events = POLLIN;
	while (got < outlen - 1 && poll(&p, 1, 5000) == 1) {
		n = read(fd, out + got, outlen - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (keep_open && strstr(out, "\r\n\r\n"))
			break;
		out[got] = '\0';
	}
	out[got] = '\0';
	close(fd);
	return got;
}

static void test_server(void)
{
	char path[256], err[256], out[8192], *big;
	struct api_server *srv = NULL;
	struct ctl_sock c;
	struct api *a = new_api();
	size_t n;
	int i, fds[20];

	snprintf(path, sizeof(path), "%s/api.sock", dir);
	if (ctl_sock_open(&c, path, err, sizeof(err)) < 0 || api_server_start(&srv, a, c.fd) < 0) {
		ok(0, "server start: %s", err);
		return;
	}
	exchange(path, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, false, out, sizeof(out));
	ok(!strncmp(out, "HTTP/1.1 200", 12) && strstr(out, "application/json") &&
	   strstr(out, "\"id\":\"unit\""), "server: GET / answered");
	exchange(path, "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 35\r\n\r\n"
		 "{\"vcpu_count\":2,\"mem_size_mib\":256}", 0, false, out, sizeof(out));
	ok(!strncmp(out, "HTTP/1.1 204", 12), "server: PUT with a body: 204");
	exchange(path, "PUT /machine-config HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "10\r\n{\"vcpu_count\":4,\r\n13\r\n\"mem_size_mib\":256}\r\n0\r\n\r\n", 0, false, out, sizeof(out));
	ok(!strncmp(out, "HTTP/1.1 204", 12), "server: chunked body: 204");
	exchange(path, "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{\"vcp",
		 0, false, out, sizeof(out));
	ok(!strncmp(out, "HTTP/1.1 400", 12) && strstr(out, "fault_message"), "server: bad JSON: 400");
	n = exchange(path, "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"v",
		     0, false, out, sizeof(out));
	ok(n == 0 || !strncmp(out, "HTTP/1.1 4", 10), "server: truncated body: closed or 4xx");
	exchange(path, "PUT /boot-source HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n",
		 0, true, out, sizeof(out));
	ok(!strncmp(out, "HTTP/1.1 413", 12), "server: Content-Length 10 MB: 413 before the body");
	big = malloc(100000);
	if (big) {
		memset(big, 'x', 100000);
		n = (size_t)snprintf(big, 200, "PUT /boot-source HTTP/1.1\r\nHost: x\r\n"
				     "Transfer-Encoding: chunked\r\n\r\n%x\r\n", 80000);
		big[n] = 'x';
		memcpy(big + n + 80000, "\r\n0\r\n\r\n", 7);
		exchange(path, big, n + 80007, false, out, sizeof(out));
		ok(!strncmp(out, "HTTP/1.1 413", 12), "server: 80 kB chunked body: 413");
		free(big);
	}
	n = exchange(path, "\x01\x02\x03 garbage\r\n\r\n", 0, false, out, sizeof(out));
	ok(n == 0 || !strncmp(out, "HTTP/1.1 4", 10), "server: binary garbage: closed or 4xx");
	exchange(path, "GET / HTTP/1.1\r\nHost: x\r\nX-Long: ", 0, false, out, sizeof(out));
	ok(1, "server: header cut short survives");
	/* hold more connections than the limit open, idle */
	for (i = 0; i < 20; i++)
		fds[i] = connect_to(path);
	for (i = 0; i < 20; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	usleep(100000);
	exchange(path, "GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n", 0, false, out, sizeof(out));
	ok(!strncmp(out, "HTTP/1.1 200", 12) && strstr(out, "\"vcpu_count\":4"),
	   "server: still serving after all that, with the chunked PUT applied");
	api_shutdown(a);
	api_server_stop(srv);
	ctl_sock_close(&c);
	api_free(a);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_routes();
	test_metrics_logger();
	test_ctl_sock();
	test_server();
	rmdir(dir);
	return done_testing();
}
