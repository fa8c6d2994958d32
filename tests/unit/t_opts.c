/* Unit tests for the option parsers, malformed input included. */
#include <errno.h>

#include "nkvm/opts.h"
#include "tap.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = 0xdeadbeef;
	int r = opts_parse_size(s, &v);

	ok(r == 0 && v == want, "size \"%s\" = %llu", s, (unsigned long long)want);
	if (r || v != want)
		diag("  got r=%d v=%llu", r, (unsigned long long)v);
}

static void size_bad(const char *s, int want)
{
	uint64_t v = 0xdeadbeef;
	int r = opts_parse_size(s, &v);

	ok(r == want && v == 0xdeadbeef, "size \"%s\" -> %s, output untouched", s,
	   want == -ERANGE ? "-ERANGE" : "-EINVAL");
	if (r != want)
		diag("  got r=%d", r);
}

static void test_size(void)
{
	uint64_t v;

	size_ok("512M", 512 * MiB);
	size_ok("4G", 4 * GiB);
	size_ok("4g", 4 * GiB);
	size_ok("1024K", 1024 * KiB);
	size_ok("2T", 2 * TiB);
	size_ok("512", 512 * MiB);
	size_ok("0", 0);
	size_ok("0512M", 512 * MiB);
	size_ok("512MB", 512 * MiB);
	size_ok("512MiB", 512 * MiB);
	size_ok("512mib", 512 * MiB);
	size_ok("1kb", KiB);
	size_ok("4096B", 4096);
	size_ok("4096b", 4096);
	size_ok("16777215T", 16777215 * TiB);
	size_ok("17179869183G", 17179869183ULL * GiB);

	size_bad("1.5G", -EINVAL);
	size_bad("", -EINVAL);
	size_bad("M", -EINVAL);
	size_bad("-1", -EINVAL);
	size_bad("+1", -EINVAL);
	size_bad("12X", -EINVAL);
	size_bad("12MX", -EINVAL);
	size_bad("12MBB", -EINVAL);
	size_bad("12iB", -EINVAL);
	size_bad("12Bi", -EINVAL);
	size_bad("12Mi", -EINVAL);
	size_bad("0x100", -EINVAL);
	size_bad(" 512M", -EINVAL);
	size_bad("512M ", -EINVAL);
	size_bad("512 M", -EINVAL);
	size_bad("512\t", -EINVAL);
	size_bad("99999999999T", -ERANGE);
	size_bad("16777216T", -ERANGE);
	size_bad("17179869184G", -ERANGE);
	size_bad("18446744073709551616B", -ERANGE);
	size_bad("99999999999999999999999999", -ERANGE);
	size_bad("99999999999999999999999999X", -EINVAL);
	is_int(opts_parse_size(NULL, &v), -EINVAL, "size NULL -> -EINVAL");
	size_ok("18446744073709551615B", UINT64_MAX);
}

static void uint_case(const char *s, uint64_t min, uint64_t max, int want_r,
		      uint64_t want)
{
	uint64_t v = 77777;
	int r = opts_parse_uint(s, min, max, &v);

	ok(r == want_r && v == (want_r ? 77777 : want),
	   "uint \"%s\" in [%llu,%llu] -> %d", s ? s : "(null)",
	   (unsigned long long)min, (unsigned long long)max, want_r);
}

static void test_uint(void)
{
	uint_case("1", 1, 256, 0, 1);
	uint_case("256", 1, 256, 0, 256);
	uint_case("0", 1, 256, -ERANGE, 0);
	uint_case("257", 1, 256, -ERANGE, 0);
	uint_case("007", 0, 10, 0, 7);
	uint_case("18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX);
	uint_case("18446744073709551616", 0, UINT64_MAX, -ERANGE, 0);
	uint_case("", 0, 10, -EINVAL, 0);
	uint_case("-1", 0, 10, -EINVAL, 0);
	uint_case("+1", 0, 10, -EINVAL, 0);
	uint_case(" 1", 0, 10, -EINVAL, 0);
	uint_case("1 ", 0, 10, -EINVAL, 0);
	uint_case("1x", 0, 10, -EINVAL, 0);
	uint_case("0x1", 0, 10, -EINVAL, 0);
	uint_case("1M", 0, 10, -EINVAL, 0);
	uint_case(NULL, 0, 10, -EINVAL, 0);
}

static void test_kv(void)
{
	struct opts_kv kv[OPTS_KV_MAX + 2];
	char buf[512];
	int n, i;

	strcpy(buf, "path=x.img,ro=on,serial=abc");
	n = opts_kv_split(buf, kv, OPTS_KV_MAX);
	is_int(n, 3, "three pairs");
	is_str(kv[0].key, "path", "key 0");
	is_str(kv[0].val, "x.img", "val 0");
	is_str(kv[1].key, "ro", "key 1");
	is_str(kv[1].val, "on", "val 1");
	is_str(kv[2].key, "serial", "key 2");
	is_str(kv[2].val, "abc", "val 2");

	strcpy(buf, "path=\"a,b=c.img\",ro");
	n = opts_kv_split(buf, kv, OPTS_KV_MAX);
	is_int(n, 2, "quoted value with comma: two pairs");
	is_str(kv[0].val, "a,b=c.img", "quotes stripped, comma and '=' kept");
	is_str(kv[1].key, "ro", "bare key");
	ok(kv[1].val == NULL, "bare key has NULL value");

	strcpy(buf, "cmd=a=b=c,x=");
	n = opts_kv_split(buf, kv, OPTS_KV_MAX);
	is_int(n, 2, "value with '=' inside");
	is_str(kv[0].key, "cmd", "split at the first '='");
	is_str(kv[0].val, "a=b=c", "rest is the value");
	is_str(kv[1].val, "", "\"x=\" gives an empty value");

	strcpy(buf, "s=\"\"");
	n = opts_kv_split(buf, kv, OPTS_KV_MAX);
	ok(n == 1 && kv[0].val && !*kv[0].val, "empty quoted value");

	strcpy(buf, "");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), 0, "empty string: 0 pairs");
	strcpy(buf, "a");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), 1, "one bare key");

	strcpy(buf, "=x");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), -EINVAL, "empty key \"=x\"");
	strcpy(buf, "a=1,=x");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), -EINVAL, "empty key later");
	strcpy(buf, "a=1,,b=2");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), -EINVAL, "empty element");
	strcpy(buf, "a=1,");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), -EINVAL, "trailing comma");
	strcpy(buf, ",");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), -EINVAL, "lone comma");
	strcpy(buf, "a=\"abc");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), -EINVAL, "unterminated quote");
	strcpy(buf, "a=\"");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), -EINVAL, "lone quote");
	strcpy(buf, "a=\"x\"y");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), -EINVAL, "text after closing quote");
	strcpy(buf, "a=x\"y\"");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), -EINVAL, "quote inside unquoted value");
	strcpy(buf, "\"a\"=x");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX), -EINVAL, "quoted key");

	strcpy(buf, "a=1,b=2,c=3");
	is_int(opts_kv_split(buf, kv, 2), -EINVAL, "too many pairs for max=2");
	strcpy(buf, "a=1,b=2");
	is_int(opts_kv_split(buf, kv, 2), 2, "exactly max pairs");
	strcpy(buf, "a");
	is_int(opts_kv_split(buf, kv, 0), -EINVAL, "max=0 with one pair");
	strcpy(buf, "a");
	is_int(opts_kv_split(buf, kv, -1), -EINVAL, "negative max");

	buf[0] = '\0';
	for (i = 0; i < OPTS_KV_MAX; i++)
		strcat(buf, i ? ",k" : "k");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX + 2), OPTS_KV_MAX,
	       "OPTS_KV_MAX pairs accepted");
	buf[0] = '\0';
	for (i = 0; i <= OPTS_KV_MAX; i++)
		strcat(buf, i ? ",k" : "k");
	is_int(opts_kv_split(buf, kv, OPTS_KV_MAX + 2), -EINVAL,
	       "OPTS_KV_MAX + 1 pairs rejected even with a bigger array");
	is_int(opts_kv_split(NULL, kv, 4), -EINVAL, "NULL string");
}

static void test_bool(void)
{
	static const char *const t[] = { "on", "true", "yes", "1", "ON", "True", "YES" };
	static const char *const f[] = { "off", "false", "no", "0", "OFF", "False", "No" };
	static const char *const bad[] = { "", "2", "onn", "of", "y", "n", " on", "on ",
					   "enable", "01" };
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(opts_parse_bool(t[i]), 1, "bool \"%s\" = 1", t[i]);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		is_int(opts_parse_bool(f[i]), 0, "bool \"%s\" = 0", f[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(opts_parse_bool(bad[i]), -EINVAL, "bool \"%s\" rejected", bad[i]);
	is_int(opts_parse_bool(NULL), -EINVAL, "bool NULL rejected");
}

int main(void)
{
	test_size();
	test_uint();
	test_kv();
	test_bool();
	return done_testing();
}
