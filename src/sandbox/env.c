/* `nkvm sandbox`: the command's environment and its program (sandbox.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nkvm/sandbox.h"

/* Carried in by default: what a terminal session needs to behave the same
 * (locale, terminal type, identity, search path, time zone). Other host
 * variables (SSH_AUTH_SOCK, DISPLAY, XDG_RUNTIME_DIR, ...) name things the
 * guest cannot reach, so they stay out unless --env asks. */
static const char *const default_names[] = {
	"PATH", "HOME", "TERM", "COLORTERM", "LANG", "LANGUAGE", "TZ",
	"USER", "LOGNAME", "SHELL", NULL,
};

#define DEFAULT_PATH "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"

/* entry starts with name and then '=' */
static bool env_is(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(entry, name, n) && entry[n] == '=';
}

bool sbx_env_passes(const char *entry, const char *const *extra)
{
	const char *const *n;

	if (!strchr(entry, '=') || entry[0] == '=')
		return false;
	if (!strncmp(entry, "LC_", 3))
		return true;
	for (n = default_names; *n; n++)
		if (env_is(entry, *n))
			return true;
	for (n = extra; n && *n; n++)
		if (env_is(entry, *n))
			return true;
	return false;
}

bool sbx_env_arg_valid(const char *arg)
{
	const char *p = arg;

	if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_'))
		return false;
	for (p++; *p && *p != '='; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

const char *sbx_env_get(char *const *env, const char *name)
{
	for (; env && *env; env++)
		if (env_is(*env, name))
			return *env + strlen(name) + 1;
	return NULL;
}

/* Length of the NAME part of "NAME=VALUE" (or of a bare NAME). */
static size_t name_len(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq ? (size_t)(eq - s) : strlen(s);
}

/* Is there a --env NAME=VALUE for the entry's name? */
static bool overridden(const char *entry, char *const *sets, int nsets)
{
	size_t n = name_len(entry);
	int i;

	for (i = 0; i < nsets; i++)
		if (strchr(sets[i], '=') && name_len(sets[i]) == n &&
		    !strncmp(sets[i], entry, n))
			return true;
	return false;
}

char **sbx_env_build(char *const *environ, char *const *sets, int nsets)
{
	const char **names = calloc((size_t)nsets + 1, sizeof(*names));
	char **env;
	size_t count = 0, i;
	int k;

	if (!names)
		return NULL;
	for (i = 0; environ && environ[i]; i++)
		count++;
	env = calloc(count + (size_t)nsets + 2, sizeof(*env));
	if (!env) {
		free(names);
		return NULL;
	}
	/* --env NAME (no '='): pass the host's value */
	for (k = 0; k < nsets; k++)
		names[k] = strchr(sets[k], '=') ? "" : sets[k];
	count = 0;
	for (i = 0; environ && environ[i]; i++)
		if (sbx_env_passes(environ[i], names) &&
		    !overridden(environ[i], sets, nsets))
			env[count++] = environ[i];
	for (k = 0; k < nsets; k++)
		if (strchr(sets[k], '='))
			env[count++] = sets[k];
	if (!sbx_env_get(env, "PATH"))
		env[count++] = (char *)DEFAULT_PATH;
	env[count] = NULL;
	free(names);
	return env;
}

/* dir + "/" + name, made absolute against cwd. */
static int join_path(char *out, size_t outlen, const char *cwd, const char *dir,
		     size_t dirlen, const char *name)
{
	int n;

	if (dirlen == 0)
		n = snprintf(out, outlen, "%s/%s", cwd, name);
	else if (dir[0] == '/')
		n = snprintf(out, outlen, "%.*s/%s", (int)dirlen, dir, name);
	else
		n = snprintf(out, outlen, "%s/%.*s/%s", cwd, (int)dirlen, dir, name);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static bool runnable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int sbx_find_program(const char *name, const char *path, const char *cwd,
		     char *out, size_t outlen)
{
	const char *p = path;

	if (!*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		int n = name[0] == '/' ? snprintf(out, outlen, "%s", name) :
			snprintf(out, outlen, "%s/%s", cwd, name);

		return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
	}
	while (p) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);

		if (join_path(out, outlen, cwd, p, len, name) == 0 && runnable(out))
			return 0;
		p = colon ? colon + 1 : NULL;
	}
	return -ENOENT;
}
