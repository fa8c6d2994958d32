/*
 * Minimal i8042 keyboard controller: no keyboard or mouse behind it, only
 * what a guest needs to find the controller and to reset the machine
 * (Linux's reboot=k writes 0xFE to port 0x64; some paths write the output
 * port through 0xD1 with the reset bit, bit 0, clear).
 */
#include <errno.h>
#include <string.h>

#include "nkvm/i8042.h"

#define STS_OBF 0x01 /* output buffer full: port 0x60 has a byte */
#define STS_SYS 0x04 /* system flag: POST passed */

#define CMD_READ_CTR     0x20
#define CMD_WRITE_CTR    0x60
#define CMD_SELF_TEST    0xaa
#define CMD_WRITE_OUTPUT 0xd1
#define CMD_PULSE_RESET  0xfe

/* Command byte as firmware leaves it with nothing attached: system flag,
 * both ports disabled, no interrupts (we never raise any). */
#define CTR_DEFAULT 0x34

#define SELF_TEST_OK 0x55

/* Puts the controller in its post-firmware state; `reset` may be NULL. */
void i8042_init(struct i8042 *k, void (*reset)(void *), void *opaque)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->reset = reset;
	k->opaque = opaque;
	k->ctr = CTR_DEFAULT;
}

/* Releases the mutex; the model must no longer be in use. */
void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

/*
 * Guest read of an absolute port: 0x64 gives the status (never busy),
 * 0x60 takes the output buffer (0 when empty). Other ports read 0xff,
 * like an undriven ISA bus.
 */
uint8_t i8042_io_read(struct i8042 *k, uint16_t port)
{
	uint8_t val = 0xff;

	pthread_mutex_lock(&k->lock);
	if (port == I8042_COMMAND_PORT) {
		val = STS_SYS | (k->outbuf_full ? STS_OBF : 0);
	} else if (port == I8042_DATA_PORT) {
		val = k->outbuf_full ? k->outbuf : 0;
		k->outbuf_full = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return val;
}

static void i8042_put(struct i8042 *k, uint8_t val)
{
	k->outbuf = val;
	k->outbuf_full = 1;
}

/* A command byte written to port 0x64; returns 1 to reset the machine. */
static int i8042_command(struct i8042 *k, uint8_t val)
{
	k->cmd = 0;
	switch (val) {
	case CMD_READ_CTR:
		i8042_put(k, k->ctr);
		return 0;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPUT:
		k->cmd = val;
		return 0;
	case CMD_SELF_TEST:
		i8042_put(k, SELF_TEST_OK);
		return 0;
	}
	/* 0xF0-0xFF pulse the output port lines whose mask bit is 0; bit 0 of
	 * the output port is the CPU reset line, so 0xFE (and any even value)
	 * resets. Everything else is ignored. */
	return (val & 0xf0) == 0xf0 && !(val & 0x01);
}

/* A byte written to port 0x60; returns 1 to reset the machine. */
static int i8042_data(struct i8042 *k, uint8_t val)
{
	uint8_t cmd = k->cmd;

	k->cmd = 0;
	if (cmd == CMD_WRITE_CTR)
		k->ctr = val;
	else if (cmd == CMD_WRITE_OUTPUT)
		return !(val & 0x01);	/* reset line driven low */
	/* bytes for the (absent) keyboard are dropped */
	return 0;
}

/*
 * Guest write of an absolute port. Calls the reset callback, without the
 * lock held, for a reset pulse (0xFE and friends) or an output port write
 * with bit 0 clear. Unknown commands and ports are ignored.
 */
void i8042_io_write(struct i8042 *k, uint16_t port, uint8_t val)
{
	int reset = 0;

	pthread_mutex_lock(&k->lock);
	if (port == I8042_COMMAND_PORT)
		reset = i8042_command(k, val);
	else if (port == I8042_DATA_PORT)
		reset = i8042_data(k, val);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->reset)
		k->reset(k->opaque);
}

/* The keyboard comes with branch ctl: this controller has no keyboard
 * behind it yet, so there is nothing to type on. */
int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	return -ENODEV;
}
