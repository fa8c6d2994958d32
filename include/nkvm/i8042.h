/* Just enough of the i8042 keyboard controller for Linux's reboot path:
 * command 0xFE on port 0x64 pulses the CPU reset line. */
#ifndef NKVM_I8042_H
#define NKVM_I8042_H

#include <pthread.h>
#include <stdint.h>

#define I8042_DATA_PORT    0x60
#define I8042_COMMAND_PORT 0x64

struct i8042 {
	pthread_mutex_t lock;         /* vCPU threads may race on the ports */
	void (*reset)(void *opaque);  /* called on the reset command, unlocked */
	void *opaque;
	uint8_t cmd;                  /* last command awaiting a data byte */
	uint8_t ctr;                  /* controller command byte (0x20/0x60) */
	uint8_t outbuf;
	int outbuf_full;
};

void i8042_init(struct i8042 *k, void (*reset)(void *), void *opaque);
void i8042_destroy(struct i8042 *k);
uint8_t i8042_io_read(struct i8042 *k, uint16_t port);
void i8042_io_write(struct i8042 *k, uint16_t port, uint8_t val);

/* Type Ctrl-Alt-Del on the keyboard (the API's SendCtrlAltDel). 0, or
 * -ENODEV when there is no keyboard the guest drives. */
int i8042_send_ctrl_alt_del(struct i8042 *k);

#endif
