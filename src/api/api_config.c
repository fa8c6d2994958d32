/* Firecracker config files, decoded with the API's decoders (api_config.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/api_config.h"

#define CONFIG_MAX (1 << 20)

/* "drives" and "network-interfaces": arrays of what PUT takes. */
static int each(const json_t *arr, const char *sect, struct vm_spec *s, api_spec_dec_fn dec,
		char *err, size_t errlen)
{
	char e[400];
	size_t i;

	if (!json_is_array(arr)) {
		errbuf_printf(err, errlen, "%s: expected an array", sect);
		return -EINVAL;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		if (dec(json_array_get(arr, i), NULL, s, e, sizeof(e)) < 0) {
			errbuf_printf(err, errlen, "%s[%zu]: %s", sect, i, e);
			return -EINVAL;
		}
	}
	return 0;
}

static int section(const char *key, const json_t *v, struct vm_spec *s,
		   struct api_logger_cfg *l, struct api_metrics_cfg *m, char *e, size_t n)
{
	if (!strcmp(key, "boot-source"))
		return api_dec_boot_source(v, NULL, s, e, n);
	if (!strcmp(key, "machine-config"))
		return api_dec_machine_config_put(v, NULL, s, e, n);
	if (!strcmp(key, "vsock"))
		return api_dec_vsock(v, NULL, s, e, n);
	if (!strcmp(key, "entropy"))
		return api_dec_entropy(v, NULL, s, e, n);
	if (!strcmp(key, "logger"))
		return api_dec_logger(v, l, e, n);
	if (!strcmp(key, "metrics"))
		return api_dec_metrics(v, m, e, n);
	if (!strcmp(key, "balloon") || !strcmp(key, "cpu-config") || !strcmp(key, "mmds-config") ||
	    !strcmp(key, "pmem") || !strcmp(key, "serial") || !strcmp(key, "memory-hotplug"))
		errbuf_printf(e, n, "not supported by nkvm");
	else
		errbuf_printf(e, n, "unknown section");
	return -EINVAL;
}

int api_config_parse(const char *text, size_t len, struct vm_spec *s,
		     struct api_logger_cfg *l, struct api_metrics_cfg *m, char *err,
		     size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *v;
	const char *key;
	char e[400];
	int r = 0;

	if (!root) {
		errbuf_printf(err, errlen, "not valid JSON: %s at line %d column %d", je.text,
			      je.line, je.column);
		return -EINVAL;
	}
	if (!json_is_object(root) || !json_object_get(root, "boot-source")) {
		errbuf_printf(err, errlen, "expected an object with a \"boot-source\" section");
		json_decref(root);
		return -EINVAL;
	}
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "drives"))
			r = each(v, key, s, api_dec_drive, err, errlen);
		else if (!strcmp(key, "network-interfaces"))
			r = each(v, key, s, api_dec_net, err, errlen);
		else if ((r = section(key, v, s, l, m, e, sizeof(e))) < 0)
			errbuf_printf(err, errlen, "\"%.64s\": %s", key, e);
		if (r < 0)
			break;
	}
	json_decref(root);
	return r < 0 ? -EINVAL : 0;
}

int api_config_load(const char *path, struct vm_spec *s, struct api_logger_cfg *l,
		    struct api_metrics_cfg *m, char *err, size_t errlen)
{
	char e[512], *buf;
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX) {
		errbuf_printf(err, errlen, "config file %s: %s", path,
			      fd < 0 ? strerror(errno) : "not a regular file of at most 1 MiB");
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(buf);
		errbuf_printf(err, errlen, "config file %s: cannot read it", path);
		return -EINVAL;
	}
	r = api_config_parse(buf, (size_t)n, s, l, m, e, sizeof(e));
	free(buf);
	if (r < 0)
		errbuf_printf(err, errlen, "config file %s: %s", path, e);
	return r;
}
