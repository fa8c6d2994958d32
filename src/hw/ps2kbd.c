/*
 * A PS/2 keyboard behind the i8042 (see ps2kbd.h): what Linux's atkbd
 * probe and setup send (drivers/input/keyboard/atkbd.c: optional reset,
 * GET ID, disable, LEDs, typematic rate, enable), answered like a standard
 * MF2 keyboard. Scan-code sets 1 and 2 only: set 3 is refused (RESEND), so
 * a driver asking for it falls back to set 2.
 */
#include <string.h>

#include "nkvm/ps2kbd.h"

#define CMD_SET_LEDS     0xed
#define CMD_ECHO         0xee
#define CMD_SCAN_SET     0xf0
#define CMD_GET_ID       0xf2
#define CMD_TYPEMATIC    0xf3
#define CMD_ENABLE       0xf4
#define CMD_DISABLE      0xf5
#define CMD_SET_DEFAULTS 0xf6
#define CMD_RESEND       0xfe
#define CMD_RESET        0xff

/* MF2 keyboard ID; a translating i8042 turns 0x83 into 0x41 on its way */
#define KBD_ID0 0xab
#define KBD_ID1 0x83

#define TYPEMATIC_DEFAULT 0x2b  /* 10.9 characters/s after 500 ms */

static void set_defaults(struct ps2kbd *kb)
{
	kb->set = 2;
	kb->leds = 0;
	kb->typematic = TYPEMATIC_DEFAULT;
}

void ps2kbd_init(struct ps2kbd *kb)
{
	memset(kb, 0, sizeof(*kb));
	set_defaults(kb);
}

/* The parameter byte of a pending command; returns the reply length. */
static int kbd_param(struct ps2kbd *kb, uint8_t cmd, uint8_t p, uint8_t *out)
{
	switch (cmd) {
	case CMD_SET_LEDS:
		kb->leds = p & 0x07;
		break;
	case CMD_TYPEMATIC:
		kb->typematic = p;
		break;
	case CMD_SCAN_SET:
		if (p == 0) {
			out[0] = PS2KBD_ACK;
			out[1] = kb->set;
			return 2;
		}
		if (p != 1 && p != 2)
			return out[0] = PS2KBD_RESEND, 1;
		kb->set = p;
		break;
	}
	out[0] = PS2KBD_ACK;
	return 1;
}

static int kbd_command(struct ps2kbd *kb, uint8_t c, uint8_t *out)
{
	switch (c) {
	case CMD_SET_LEDS:
	case CMD_TYPEMATIC:
	case CMD_SCAN_SET:
		kb->pending = c;
		break;
	case CMD_ECHO:
		out[0] = CMD_ECHO;
		return 1;
	case CMD_GET_ID:
		out[0] = PS2KBD_ACK;
		out[1] = KBD_ID0;
		out[2] = KBD_ID1;
		return 3;
	case CMD_ENABLE:
		kb->scanning = true;
		break;
	case CMD_DISABLE:
		set_defaults(kb);
		kb->scanning = false;
		break;
	case CMD_SET_DEFAULTS:
		set_defaults(kb);
		break;
	case CMD_RESET:
		set_defaults(kb);
		kb->scanning = true;
		out[0] = PS2KBD_ACK;
		out[1] = PS2KBD_BAT_OK;
		return 2;
	default:
		/* 0xEF, 0xF1, the set-3 commands 0xF7-0xFD, and anything
		 * that is not a command at all */
		out[0] = PS2KBD_RESEND;
		return 1;
	}
	out[0] = PS2KBD_ACK;
	return 1;
}

int ps2kbd_write(struct ps2kbd *kb, uint8_t byte, uint8_t *out)
{
	uint8_t pending = kb->pending;
	int n;

	kb->pending = 0;
	if (byte == CMD_RESEND) {
		out[0] = kb->last;
		return 1;
	}
	/* parameters are below 0x80; a command byte instead aborts the
	 * pending command, as on a real keyboard */
	if (pending && !(byte & 0x80))
		n = kbd_param(kb, pending, byte, out);
	else
		n = kbd_command(kb, byte, out);
	kb->last = out[n - 1];
	return n;
}

int ps2kbd_ctrl_alt_del(const struct ps2kbd *kb, uint8_t *out)
{
	/* Left Ctrl, left Alt, Delete (an E0-extended key) pressed, then
	 * released in reverse order. Set 1 marks a break with bit 7, set 2
	 * with an 0xF0 prefix. */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53,
					0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71,
					0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };
	_Static_assert(sizeof(set2) <= PS2KBD_MAX_REPLY, "reply too long");

	if (kb->set == 1) {
		memcpy(out, set1, sizeof(set1));
		return sizeof(set1);
	}
	memcpy(out, set2, sizeof(set2));
	return sizeof(set2);
}
