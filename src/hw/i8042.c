/*
 * The i8042 keyboard controller (see i8042.h): a PS/2 keyboard (ps2kbd.c)
 * on port 1, no auxiliary port, a bounded output queue, IRQ 1, scan-code
 * translation, and the reset line (Linux's reboot=k writes 0xFE to port
 * 0x64; some paths write the output port through 0xD1 with bit 0 clear).
 *
 * What Linux's i8042 driver does at probe (drivers/input/serio/i8042.c),
 * and what answers it:
 *   flush (reads 0x60 while the status has OBF, at most 16 times),
 *   0xAA self test -> 0x55, 0x20 read CTR (twice, until stable), a keylock
 *   check (status bit 4 set: not inhibited), 0x60 write CTR;
 *   aux check: 0xD3 loopback -> 0xFF flagged as aux data (nothing is
 *   attached to loop it), then 0xA9 aux interface test -> 0x01 (clock line
 *   stuck low): Linux concludes there is no aux port after two commands,
 *   without waiting on a timeout;
 *   keyboard port: 0x60 write CTR with interrupts on, keyboard enabled;
 *   atkbd then talks to the keyboard through port 0x60 and IRQ 1.
 */
#include <errno.h>
#include <string.h>

#include "nkvm/i8042.h"

#define STS_OBF     0x01 /* output buffer full: port 0x60 has a byte */
#define STS_SYS     0x04 /* system flag: POST passed */
#define STS_KEYLOCK 0x10 /* set: keyboard not inhibited by the keylock */
#define STS_AUXDATA 0x20 /* the byte in the output buffer is from aux */

#define CTR_KBDINT 0x01  /* IRQ 1 when a keyboard byte is waiting */
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10  /* keyboard port disabled */
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40  /* translate the keyboard's set 2 into set 1 */

#define CMD_READ_CTR      0x20
#define CMD_WRITE_CTR     0x60
#define CMD_AUX_DISABLE   0xa7
#define CMD_AUX_ENABLE    0xa8
#define CMD_AUX_TEST      0xa9
#define CMD_SELF_TEST     0xaa
#define CMD_KBD_TEST      0xab
#define CMD_KBD_DISABLE   0xad
#define CMD_KBD_ENABLE    0xae
#define CMD_READ_OUTPUT   0xd0
#define CMD_WRITE_OUTPUT  0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX     0xd4

/* Command byte as PC firmware leaves it: system flag, translation on,
 * both ports disabled, no interrupts; the guest's driver sets its own. */
#define CTR_DEFAULT (CTR_SYS | CTR_KBDDIS | CTR_AUXDIS | CTR_XLATE)

#define SELF_TEST_OK  0x55
#define KBD_TEST_OK   0x00
#define AUX_TEST_NONE 0x01 /* "clock line stuck low": nothing attached */
#define AUX_NO_LOOP   0xff /* what the empty aux line reads as */
#define OUTPUT_PORT   0x03 /* reset line high (not in reset), A20 on */

#define Q_AUX 0x100        /* queue entry flag: from the aux port */

/* The translation an XT-compatible i8042 applies to every byte from the
 * keyboard when CTR bit 6 is set: set 2 codes to set 1 (0xF0 prefixes
 * become bit 7 of the next code). Bytes 0x80 and up pass unchanged but
 * for 0x83 (F7, and the second ID byte) and 0x84 (SysRq). */
static const uint8_t xlate_table[128] = {
	0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58,
	0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
	0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a,
	0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
	0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c,
	0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
	0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e,
	0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
	0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60,
	0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
	0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e,
	0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
	0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b,
	0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
	0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45,
	0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

/* Puts the controller in its post-firmware state; ops may be NULL. */
void i8042_init(struct i8042 *k, const struct i8042_ops *ops, void *opaque)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->ops = ops;
	k->opaque = opaque;
	k->ctr = CTR_DEFAULT;
	ps2kbd_init(&k->kbd);
}

/* Releases the mutex; the model must no longer be in use. */
void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

/* IRQ 1 follows "a keyboard byte is waiting and CTR enables interrupts".
 * The line is edge-triggered (ISA): each byte gets its own rising edge,
 * see i8042_io_read. */
static void update_irq(struct i8042 *k)
{
	int level = k->count && !(k->queue[k->head] & Q_AUX) && (k->ctr & CTR_KBDINT);

	if (level == k->irq_level)
		return;
	k->irq_level = level;
	if (k->ops && k->ops->set_irq)
		k->ops->set_irq(k->opaque, level);
}

static void push(struct i8042 *k, uint16_t v)
{
	if (k->count == I8042_QUEUE_SIZE) {
		k->dropped++;
		return;
	}
	k->queue[(k->head + k->count++) % I8042_QUEUE_SIZE] = v;
}

/* Bytes from the keyboard as the guest will read them: translated when
 * CTR says so. `f0` carries a pending break prefix across calls. Returns
 * the number of bytes written to out (at most n). */
static int translate(const struct i8042 *k, const uint8_t *in, int n, uint8_t *out,
		     uint8_t *f0)
{
	int i, m = 0;

	for (i = 0; i < n; i++) {
		uint8_t b = in[i];

		if (!(k->ctr & CTR_XLATE)) {
			out[m++] = b;
		} else if (b == 0xf0) {
			*f0 = 0x80;
		} else {
			if (b < 0x80)
				b = xlate_table[b];
			else if (b == 0x83)
				b = 0x41;
			else if (b == 0x84)
				b = 0x54;
			out[m++] = b | *f0;
			*f0 = 0;
		}
	}
	return m;
}

static void push_kbd(struct i8042 *k, const uint8_t *in, int n)
{
	uint8_t out[PS2KBD_MAX_REPLY];
	int i, m = translate(k, in, n, out, &k->xlate_f0);

	for (i = 0; i < m; i++)
		push(k, out[i]);
}

/*
 * Guest read of an absolute port: 0x64 gives the status (never busy),
 * 0x60 takes the next queued byte (0 when empty). Other ports read 0xff,
 * like an undriven ISA bus.
 */
uint8_t i8042_io_read(struct i8042 *k, uint16_t port)
{
	uint8_t val = 0xff;

	pthread_mutex_lock(&k->lock);
	if (port == I8042_COMMAND_PORT) {
		val = STS_SYS | STS_KEYLOCK;
		if (k->count)
			val |= STS_OBF | (k->queue[k->head] & Q_AUX ? STS_AUXDATA : 0);
	} else if (port == I8042_DATA_PORT) {
		val = 0;
		if (k->count) {
			val = (uint8_t)k->queue[k->head];
			k->head = (k->head + 1) % I8042_QUEUE_SIZE;
			k->count--;
			/* a falling edge, so the next byte raises a new one */
			if (k->irq_level) {
				k->irq_level = 0;
				if (k->ops && k->ops->set_irq)
					k->ops->set_irq(k->opaque, 0);
			}
			update_irq(k);
		}
	}
	pthread_mutex_unlock(&k->lock);
	return val;
}

/* A command byte written to port 0x64; returns 1 to reset the machine. */
static int i8042_command(struct i8042 *k, uint8_t val)
{
	k->cmd = 0;
	switch (val) {
	case CMD_READ_CTR:
		push(k, k->ctr);
		return 0;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPUT:
	case CMD_WRITE_KBD_OUT:
	case CMD_WRITE_AUX_OUT:
	case CMD_WRITE_AUX:
		k->cmd = val;
		return 0;
	case CMD_AUX_DISABLE:
		k->ctr |= CTR_AUXDIS;
		return 0;
	case CMD_AUX_ENABLE:
		return 0;               /* there is no aux port to enable */
	case CMD_AUX_TEST:
		push(k, AUX_TEST_NONE);
		return 0;
	case CMD_SELF_TEST:
		push(k, SELF_TEST_OK);
		return 0;
	case CMD_KBD_TEST:
		push(k, KBD_TEST_OK);
		return 0;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		return 0;
	case CMD_KBD_ENABLE:
		k->ctr &= ~CTR_KBDDIS;
		return 0;
	case CMD_READ_OUTPUT:
		push(k, OUTPUT_PORT);
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
	uint8_t cmd = k->cmd, reply[PS2KBD_MAX_REPLY];

	k->cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = val;
		k->xlate_f0 = 0;
		return 0;
	case CMD_WRITE_OUTPUT:
		return !(val & 0x01);   /* reset line driven low */
	case CMD_WRITE_KBD_OUT:
		push(k, val);
		return 0;
	case CMD_WRITE_AUX_OUT:
		push(k, Q_AUX | AUX_NO_LOOP);
		return 0;
	case CMD_WRITE_AUX:
		return 0;               /* no aux device: dropped */
	}
	push_kbd(k, reply, ps2kbd_write(&k->kbd, val, reply));
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
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->ops && k->ops->reset)
		k->ops->reset(k->opaque);
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	uint8_t keys[PS2KBD_MAX_REPLY], out[PS2KBD_MAX_REPLY], f0;
	int i, n, r = 0;

	pthread_mutex_lock(&k->lock);
	if (!(k->ctr & CTR_KBDINT) || (k->ctr & CTR_KBDDIS) || !k->kbd.scanning) {
		r = -ENODEV;
		goto out;
	}
	f0 = k->xlate_f0;
	n = translate(k, keys, ps2kbd_ctrl_alt_del(&k->kbd, keys), out, &f0);
	if (k->count + (unsigned)n > I8042_QUEUE_SIZE) {
		r = -ENOSPC;            /* all or nothing: no stuck keys */
		goto out;
	}
	k->xlate_f0 = f0;
	for (i = 0; i < n; i++)
		push(k, out[i]);
	update_irq(k);
out:
	pthread_mutex_unlock(&k->lock);
	return r;
}

