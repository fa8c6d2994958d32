/* Parsers for command-line values. Pure, fuzzable. */
#ifndef NKVM_OPTS_H
#define NKVM_OPTS_H

#include <stddef.h>
#include <stdint.h>

/* Parse a memory size: "512M", "4G", "1024K", "2T"; a bare number means MiB
 * (kvmtool's -m). Case-insensitive suffix, optional trailing "B"/"iB".
 * Returns 0 or -EINVAL (syntax) / -ERANGE (overflow). */
int opts_parse_size(const char *s, uint64_t *bytes) __attribute__((warn_unused_result));

/* Parse an unsigned decimal integer in [min, max]. 0, -EINVAL or -ERANGE. */
int opts_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
	__attribute__((warn_unused_result));

/*
 * Key/value device options "path=x.img,ro=on,serial=abc". Splits into at most
 * OPTS_KV_MAX pairs in place (the string is modified). A value may be quoted
 * with double quotes to contain commas. An element without '=' gets value NULL.
 * Returns the number of pairs, or -EINVAL (empty key, too many pairs,
 * unterminated quote).
 */
#define OPTS_KV_MAX 32
struct opts_kv {
	char *key;
	char *val;
};
int opts_kv_split(char *s, struct opts_kv *kv, int max) __attribute__((warn_unused_result));

/* "on"/"off"/"true"/"false"/"yes"/"no"/"1"/"0" -> 1/0; -EINVAL otherwise. */
int opts_parse_bool(const char *s) __attribute__((warn_unused_result));

#endif
