/* Unit tests for the CMOS clock (src/hw/rtc.c). */
#include "nkvm/rtc.h"
#include "tap.h"

static time_t fixed(void)
{
	return 1795694400;      /* 2026-11-26 12:00:00 UTC, a Thursday */
}

static uint8_t rd(struct rtc *r, uint8_t idx)
{
	rtc_io_write(r, RTC_INDEX_PORT, idx);
	return rtc_io_read(r, RTC_DATA_PORT);
}

int main(void)
{
	struct rtc r;

	rtc_init(&r);
	r.now = fixed;
	is_int(rd(&r, 0x00), 0x00, "seconds in BCD");
	is_int(rd(&r, 0x02), 0x00, "minutes in BCD");
	is_int(rd(&r, 0x04), 0x12, "hours in BCD, 24h");
	is_int(rd(&r, 0x07), 0x26, "day of month");
	is_int(rd(&r, 0x08), 0x11, "month");
	is_int(rd(&r, 0x09), 0x26, "year");
	is_int(rd(&r, 0x32), 0x20, "century");
	is_int(rd(&r, 0x06), 0x05, "weekday (Sunday = 1)");
	is_int(rd(&r, 0x0a) & 0x80, 0, "update-in-progress never set");
	is_int(rd(&r, 0x0b), 0x02, "24-hour BCD mode");
	is_int(rd(&r, 0x0d), 0x80, "battery good");
	is_int(rd(&r, 0x80 | 0x04), 0x12, "NMI-disable bit ignored in the index");
	rtc_io_write(&r, RTC_INDEX_PORT, 0x00);
	rtc_io_write(&r, RTC_DATA_PORT, 0x59);
	is_int(rd(&r, 0x00), 0x00, "time registers are read-only");
	rtc_io_write(&r, RTC_INDEX_PORT, 0x40);
	rtc_io_write(&r, RTC_DATA_PORT, 0xab);
	is_int(rd(&r, 0x40), 0xab, "scratch CMOS keeps writes");
	is_int(rtc_io_read(&r, RTC_INDEX_PORT), 0xff, "index port reads all-ones");
	return done_testing();
}
