/* Output formats shared by `nkvm list` and `nkvm stat` (ctl_cmd.h). */
#include <stdio.h>

#include "nkvm/ctl_cmd.h"

void ctl_fmt_uptime(double seconds, char *buf, size_t len)
{
	unsigned long long s;

	/* NaN, negative or absurd: the server's bug, shown as unknown */
	if (!(seconds >= 0 && seconds < 1e12)) {
		snprintf(buf, len, "-");
		return;
	}
	s = (unsigned long long)seconds;
	if (s >= 86400)
		snprintf(buf, len, "%llu-%02llu:%02llu:%02llu", s / 86400, s / 3600 % 24,
			 s / 60 % 60, s % 60);
	else if (s >= 3600)
		snprintf(buf, len, "%02llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, len, "%02llu:%02llu", s / 60, s % 60);
}

void ctl_fmt_mib(long long mib, char *buf, size_t len)
{
	if (mib <= 0)
		snprintf(buf, len, "-");
	else if (mib % 1024 == 0)
		snprintf(buf, len, "%lldG", mib / 1024);
	else
		snprintf(buf, len, "%lldM", mib);
}
