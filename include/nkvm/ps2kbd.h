/*
 * A PS/2 keyboard, the device on the i8042's first port: the command set
 * Linux's atkbd driver sends (reset, identify, scan-code set, LEDs,
 * typematic, enable/disable, echo) and the make/break codes nkvm injects
 * (Ctrl-Alt-Del). No lock of its own: the i8042 that owns it serialises.
 */
#ifndef NKVM_PS2KBD_H
#define NKVM_PS2KBD_H

#include <stdbool.h>
#include <stdint.h>

/* The most bytes the keyboard sends for one command byte (GET ID: ACK
 * plus two ID bytes) or one injected key sequence. */
#define PS2KBD_MAX_REPLY 12

#define PS2KBD_ACK    0xfa
#define PS2KBD_RESEND 0xfe  /* what a keyboard answers an unknown command */
#define PS2KBD_BAT_OK 0xaa  /* basic assurance test passed, after a reset */

struct ps2kbd {
	uint8_t pending;        /* command waiting for its parameter, or 0 */
	uint8_t set;            /* scan-code set in use: 1 or 2 */
	uint8_t leds;
	uint8_t typematic;
	uint8_t last;           /* last byte sent, for RESEND (0xFE) */
	bool scanning;          /* enabled (0xF4, or after a reset) */
};

/* Power-on state: set 2, scanning off until a driver resets or enables
 * it (so nkvm can tell that no driver ever took the keyboard). */
void ps2kbd_init(struct ps2kbd *kb);

/* A byte the host (the guest's driver) sent to the keyboard. Writes the
 * keyboard's answer to out (up to PS2KBD_MAX_REPLY bytes) and returns its
 * length. Any byte is accepted; unknown commands get RESEND. */
int ps2kbd_write(struct ps2kbd *kb, uint8_t byte, uint8_t *out);

/* Make and break codes of Ctrl, Alt and Delete in the current set, for
 * out (PS2KBD_MAX_REPLY bytes); returns the length. */
int ps2kbd_ctrl_alt_del(const struct ps2kbd *kb, uint8_t *out);

#endif
