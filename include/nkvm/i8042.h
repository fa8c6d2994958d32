/*
 * The i8042 keyboard controller with a PS/2 keyboard on its first port and
 * no auxiliary (mouse) port: enough for Linux's i8042 and atkbd drivers to
 * find and initialise the keyboard, so nkvm can inject Ctrl-Alt-Del
 * (Firecracker's SendCtrlAltDel), plus the reset line Linux's reboot=k
 * pulses (command 0xFE on port 0x64).
 */
#ifndef NKVM_I8042_H
#define NKVM_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "nkvm/ps2kbd.h"

#define I8042_DATA_PORT    0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_KBD_IRQ      1

/* Output queue depth: Linux's i8042_flush() gives up after 16 bytes
 * (I8042_BUFFER_SIZE), so never hold more than that. */
#define I8042_QUEUE_SIZE 16

struct i8042_ops {
	void (*reset)(void *opaque);            /* reset pulse; called unlocked */
	void (*set_irq)(void *opaque, int level); /* IRQ 1; called locked */
};

struct i8042 {
	pthread_mutex_t lock;         /* vCPU threads and the API thread race */
	const struct i8042_ops *ops;  /* may be NULL, as may each member */
	void *opaque;
	uint8_t cmd;                  /* last command awaiting a data byte */
	uint8_t ctr;                  /* controller command byte (0x20/0x60) */
	/* output buffer: bytes for port 0x60; bit 8 marks one from the aux
	 * port (status bit 5) */
	uint16_t queue[I8042_QUEUE_SIZE];
	unsigned head, count;
	unsigned long dropped;        /* bytes lost to a full queue */
	uint8_t xlate_f0;             /* translation: a 0xF0 (break) seen */
	int irq_level;
	struct ps2kbd kbd;
};

void i8042_init(struct i8042 *k, const struct i8042_ops *ops, void *opaque);
void i8042_destroy(struct i8042 *k);
uint8_t i8042_io_read(struct i8042 *k, uint16_t port);
void i8042_io_write(struct i8042 *k, uint16_t port, uint8_t val);

/*
 * Press and release Ctrl, Alt and Delete on the keyboard (the guest's
 * Ctrl-Alt-Del: Linux reboots, or signals init). Thread-safe. 0, -ENODEV
 * when no driver has the keyboard (interrupts or scanning not enabled: the
 * guest would never see the keys), or -ENOSPC when the guest is not
 * reading what is already queued.
 */
int i8042_send_ctrl_alt_del(struct i8042 *k) __attribute__((warn_unused_result));

#endif
