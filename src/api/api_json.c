/* Checked field accessors for API request bodies (see api_json.h). */
#include <errno.h>
#include <string.h>

#include "nkvm/api_json.h"
#include "nkvm/log.h"

int jobj_check(const json_t *j, const char *what, const char *const *allowed,
	       char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(j)) {
		errbuf_printf(err, errlen, "%s: expected a JSON object", what);
		return -EINVAL;
	}
	json_object_foreach((json_t *)j, key, v) {
		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i]) {
			errbuf_printf(err, errlen, "%s: unknown field '%.64s'", what, key);
			return -EINVAL;
		}
	}
	return 0;
}

static const json_t *field(const json_t *j, const char *key, bool required,
			   int *r, char *err, size_t errlen)
{
	const json_t *v = json_object_get(j, key);

	*r = 0;
	if (v && json_is_null(v))
		v = NULL;
	if (!v && required) {
		errbuf_printf(err, errlen, "missing field '%s'", key);
		*r = -EINVAL;
	}
	return v;
}

int jget_str(const json_t *j, const char *key, bool required, size_t max,
	     const char **out, char *err, size_t errlen)
{
	int r;
	const json_t *v = field(j, key, required, &r, err, errlen);

	*out = NULL;
	if (!v)
		return r;
	if (!json_is_string(v)) {
		errbuf_printf(err, errlen, "field '%s': expected a string", key);
		return -EINVAL;
	}
	if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
		errbuf_printf(err, errlen, "field '%s': longer than %zu bytes or holds a NUL",
			      key, max);
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

int jget_bool(const json_t *j, const char *key, bool required, bool *out,
	      bool *present, char *err, size_t errlen)
{
	int r;
	const json_t *v = field(j, key, required, &r, err, errlen);

	if (present)
		*present = v != NULL;
	if (!v)
		return r;
	if (!json_is_boolean(v)) {
		errbuf_printf(err, errlen, "field '%s': expected true or false", key);
		return -EINVAL;
	}
	*out = json_is_true(v);
	return 0;
}

int jget_uint(const json_t *j, const char *key, bool required, uint64_t min,
	      uint64_t max, uint64_t *out, bool *present, char *err, size_t errlen)
{
	int r;
	const json_t *v = field(j, key, required, &r, err, errlen);
	json_int_t n;

	if (present)
		*present = v != NULL;
	if (!v)
		return r;
	n = json_is_integer(v) ? json_integer_value(v) : -1;
	if (!json_is_integer(v) || n < 0 || (uint64_t)n < min || (uint64_t)n > max) {
		errbuf_printf(err, errlen, "field '%s': expected an integer from %llu to %llu",
			      key, (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = (uint64_t)n;
	return 0;
}

int jcheck_no_limiter(const json_t *j, const char *key, char *err, size_t errlen)
{
	const json_t *v = json_object_get(j, key);

	if (!v || json_is_null(v))
		return 0;
	if (json_is_object(v)) {
		const json_t *bw = json_object_get(v, "bandwidth"), *ops = json_object_get(v, "ops");

		if ((!bw || json_is_null(bw)) && (!ops || json_is_null(ops)))
			return 0;
	}
	errbuf_printf(err, errlen, "field '%s': rate limiters are not supported by nkvm", key);
	return -EINVAL;
}
