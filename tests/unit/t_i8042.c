/* Unit tests for the i8042 and its PS/2 keyboard: reset paths, status and
 * data reads, the command sequences Linux's i8042 and atkbd drivers send,
 * IRQ 1 edges, the bounded queue, garbage, and Ctrl-Alt-Del. */
#include <errno.h>

#include "nkvm/i8042.h"
#include "tap.h"

static int resets;
static int irq_level, irq_rises, irq_changes;

static void on_reset(void *opaque)
{
	int *n = opaque;

	(*n)++;
}

static void on_irq(void *opaque, int level)
{
	irq_changes++;
	irq_rises += level && !irq_level;
	irq_level = level;
}

static const struct i8042_ops ops = { .reset = on_reset, .set_irq = on_irq };

static uint8_t rd(struct i8042 *k, uint16_t port)
{
	return i8042_io_read(k, port);
}

static void wr(struct i8042 *k, uint16_t port, uint8_t v)
{
	i8042_io_write(k, port, v);
}

static void init(struct i8042 *k)
{
	resets = irq_level = irq_rises = irq_changes = 0;
	i8042_init(k, &ops, &resets);
}

/* Reads everything queued into buf (at most max); returns the count. */
static int drain(struct i8042 *k, uint8_t *buf, int max)
{
	int n = 0;

	while ((rd(k, 0x64) & 0x01) && n < max + 1) {
		uint8_t b = rd(k, 0x60);

		if (n < max)
			buf[n] = b;
		n++;
	}
	return n;
}

/* Sends one byte to the keyboard and checks the exact reply. */
static int kbd_says(struct i8042 *k, uint8_t cmd, const uint8_t *want, int nwant)
{
	uint8_t got[32];
	int i, n;

	wr(k, 0x60, cmd);
	n = drain(k, got, 32);
	if (n != nwant) {
		diag("  byte 0x%02x: %d reply bytes, want %d", cmd, n, nwant);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (got[i] != want[i]) {
			diag("  byte 0x%02x: reply[%d] = 0x%02x, want 0x%02x",
			     cmd, i, got[i], want[i]);
			return 0;
		}
	return 1;
}

/* A controller command with an optional parameter and one reply byte. */
static int ctl_cmd(struct i8042 *k, uint8_t cmd, int param)
{
	wr(k, 0x64, cmd);
	if (param >= 0)
		wr(k, 0x60, (uint8_t)param);
	if (!(rd(k, 0x64) & 0x01))
		return -1;
	return rd(k, 0x60);
}

static void test_status_data(void)
{
	struct i8042 k;

	init(&k);
	is_int(rd(&k, 0x64), 0x14, "status: system flag, not inhibited, buffer empty");
	is_int(rd(&k, 0x60), 0, "data read with nothing buffered gives 0");

	wr(&k, 0x64, 0xaa);
	is_int(rd(&k, 0x64), 0x15, "self test: output buffer full");
	is_int(rd(&k, 0x60), 0x55, "self test answers 0x55");
	is_int(rd(&k, 0x64), 0x14, "data read empties the buffer");
	is_int(rd(&k, 0x60), 0, "second read gives 0");

	is_int(ctl_cmd(&k, 0x20, -1), 0x74, "default command byte: translate, ports off, sys");
	wr(&k, 0x64, 0x60);
	is_int(rd(&k, 0x64), 0x14, "write command byte: nothing to read");
	wr(&k, 0x60, 0x47);
	is_int(ctl_cmd(&k, 0x20, -1), 0x47, "command byte written through 0x60 reads back");
	is_int(ctl_cmd(&k, 0xab, -1), 0x00, "keyboard interface test: 0x00");
	is_int(ctl_cmd(&k, 0xd0, -1), 0x03, "output port: reset line high, A20");
	is_int(ctl_cmd(&k, 0xd2, 0x5c), 0x5c, "0xD2: byte comes back as keyboard data");

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
	unsigned maxq = 0;

	init(&k);
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

	/* every other command byte, with any data byte, is harmless */
	bad = 0;
	for (c = 0; c < 0xf0 * 256; c++) {
		if (c >> 8 == 0xd1)
			continue;
		wr(&k, 0x64, (uint8_t)(c >> 8));
		wr(&k, 0x60, (uint8_t)c);
		if (k.count > maxq)
			maxq = k.count;
		if (c % 3 == 0)
			rd(&k, 0x60);
	}
	bad += resets != 2;
	is_int(bad, 0, "commands 0x00-0xEF with every data byte never reset");
	ok(maxq <= I8042_QUEUE_SIZE, "queue stayed within its bound (max %u)", maxq);
	is_int(rd(&k, 0x64) & 0x04, 0x04, "status still sane");
	i8042_destroy(&k);

	i8042_init(&k, NULL, NULL);
	wr(&k, 0x64, 0xfe);
	wr(&k, 0x64, 0x20);
	rd(&k, 0x60);
	ok(1, "reset and reads with no callbacks do not crash");
	i8042_destroy(&k);
}

/* What Linux's i8042 driver does when it probes, up to the keyboard port
 * being enabled (drivers/input/serio/i8042.c). */
static void linux_i8042_probe(struct i8042 *k, int xlate)
{
	uint8_t buf[32];
	int ctr;

	ok(drain(k, buf, 32) <= 16, "flush: at most 16 bytes");
	is_int(ctl_cmd(k, 0xaa, -1), 0x55, "probe: self test 0x55");
	ctr = ctl_cmd(k, 0x20, -1);
	is_int(ctl_cmd(k, 0x20, -1), ctr, "probe: CTR reads stable");
	ok(rd(k, 0x64) & 0x10, "probe: keylock bit says not inhibited");
	ctr = (ctr | 0x10) & ~0x01;
	if (!xlate)
		ctr &= ~0x40;
	wr(k, 0x64, 0x60);
	wr(k, 0x60, (uint8_t)ctr);
	is_int(ctl_cmd(k, 0x20, -1), ctr, "probe: CTR written");

	/* i8042_check_aux(): loopback, then the aux interface test */
	wr(k, 0x64, 0xd3);
	wr(k, 0x60, 0x5a);
	is_int(rd(k, 0x64) & 0x21, 0x21, "aux loop: reply flagged as aux data");
	ok(rd(k, 0x60) != 0x5a, "aux loop: nothing loops the byte back");
	is_int(ctl_cmd(k, 0xa9, -1), 0x01, "aux test: 0x01, no aux port");
	is_int(irq_rises, 0, "no interrupt while CTR has them off");

	/* i8042_enable_kbd_port() */
	ctr = (ctr & ~0x10) | 0x01;
	wr(k, 0x64, 0x60);
	wr(k, 0x60, (uint8_t)ctr);
	is_int(irq_level, 0, "keyboard port enabled, nothing queued: IRQ low");
}

/* What atkbd sends: reset, GET ID, disable, LEDs, typematic, enable. */
static void atkbd_probe(struct i8042 *k, int xlate)
{
	static const uint8_t ack[] = { 0xfa }, ack_bat[] = { 0xfa, 0xaa },
		id_x[] = { 0xfa, 0xab, 0x41 }, id[] = { 0xfa, 0xab, 0x83 };
	int rises = irq_rises;

	ok(kbd_says(k, 0xff, ack_bat, 2), "atkbd: reset -> ACK, BAT ok");
	ok(irq_rises - rises == 2, "one IRQ edge per byte (%d)", irq_rises - rises);
	ok(kbd_says(k, 0xf2, xlate ? id_x : id, 3), "atkbd: GET ID -> ACK AB %s",
	   xlate ? "41 (translated)" : "83");
	ok(kbd_says(k, 0xf5, ack, 1), "atkbd: disable -> ACK");
	ok(kbd_says(k, 0xed, ack, 1) && kbd_says(k, 0x00, ack, 1),
	   "atkbd: set LEDs + param -> ACK, ACK");
	ok(kbd_says(k, 0xf3, ack, 1) && kbd_says(k, 0x00, ack, 1),
	   "atkbd: typematic + param -> ACK, ACK");
	ok(kbd_says(k, 0xf4, ack, 1), "atkbd: enable -> ACK");
	is_int(irq_level, 0, "IRQ low once everything is read");
}

static int got_keys(struct i8042 *k, const uint8_t *want, int n)
{
	uint8_t got[32];
	int i, m = drain(k, got, 32);

	if (m != n) {
		diag("  %d key bytes, want %d", m, n);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (got[i] != want[i]) {
			diag("  key byte %d = 0x%02x, want 0x%02x", i, got[i], want[i]);
			return 0;
		}
	return 1;
}

static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
static const uint8_t cad_set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
				    0xf0, 0x11, 0xf0, 0x14 };

static void test_linux_translated(void)
{
	struct i8042 k;
	int rises;

	init(&k);
	is_int(i8042_send_ctrl_alt_del(&k), -ENODEV, "Ctrl-Alt-Del before any driver: -ENODEV");
	is_int(k.count, 0, "... and nothing queued");
	linux_i8042_probe(&k, 1);
	is_int(i8042_send_ctrl_alt_del(&k), -ENODEV,
	       "interrupts on but the keyboard never enabled: -ENODEV");
	atkbd_probe(&k, 1);

	rises = irq_rises;
	is_int(i8042_send_ctrl_alt_del(&k), 0, "Ctrl-Alt-Del once atkbd enabled the keyboard");
	is_int(irq_level, 1, "IRQ 1 raised");
	ok(got_keys(&k, cad_set1, sizeof(cad_set1)),
	   "translated: set 1 make/break of Ctrl, Alt, E0 Delete");
	is_int(irq_rises - rises, (int)sizeof(cad_set1), "one edge per byte");
	is_int(resets, 0, "no reset on the way");

	/* disable the port (AD), as Linux does around suspend: keys refused */
	wr(&k, 0x64, 0xad);
	is_int(i8042_send_ctrl_alt_del(&k), -ENODEV, "keyboard port disabled: -ENODEV");
	wr(&k, 0x64, 0xae);
	is_int(i8042_send_ctrl_alt_del(&k), 0, "enabled again: accepted");
	drain(&k, (uint8_t[32]){ 0 }, 32);
	ok(kbd_says(&k, 0xf5, (const uint8_t[]){ 0xfa }, 1), "keyboard disable (F5)");
	is_int(i8042_send_ctrl_alt_del(&k), -ENODEV, "scanning disabled: -ENODEV");
	i8042_destroy(&k);
}

static void test_linux_direct(void)
{
	struct i8042 k;
	static const uint8_t ack[] = { 0xfa }, ack_set2[] = { 0xfa, 0x02 };

	init(&k);
	linux_i8042_probe(&k, 0);
	atkbd_probe(&k, 0);
	is_int(i8042_send_ctrl_alt_del(&k), 0, "direct mode: Ctrl-Alt-Del accepted");
	ok(got_keys(&k, cad_set2, sizeof(cad_set2)),
	   "untranslated: set 2 codes with F0 break prefixes");

	ok(kbd_says(&k, 0xf0, ack, 1) && kbd_says(&k, 0x00, ack_set2, 2),
	   "get scan-code set: ACK, 2");
	ok(kbd_says(&k, 0xf0, ack, 1) && kbd_says(&k, 0x01, ack, 1), "select set 1");
	is_int(i8042_send_ctrl_alt_del(&k), 0, "set 1: Ctrl-Alt-Del accepted");
	ok(got_keys(&k, cad_set1, sizeof(cad_set1)), "set 1 codes");
	ok(kbd_says(&k, 0xf0, ack, 1) && kbd_says(&k, 0x03, (const uint8_t[]){ 0xfe }, 1),
	   "set 3 refused with RESEND");
	ok(kbd_says(&k, 0xf0, ack, 1) && kbd_says(&k, 0x00, (const uint8_t[]){ 0xfa, 0x01 }, 2),
	   "still set 1");
	ok(kbd_says(&k, 0xff, (const uint8_t[]){ 0xfa, 0xaa }, 2), "reset");
	ok(kbd_says(&k, 0xf0, ack, 1) && kbd_says(&k, 0x00, ack_set2, 2),
	   "reset brings back set 2");
	i8042_destroy(&k);
}

static void test_kbd_garbage(void)
{
	struct i8042 k;
	static const uint8_t resend[] = { 0xfe };
	unsigned b;
	int bad = 0;

	init(&k);
	wr(&k, 0x64, 0x60);
	wr(&k, 0x60, 0x01);     /* interrupts, no translation */
	ok(kbd_says(&k, 0xee, (const uint8_t[]){ 0xee }, 1), "echo: EE, no ACK");
	ok(kbd_says(&k, 0x42, resend, 1), "not a command: RESEND");
	ok(kbd_says(&k, 0xf1, resend, 1), "unknown command F1: RESEND");
	ok(kbd_says(&k, 0xfe, resend, 1), "RESEND repeats the last byte");
	ok(kbd_says(&k, 0xed, (const uint8_t[]){ 0xfa }, 1) &&
	   kbd_says(&k, 0xf4, (const uint8_t[]){ 0xfa }, 1),
	   "a command instead of the LED parameter aborts and runs");
	is_int(k.kbd.scanning, 1, "... F4 took effect");
	is_int(k.kbd.pending, 0, "... nothing pending");
	ok(kbd_says(&k, 0xed, (const uint8_t[]){ 0xfa }, 1) &&
	   kbd_says(&k, 0x7f, (const uint8_t[]){ 0xfa }, 1), "LED parameter 0x7f accepted");
	is_int(k.kbd.leds, 0x07, "only three LED bits kept");

	/* every byte, twice (as a command and as a parameter), read back */
	for (b = 0; b < 512; b++) {
		wr(&k, 0x60, (uint8_t)b);
		if (k.count > I8042_QUEUE_SIZE)
			bad++;
		drain(&k, (uint8_t[32]){ 0 }, 32);
	}
	is_int(bad, 0, "every keyboard byte answered within the queue bound");
	is_int(resets, 0, "no keyboard byte resets the machine");
	i8042_destroy(&k);
}

static void test_queue_bounds(void)
{
	struct i8042 k;
	int i, n;

	init(&k);
	for (i = 0; i < 20; i++)
		wr(&k, 0x64, 0xaa);
	is_int(k.count, I8042_QUEUE_SIZE, "20 replies: queue holds 16");
	is_int(k.dropped, 4, "4 dropped");
	is_int(irq_rises, 0, "no IRQ: CTR has interrupts off");
	n = drain(&k, (uint8_t[32]){ 0 }, 32);
	is_int(n, I8042_QUEUE_SIZE, "16 bytes read back");
	is_int(rd(&k, 0x60), 0, "then empty");

	/* an enabled keyboard, a full queue: Ctrl-Alt-Del is all or nothing */
	wr(&k, 0x64, 0x60);
	wr(&k, 0x60, 0x41);     /* interrupts, translation, ports enabled */
	wr(&k, 0x60, 0xf4);     /* enable scanning: ACK queued */
	is_int(irq_level, 1, "IRQ raised for the ACK");
	for (i = 0; i < 8; i++)
		wr(&k, 0x64, 0x20);
	is_int(i8042_send_ctrl_alt_del(&k), -ENOSPC, "9 bytes queued: 8 more do not fit");
	is_int(k.count, 9, "nothing partial queued");
	rd(&k, 0x60);
	is_int(irq_level, 1, "IRQ still up while bytes wait");
	is_int(i8042_send_ctrl_alt_del(&k), 0, "8 queued: 8 more fit exactly");
	is_int(k.count, 16, "queue full");
	is_int(drain(&k, (uint8_t[32]){ 0 }, 32), 16, "all read back");
	is_int(irq_level, 0, "IRQ low when empty");

	/* interrupts switched off with data queued lower the line */
	wr(&k, 0x64, 0xaa);
	is_int(irq_level, 1, "controller reply raises IRQ 1 too");
	wr(&k, 0x64, 0x60);
	wr(&k, 0x60, 0x40);
	is_int(irq_level, 0, "CTR without KBDINT lowers it");
	i8042_destroy(&k);
}

int main(void)
{
	test_status_data();
	test_reset();
	test_linux_translated();
	test_linux_direct();
	test_kbd_garbage();
	test_queue_bounds();
	return done_testing();
}
