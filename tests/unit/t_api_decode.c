/* Unit tests for the API's request decoders and config files
 * (api_decode.c, api_json.c, api_config.c): every schema with good input,
 * wrong types, missing required fields, unknown fields and bad values;
 * a refused body must leave the spec unchanged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nkvm/api_config.h"
#include "nkvm/api_decode.h"
#include "tap.h"

static char dir[] = "/tmp/t_api_decode.XXXXXX";
static char kernel[256], disk[256], disk2[256];

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		diag("bad test JSON: %s: %s", text, e.text);
	return j;
}

/* text must be refused with a message holding `want`, spec unchanged. */
static void bad(api_spec_dec_fn f, const char *id, const char *text, const char *want)
{
	struct vm_spec s, before;
	char err[512] = "";
	json_t *j = js(text);
	int r;

	api_spec_init(&s);
	if (vm_spec_copy(&before, &s) < 0)
		return;
	r = f(j, id, &s, err, sizeof(err));
	ok(r < 0 && strstr(err, want), "refused: %s", text);
	if (r >= 0 || !strstr(err, want))
		diag("  r=%d err=\"%s\", want \"%s\"", r, err, want);
	ok(s.cpus == before.cpus && s.mem == before.mem && !s.kernel && s.dev.nr_disks == 0 &&
	   s.dev.nr_nets == 0 && !s.vsock.set && !s.dev.rng, "  spec unchanged");
	json_decref(j);
	vm_spec_free(&s);
	vm_spec_free(&before);
}

static void test_boot_source(void)
{
	struct vm_spec s;
	char text[1024], err[512];
	json_t *j;

	api_spec_init(&s);
	snprintf(text, sizeof(text), "{\"kernel_image_path\":\"%s\",\"boot_args\":\"console=ttyS0 quiet\","
		 "\"initrd_path\":\"%s\"}", kernel, disk);
	j = js(text);
	is_int(api_dec_boot_source(j, NULL, &s, err, sizeof(err)), 0, "boot-source: accepted");
	is_str(s.kernel, kernel, "  kernel");
	is_str(s.boot_args, "console=ttyS0 quiet", "  boot_args");
	json_decref(j);
	{
		char *c = vm_spec_cmdline(&s, "pvmarg", "virtio_mmio.device=4K@0xd0000000:5");

		is_str(c, "console=ttyS0 quiet pvmarg virtio_mmio.device=4K@0xd0000000:5",
		       "  boot_args replace nkvm's base; host and device parameters follow");
		free(c);
		s.base_and_args = true;
		c = vm_spec_cmdline(&s, NULL, "");
		is_str(c, "console=ttyS0 " VM_SPEC_BASE_CMDLINE " console=ttyS0 quiet",
		       "  nkvm_default_args: nkvm's base first");
		free(c);
	}
	vm_spec_free(&s);

	bad(api_dec_boot_source, NULL, "[]", "expected a JSON object");
	bad(api_dec_boot_source, NULL, "{}", "missing field 'kernel_image_path'");
	bad(api_dec_boot_source, NULL, "{\"kernel_image_path\":5}", "expected a string");
	bad(api_dec_boot_source, NULL, "{\"kernel_image_path\":\"/nonexistent/k\"}", "No such file");
	bad(api_dec_boot_source, NULL, "{\"kernel_image_path\":\"/tmp\"}", "not a regular file");
	snprintf(text, sizeof(text), "{\"kernel_image_path\":\"%s\",\"bogus\":1}", kernel);
	bad(api_dec_boot_source, NULL, text, "unknown field 'bogus'");
	snprintf(text, sizeof(text), "{\"kernel_image_path\":\"%s\",\"boot_args\":[]}", kernel);
	bad(api_dec_boot_source, NULL, text, "field 'boot_args': expected a string");
	snprintf(text, sizeof(text), "{\"kernel_image_path\":\"%s\",\"initrd_path\":\"/nope\"}", kernel);
	bad(api_dec_boot_source, NULL, text, "initrd_path '/nope'");
	snprintf(text, sizeof(text), "{\"kernel_image_path\":\"%s\",\"nkvm_default_args\":\"yes\"}", kernel);
	bad(api_dec_boot_source, NULL, text, "expected true or false");
}

static void test_machine_config(void)
{
	struct vm_spec s;
	char err[512];
	json_t *j;

	api_spec_init(&s);
	is_int(s.mem >> 20, API_DEFAULT_MEM_MIB, "machine-config: Firecracker's default memory");
	j = js("{\"vcpu_count\":2,\"mem_size_mib\":511,\"smt\":false,\"cpu_template\":\"None\","
	       "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}");
	is_int(api_dec_machine_config_put(j, NULL, &s, err, sizeof(err)), 0, "PUT accepted");
	is_int(s.cpus, 2, "  vcpu_count");
	is_int(s.mem >> 20, 512, "  memory rounded up to 2 MiB");
	json_decref(j);
	j = js("{\"vcpu_count\":4}");
	is_int(api_dec_machine_config_patch(j, NULL, &s, err, sizeof(err)), 0, "PATCH with one field");
	is_int(s.cpus, 4, "  vcpu_count changed");
	is_int(s.mem >> 20, 512, "  memory kept");
	json_decref(j);
	j = js("{\"mem_size_mib\":1024}");
	ok(api_dec_machine_config_put(j, NULL, &s, err, sizeof(err)) < 0 &&
	   strstr(err, "missing field 'vcpu_count'"), "PUT needs vcpu_count");
	json_decref(j);
	vm_spec_free(&s);

	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":1}", "missing field 'mem_size_mib'");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":0,\"mem_size_mib\":128}", "'vcpu_count': expected an integer from 1 to 256");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":257,\"mem_size_mib\":128}", "from 1 to 256");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":-1,\"mem_size_mib\":128}", "vcpu_count");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":1.5,\"mem_size_mib\":128}", "vcpu_count");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":\"2\",\"mem_size_mib\":128}", "vcpu_count");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":1,\"mem_size_mib\":32}", "mem_size_mib");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":1,\"mem_size_mib\":99999999999999}", "mem_size_mib");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":true}", "'smt': only false");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":1}", "'smt': expected true or false");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":1,\"mem_size_mib\":128,\"track_dirty_pages\":true}", "track_dirty_pages");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":1,\"mem_size_mib\":128,\"cpu_template\":\"T2\"}", "only \"None\"");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":1,\"mem_size_mib\":128,\"huge_pages\":\"2M\"}", "huge_pages");
	bad(api_dec_machine_config_put, NULL, "{\"vcpu_count\":1,\"mem_size_mib\":128,\"vcpus\":2}", "unknown field 'vcpus'");
	bad(api_dec_machine_config_patch, NULL, "{\"vcpu_count\":\"x\"}", "vcpu_count");
	bad(api_dec_machine_config_patch, NULL, "{\"mem_size_mib\":true}", "mem_size_mib");
}

static void test_drives(void)
{
	struct vm_spec s;
	char text[1024], err[512];
	json_t *j;

	api_spec_init(&s);
	snprintf(text, sizeof(text), "{\"drive_id\":\"data\",\"path_on_host\":\"%s\","
		 "\"is_root_device\":false,\"is_read_only\":true,\"cache_type\":\"Unsafe\","
		 "\"io_engine\":\"Async\",\"rate_limiter\":null}", disk);
	j = js(text);
	is_int(api_dec_drive(j, "data", &s, err, sizeof(err)), 0, "drive: accepted");
	json_decref(j);
	snprintf(text, sizeof(text), "{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\","
		 "\"is_root_device\":true,\"partuuid\":\"abcd-01\"}", disk2);
	j = js(text);
	is_int(api_dec_drive(j, "rootfs", &s, err, sizeof(err)), 0, "root drive: accepted");
	json_decref(j);
	is_int(s.dev.nr_disks, 2, "  two drives");
	is_str(s.disk_id[0], "rootfs", "  the root drive is first (/dev/vda)");
	is_str(s.disk_id[1], "data", "  then the others in order");
	ok(s.dev.disk[1].ro && !s.dev.disk[0].ro, "  is_read_only");
	is_int(s.root_disk, 0, "  root index");
	is_str(s.root_args, "root=PARTUUID=abcd-01 rw", "  root= from partuuid");
	snprintf(text, sizeof(text), "{\"drive_id\":\"data\",\"path_on_host\":\"%s\","
		 "\"is_root_device\":false}", disk2);
	j = js(text);
	is_int(api_dec_drive(j, "data", &s, err, sizeof(err)), 0, "PUT again replaces");
	json_decref(j);
	is_int(s.dev.nr_disks, 2, "  still two drives");
	is_str(s.dev.disk[1].path, disk2, "  new path");
	snprintf(text, sizeof(text), "{\"drive_id\":\"other\",\"path_on_host\":\"%s\","
		 "\"is_root_device\":true}", disk);
	j = js(text);
	ok(api_dec_drive(j, "other", &s, err, sizeof(err)) < 0 &&
	   strstr(err, "A root block device already exists"), "second root drive refused");
	json_decref(j);
	{
		const char *p;

		j = js("{\"drive_id\":\"data\"}");
		ok(api_dec_partial_drive(j, "data", &p, err, sizeof(err)) == 0 && !p,
		   "partial drive without a path: nothing to do");
		json_decref(j);
		snprintf(text, sizeof(text), "{\"drive_id\":\"data\",\"path_on_host\":\"%s\"}", disk);
		j = js(text);
		ok(api_dec_partial_drive(j, "data", &p, err, sizeof(err)) == 0 && p && !strcmp(p, disk),
		   "partial drive: new path");
		ok(api_dec_partial_drive(j, "x", &p, err, sizeof(err)) < 0 &&
		   strstr(err, "does not match"), "partial drive: path id must match");
		json_decref(j);
		j = js("{\"drive_id\":\"data\",\"path_on_host\":\"/nope\"}");
		ok(api_dec_partial_drive(j, "data", &p, err, sizeof(err)) < 0, "partial drive: missing file");
		json_decref(j);
		j = js("{\"drive_id\":\"data\",\"is_read_only\":true}");
		ok(api_dec_partial_drive(j, "data", &p, err, sizeof(err)) < 0 &&
		   strstr(err, "unknown field"), "partial drive: unknown field");
		json_decref(j);
	}
	vm_spec_free(&s);

	snprintf(text, sizeof(text), "{\"drive_id\":\"d\",\"path_on_host\":\"%s\",\"is_root_device\":false}", disk);
	bad(api_dec_drive, "e", text, "does not match");
	bad(api_dec_drive, "d", "{\"drive_id\":\"d\",\"is_root_device\":false}", "missing field 'path_on_host'");
	bad(api_dec_drive, "d", "{\"drive_id\":\"d\",\"path_on_host\":\"/x\"}", "missing field 'is_root_device'");
	bad(api_dec_drive, "d", "{\"drive_id\":\"d\",\"path_on_host\":\"/nonexistent\",\"is_root_device\":false}",
	    "No such file");
	bad(api_dec_drive, "d/x", "{\"drive_id\":\"d/x\",\"path_on_host\":\"/x\",\"is_root_device\":false}",
	    "A-Z a-z 0-9 _");
	snprintf(text, sizeof(text), "{\"drive_id\":\"d\",\"path_on_host\":\"%s\",\"is_root_device\":false,"
		 "\"socket\":\"/tmp/vhost\"}", disk);
	bad(api_dec_drive, "d", text, "vhost-user");
	snprintf(text, sizeof(text), "{\"drive_id\":\"d\",\"path_on_host\":\"%s\",\"is_root_device\":false,"
		 "\"cache_type\":\"Fast\"}", disk);
	bad(api_dec_drive, "d", text, "cache_type");
	snprintf(text, sizeof(text), "{\"drive_id\":\"d\",\"path_on_host\":\"%s\",\"is_root_device\":false,"
		 "\"io_engine\":\"Turbo\"}", disk);
	bad(api_dec_drive, "d", text, "io_engine");
	snprintf(text, sizeof(text), "{\"drive_id\":\"d\",\"path_on_host\":\"%s\",\"is_root_device\":false,"
		 "\"rate_limiter\":{\"bandwidth\":{\"size\":1,\"refill_time\":1}}}", disk);
	bad(api_dec_drive, "d", text, "rate limiters are not supported");
	snprintf(text, sizeof(text), "{\"drive_id\":\"d\",\"path_on_host\":\"%s\",\"is_root_device\":\"no\"}", disk);
	bad(api_dec_drive, "d", text, "expected true or false");
}

static void test_net(void)
{
	struct vm_spec s;
	char err[512];
	json_t *j;

	api_spec_init(&s);
	ok(s.dev.net_none, "net: no NIC unless one is PUT");
	j = js("{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"06:00:ac:10:00:02\"}");
	is_int(api_dec_net(j, "eth0", &s, err, sizeof(err)), 0, "tap interface accepted");
	json_decref(j);
	j = js("{\"iface_id\":\"eth1\",\"nkvm_net\":\"user,hostfwd=tcp::2222-:22\"}");
	is_int(api_dec_net(j, "eth1", &s, err, sizeof(err)), 0, "nkvm_net user interface accepted");
	json_decref(j);
	is_int(s.dev.nr_nets, 2, "  two NICs");
	ok(!s.dev.net_none, "  net_none cleared");
	ok(s.dev.net[0].kind == NET_TAP && !strcmp(s.dev.net[0].ifname, "tap0"), "  tap0");
	ok(s.dev.net[0].mac_set && s.dev.net[0].mac[5] == 2, "  guest_mac");
	ok(s.dev.net[1].kind == NET_USER && s.dev.net[1].nr_fwd == 1, "  user with a hostfwd");
	vm_spec_free(&s);

	bad(api_dec_net, "eth0", "{\"iface_id\":\"eth0\"}", "missing field 'host_dev_name'");
	bad(api_dec_net, "eth0", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap0\"}", "does not match");
	bad(api_dec_net, "eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"a-very-long-tap-name-x\"}",
	    "longer than 15");
	bad(api_dec_net, "eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"01:00:00:00:00:01\"}",
	    "guest_mac");
	bad(api_dec_net, "eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"mtu\":9000}", "mtu");
	bad(api_dec_net, "eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"nkvm_net\":\"user\"}",
	    "not both");
	bad(api_dec_net, "eth0", "{\"iface_id\":\"eth0\",\"nkvm_net\":\"none\"}", "no interface");
	bad(api_dec_net, "eth0", "{\"iface_id\":\"eth0\",\"nkvm_net\":\"bridge\"}", "");
	bad(api_dec_net, "eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"rx_rate_limiter\":{\"ops\":{\"size\":5,\"refill_time\":100}}}",
	    "rate limiters");
	bad(api_dec_net, "eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"\"}", "empty");
}

static void test_small(void)
{
	struct api_logger_cfg l = { 0 };
	struct api_metrics_cfg m = { 0 };
	enum api_action act;
	struct vm_spec s;
	char err[512];
	bool pause;
	json_t *j;

	api_spec_init(&s);
	j = js("{\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\",\"vsock_id\":\"vsock0\"}");
	ok(api_dec_vsock(j, NULL, &s, err, sizeof(err)) == 0 && s.vsock.set && s.vsock.guest_cid == 3 &&
	   !strcmp(s.vsock.uds_path, "/tmp/v.sock"), "vsock: stored");
	json_decref(j);
	j = js("{}");
	ok(api_dec_entropy(j, NULL, &s, err, sizeof(err)) == 0 && s.dev.rng, "entropy: rng on");
	json_decref(j);
	vm_spec_free(&s);
	bad(api_dec_vsock, NULL, "{\"guest_cid\":2,\"uds_path\":\"/x\"}", "guest_cid");
	bad(api_dec_vsock, NULL, "{\"guest_cid\":3}", "missing field 'uds_path'");
	bad(api_dec_vsock, NULL, "{\"guest_cid\":3,\"uds_path\":\"\"}", "empty");
	bad(api_dec_entropy, NULL, "{\"rate_limiter\":{\"bandwidth\":{\"size\":1,\"refill_time\":1}}}", "rate limiters");
	bad(api_dec_entropy, NULL, "{\"x\":1}", "unknown field");

	j = js("{\"log_path\":\"/tmp/log\",\"level\":\"debug\",\"show_level\":true}");
	ok(api_dec_logger(j, &l, err, sizeof(err)) == 0 && l.level == LOG_DEBUG && l.show_level &&
	   !strcmp(l.log_path, "/tmp/log"), "logger: level case-insensitive");
	json_decref(j);
	j = js("{\"level\":\"Loud\"}");
	ok(api_dec_logger(j, &l, err, sizeof(err)) < 0 && strstr(err, "level") && l.level == LOG_DEBUG,
	   "logger: bad level refused, settings kept");
	json_decref(j);
	api_logger_cfg_free(&l);
	j = js("{\"metrics_path\":\"/tmp/m\",\"emit_id\":true,\"properties\":{\"a\":\"b\"}}");
	ok(api_dec_metrics(j, &m, err, sizeof(err)) == 0 && m.emit_id && m.properties,
	   "metrics: accepted");
	json_decref(j);
	j = js("{\"metrics_path\":\"/tmp/m\",\"properties\":{\"a\":1}}");
	ok(api_dec_metrics(j, &m, err, sizeof(err)) < 0 && strstr(err, "not a string"),
	   "metrics: non-string property refused");
	json_decref(j);
	j = js("{\"emit_id\":true}");
	ok(api_dec_metrics(j, &m, err, sizeof(err)) < 0 && strstr(err, "metrics_path"),
	   "metrics: path required");
	json_decref(j);
	api_metrics_cfg_free(&m);

	j = js("{\"action_type\":\"InstanceStart\"}");
	ok(api_dec_action(j, &act, err, sizeof(err)) == 0 && act == API_INSTANCE_START, "action: InstanceStart");
	json_decref(j);
	j = js("{\"action_type\":\"FlushMetrics\"}");
	ok(api_dec_action(j, &act, err, sizeof(err)) == 0 && act == API_FLUSH_METRICS, "action: FlushMetrics");
	json_decref(j);
	j = js("{\"action_type\":\"Reboot\"}");
	ok(api_dec_action(j, &act, err, sizeof(err)) < 0 && strstr(err, "action_type"), "action: unknown refused");
	json_decref(j);
	j = js("{\"action_type\":1}");
	ok(api_dec_action(j, &act, err, sizeof(err)) < 0, "action: wrong type refused");
	json_decref(j);
	j = js("{\"state\":\"Paused\"}");
	ok(api_dec_vm_state(j, &pause, err, sizeof(err)) == 0 && pause, "vm: Paused");
	json_decref(j);
	j = js("{\"state\":\"Resumed\"}");
	ok(api_dec_vm_state(j, &pause, err, sizeof(err)) == 0 && !pause, "vm: Resumed");
	json_decref(j);
	j = js("{\"state\":\"paused\"}");
	ok(api_dec_vm_state(j, &pause, err, sizeof(err)) < 0, "vm: case matters, as in Firecracker");
	json_decref(j);
	j = js("{\"state\":\"Paused\",\"x\":1}");
	ok(api_dec_vm_state(j, &pause, err, sizeof(err)) < 0 && strstr(err, "unknown field"), "vm: unknown field");
	json_decref(j);
}

static int config(const char *text, struct vm_spec *s, char *err, size_t errlen)
{
	struct api_logger_cfg l = { 0 };
	struct api_metrics_cfg m = { 0 };
	int r;

	api_spec_init(s);
	r = api_config_parse(text, strlen(text), s, &l, &m, err, errlen);
	api_logger_cfg_free(&l);
	api_metrics_cfg_free(&m);
	return r;
}

static void test_config(void)
{
	char text[2048], err[512];
	struct vm_spec s;

	snprintf(text, sizeof(text),
		 "{\"boot-source\":{\"kernel_image_path\":\"%s\",\"boot_args\":\"console=ttyS0\"},"
		 "\"drives\":[{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":true,"
		 "\"is_read_only\":false}],"
		 "\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":256},"
		 "\"network-interfaces\":[{\"iface_id\":\"eth0\",\"nkvm_net\":\"user\"}],"
		 "\"entropy\":{}}", kernel, disk);
	is_int(config(text, &s, err, sizeof(err)), 0, "config file: accepted");
	ok(s.cpus == 2 && s.mem == 256ULL << 20 && s.dev.nr_disks == 1 && s.dev.nr_nets == 1 &&
	   s.dev.rng && !strcmp(s.root_args, "root=/dev/vda rw"), "  every section applied");
	vm_spec_free(&s);
	ok(config("{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":128}}", &s, err, sizeof(err)) < 0 &&
	   strstr(err, "boot-source"), "config file: boot-source required");
	vm_spec_free(&s);
	ok(config("{\"boot-source\":", &s, err, sizeof(err)) < 0 && strstr(err, "not valid JSON"),
	   "config file: truncated JSON");
	vm_spec_free(&s);
	snprintf(text, sizeof(text), "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"balloon\":{}}", kernel);
	ok(config(text, &s, err, sizeof(err)) < 0 && strstr(err, "\"balloon\": not supported"),
	   "config file: balloon not supported");
	vm_spec_free(&s);
	snprintf(text, sizeof(text), "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"bogus\":{}}", kernel);
	ok(config(text, &s, err, sizeof(err)) < 0 && strstr(err, "unknown section"),
	   "config file: unknown section");
	vm_spec_free(&s);
	snprintf(text, sizeof(text), "{\"boot-source\":{\"kernel_image_path\":\"%s\"},\"drives\":{}}", kernel);
	ok(config(text, &s, err, sizeof(err)) < 0 && strstr(err, "drives: expected an array"),
	   "config file: drives must be an array");
	vm_spec_free(&s);
	snprintf(text, sizeof(text), "{\"boot-source\":{\"kernel_image_path\":\"%s\"},"
		 "\"drives\":[{\"drive_id\":\"a\"}]}", kernel);
	ok(config(text, &s, err, sizeof(err)) < 0 && strstr(err, "drives[0]: missing field"),
	   "config file: a bad drive names its index");
	vm_spec_free(&s);
	snprintf(text, sizeof(text), "{\"boot-source\":{\"kernel_image_path\":\"%s\"},"
		 "\"boot-source\":{\"kernel_image_path\":\"%s\"}}", kernel, kernel);
	ok(config(text, &s, err, sizeof(err)) < 0, "config file: duplicate keys refused");
	vm_spec_free(&s);
	{
		struct api_logger_cfg l = { 0 };
		struct api_metrics_cfg m = { 0 };

		api_spec_init(&s);
		ok(api_config_load("/nonexistent.json", &s, &l, &m, err, sizeof(err)) < 0 &&
		   strstr(err, "/nonexistent.json"), "config file: missing file named");
		vm_spec_free(&s);
	}
}

static void test_copy(void)
{
	struct vm_spec s, c;
	char text[1024], err[512];
	json_t *j;

	api_spec_init(&s);
	snprintf(text, sizeof(text), "{\"drive_id\":\"d\",\"path_on_host\":\"%s\",\"is_root_device\":true}", disk);
	j = js(text);
	if (api_dec_drive(j, "d", &s, err, sizeof(err)) < 0)
		diag("%s", err);
	json_decref(j);
	is_int(vm_spec_copy(&c, &s), 0, "spec copy");
	ok(c.dev.disk[0].path != s.dev.disk[0].path && !strcmp(c.dev.disk[0].path, disk) &&
	   !strcmp(c.root_args, s.root_args) && c.root_args != s.root_args && !strcmp(c.disk_id[0], "d"),
	   "  a deep copy");
	vm_spec_free(&c);
	vm_spec_free(&s);
}

int main(void)
{
	FILE *f;

	if (!mkdtemp(dir))
		return 1;
	snprintf(kernel, sizeof(kernel), "%s/kernel", dir);
	snprintf(disk, sizeof(disk), "%s/disk", dir);
	snprintf(disk2, sizeof(disk2), "%s/disk2", dir);
	if (!(f = fopen(kernel, "w")) || fputs("not really a kernel", f) < 0 || fclose(f))
		return 1;
	if (truncate(kernel, 4096) || !(f = fopen(disk, "w")) || fclose(f) || truncate(disk, 1 << 20) ||
	    !(f = fopen(disk2, "w")) || fclose(f) || truncate(disk2, 1 << 20))
		return 1;
	test_boot_source();
	test_machine_config();
	test_drives();
	test_net();
	test_small();
	test_config();
	test_copy();
	unlink(kernel);
	unlink(disk);
	unlink(disk2);
	rmdir(dir);
	return done_testing();
}
