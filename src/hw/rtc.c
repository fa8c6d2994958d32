/* MC146818 RTC: time registers in BCD, 24-hour mode, never "update in
 * progress", so a guest polling UIP cannot spin. Writes to the time
 * registers are ignored (the guest cannot set the host clock). */
#include <string.h>

#include "nkvm/rtc.h"

#define REG_SEC   0x00
#define REG_MIN   0x02
#define REG_HOUR  0x04
#define REG_WDAY  0x06
#define REG_MDAY  0x07
#define REG_MONTH 0x08
#define REG_YEAR  0x09
#define REG_A     0x0a
#define REG_B     0x0b
#define REG_C     0x0c
#define REG_D     0x0d
#define REG_CENTURY 0x32

void rtc_init(struct rtc *rtc)
{
	memset(rtc, 0, sizeof(*rtc));
}

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

uint8_t rtc_io_read(struct rtc *rtc, uint16_t port)
{
	time_t t;
	struct tm tm;
	unsigned idx = rtc->index & 0x7f;

	if (port != RTC_DATA_PORT)
		return 0xff;
	t = rtc->now ? rtc->now() : time(NULL);
	gmtime_r(&t, &tm);
	switch (idx) {
	case REG_SEC: return bcd(tm.tm_sec);
	case REG_MIN: return bcd(tm.tm_min);
	case REG_HOUR: return bcd(tm.tm_hour);
	case REG_WDAY: return bcd(tm.tm_wday + 1);
	case REG_MDAY: return bcd(tm.tm_mday);
	case REG_MONTH: return bcd(tm.tm_mon + 1);
	case REG_YEAR: return bcd(tm.tm_year % 100);
	case REG_CENTURY: return bcd((tm.tm_year + 1900) / 100);
	case REG_A: return 0x26;        /* 32.768 kHz base, UIP clear */
	case REG_B: return 0x02;        /* 24-hour, BCD, no interrupts */
	case REG_C: return 0x00;
	case REG_D: return 0x80;        /* battery good */
	default: return rtc->cmos[idx];
	}
}

void rtc_io_write(struct rtc *rtc, uint16_t port, uint8_t val)
{
	unsigned idx;

	if (port == RTC_INDEX_PORT) {
		rtc->index = val;       /* bit 7 is the NMI mask: ignored */
		return;
	}
	idx = rtc->index & 0x7f;
	if (idx > REG_D && idx != REG_CENTURY)
		rtc->cmos[idx] = val;
}
