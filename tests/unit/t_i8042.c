/* Unit tests for the minimal i8042: reset paths, status and data reads. */
#include "nkvm/i8042.h"
#include "tap.h"

static int resets;

static void on_reset(void *opaque)
{
	int *n = opaque;

	(*n)++;
}

static uint8_t rd(struct i8042 *k, uint16_t port)
{
	return i8042_io_read(k, port);
}

static void wr(struct i8042 *k, uint16_t port, uint8_t v)
{
	i8042_io_write(k, port, v);
}

static void test_status_data(void)
{
	struct i8042 k;

	i8042_init(&k, on_reset, &resets);
	is_int(rd(&k, 0x64), 0x04, "status: system flag, output buffer empty");
	is_int(rd(&k, 0x60), 0, "data read with nothing buffered gives 0");

	wr(&k, 0x64, 0xaa);
	is_int(rd(&k, 0x64), 0x05, "self test: output buffer full");
	is_int(rd(&k, 0x60), 0x55, "self test answers 0x55");
	is_int(rd(&k, 0x64), 0x04, "data read empties the buffer");
	is_int(rd(&k, 0x60), 0, "second read gives 0");

	wr(&k, 0x64, 0x20);
	is_int(rd(&k, 0x60), 0x34, "default command byte");
	wr(&k, 0x64, 0x60);
	is_int(rd(&k, 0x64), 0x04, "write command byte: nothing to read");
	wr(&k, 0x60, 0x47);
	wr(&k, 0x64, 0x20);
	is_int(rd(&k, 0x60), 0x47, "command byte written through 0x60 reads back");
	wr(&k, 0x60, 0x11);
	wr(&k, 0x64, 0x20);
	is_int(rd(&k, 0x60), 0x47, "data byte without a pending command is dropped");

	is_int(rd(&k, 0x61), 0xff, "unknown port reads 0xff");
	wr(&k, 0x61, 0xfe);
	wr(&k, 0x65, 0xfe);
	is_int(resets, 0, "writes to other ports are ignored");
	i8042_destroy(&k);
}

static void test_reset(void)
{
	struct i8042 k;
	unsigned c;
	int bad;

	resets = 0;
	i8042_init(&k, on_reset, &resets);
	wr(&k, 0x64, 0xfe);
	is_int(resets, 1, "0xFE pulses reset");

	wr(&k, 0x64, 0xd1);
	wr(&k, 0x60, 0xfe);
	is_int(resets, 2, "0xD1 then data with bit 0 clear resets");
	wr(&k, 0x64, 0xd1);
	wr(&k, 0x60, 0xdf);
	is_int(resets, 2, "0xD1 then data with bit 0 set does not");
	wr(&k, 0x60, 0xfe);
	is_int(resets, 2, "0xD1 is consumed by one data byte");
	wr(&k, 0x64, 0xd1);
	wr(&k, 0x64, 0x20);
	rd(&k, 0x60);
	wr(&k, 0x60, 0x00);
	is_int(resets, 2, "a new command cancels a pending 0xD1");
	wr(&k, 0x60, 0xfe);
	is_int(resets, 2, "0xFE on the data port is a keyboard byte, not a reset");
	wr(&k, 0x64, 0xff);
	is_int(resets, 2, "0xFF pulses nothing");

	/* every other command byte is harmless */
	bad = 0;
	for (c = 0; c < 0xf0; c++) {
		if (c == 0x60 || c == 0xd1)
			continue;
		wr(&k, 0x64, (uint8_t)c);
		wr(&k, 0x60, 0x00);
		rd(&k, 0x60);
	}
	bad += resets != 2;
	is_int(bad, 0, "commands 0x00-0xEF (and a data byte 0) never reset");
	is_int(rd(&k, 0x64) & ~0x01, 0x04, "status still sane");
	i8042_destroy(&k);

	i8042_init(&k, NULL, NULL);
	wr(&k, 0x64, 0xfe);
	ok(1, "reset with no callback does not crash");
	i8042_destroy(&k);
}

int main(void)
{
	test_status_data();
	test_reset();
	return done_testing();
}
