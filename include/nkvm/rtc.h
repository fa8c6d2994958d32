/* A read-only MC146818 CMOS clock (ports 0x70/0x71): Linux reads the wall
 * clock from it at boot when no paravirtual clock is in use. Pure code. */
#ifndef NKVM_RTC_H
#define NKVM_RTC_H

#include <stdint.h>
#include <time.h>

#define RTC_INDEX_PORT 0x70
#define RTC_DATA_PORT  0x71

struct rtc {
	uint8_t index;
	uint8_t cmos[128];   /* scratch CMOS bytes the guest may write */
	time_t (*now)(void); /* clock source; time() when NULL (tests override) */
};

void rtc_init(struct rtc *rtc);
uint8_t rtc_io_read(struct rtc *rtc, uint16_t port);
void rtc_io_write(struct rtc *rtc, uint16_t port, uint8_t val);

#endif
