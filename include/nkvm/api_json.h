/*
 * Small checked accessors over jansson for the API's request bodies: each
 * either gets a value of the right type and range or writes one line into
 * err naming the field and what was expected (the 400's fault_message).
 */
#ifndef NKVM_API_JSON_H
#define NKVM_API_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* j is an object and every key is in `allowed` (NULL-terminated);
 * Firecracker refuses unknown fields too. 0 or -EINVAL. */
int jobj_check(const json_t *j, const char *what, const char *const *allowed,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

/* A string field: *out points into j (NULL when absent and !required).
 * Strings with a NUL inside or longer than max bytes are refused. */
int jget_str(const json_t *j, const char *key, bool required, size_t max,
	     const char **out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* A boolean field: *out set only when present (*present, may be NULL). */
int jget_bool(const json_t *j, const char *key, bool required, bool *out,
	      bool *present, char *err, size_t errlen) __attribute__((warn_unused_result));

/* An integer field in [min, max]: *out set only when present. */
int jget_uint(const json_t *j, const char *key, bool required, uint64_t min,
	      uint64_t max, uint64_t *out, bool *present, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A rate limiter nkvm does not implement: absent, null or one with no
 * bucket is fine; anything else is refused rather than silently ignored. */
int jcheck_no_limiter(const json_t *j, const char *key, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
