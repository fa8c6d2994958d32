/*
 * The device table: every legacy device and where it sits on the port bus.
 * Explicit on purpose (no constructors), so it reads with grep.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nkvm/log.h"
#include "nkvm/vm.h"

static void serial_set_irq(void *opaque, int level)
{
	struct vm *vm = opaque;

	vm_irq_line(vm, SERIAL_COM1_IRQ, level);
}

static void serial_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct vm *vm = opaque;

	while (len) {
		ssize_t w = write(vm->cfg.console_out_fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;         /* output closed: drop, the guest goes on */
		buf += w;
		len -= (size_t)w;
	}
}

/* The guest drained the input buffer: wake the main loop to push more. */
static void serial_rx_ready(void *opaque)
{
	struct vm *vm = opaque;
	uint64_t one = 1;

	if (vm->console_efd >= 0 && write(vm->console_efd, &one, sizeof(one)) < 0)
		return;
}

static const struct serial8250_ops serial_ops = {
	.set_irq = serial_set_irq,
	.tx = serial_tx,
	.rx_ready = serial_rx_ready,
};

static void serial_pio(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	struct vm *vm = opaque;
	unsigned i;

	/* wider accesses are split into bytes, as on the ISA bus */
	for (i = 0; i < len && off + i < SERIAL_NR_PORTS; i++) {
		if (wr)
			serial_io_write(&vm->serial, off + i, data[i]);
		else
			data[i] = serial_io_read(&vm->serial, off + i);
	}
}

static void kbd_reset(void *opaque)
{
	vm_request_stop(opaque, VM_STOP_RESET, EXIT_GUEST_OK);
}

static void kbd_set_irq(void *opaque, int level)
{
	vm_irq_line(opaque, I8042_KBD_IRQ, level);
}

static const struct i8042_ops kbd_ops = {
	.reset = kbd_reset,
	.set_irq = kbd_set_irq,
};

/* Ports 0x60 and 0x64 are two one-byte ranges (0x61 belongs to the
 * in-kernel PIT), so each gets its own handler to know which it is. */
static void kbd_access(struct vm *vm, uint16_t port, uint8_t *data, unsigned len, bool wr)
{
	if (wr)
		i8042_io_write(&vm->kbd, port, data[0]);
	else
		memset(data, i8042_io_read(&vm->kbd, port), len);
}

static void kbd_data_pio(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	kbd_access(opaque, I8042_DATA_PORT, data, len, wr);
}

static void kbd_cmd_pio(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	kbd_access(opaque, I8042_COMMAND_PORT, data, len, wr);
}

static void rtc_pio(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	struct vm *vm = opaque;

	if (wr)
		rtc_io_write(&vm->rtc, RTC_INDEX_PORT + off, data[0]);
	else
		memset(data, rtc_io_read(&vm->rtc, RTC_INDEX_PORT + off), len);
}

/* Port 0x501: the guest's exit status (nkvm-init's nkvm.cmd result). */
static void exit_port(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	if (wr)
		vm_request_stop(opaque, VM_STOP_EXIT_PORT, data[0]);
	else
		memset(data, 0, len);
}

/* Port 0x502: the guest is ready for console input (a gated console,
 * `nkvm sandbox`): wake the main loop to start reading stdin. */
static void input_port(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	struct vm *vm = opaque;
	uint64_t one = 1;

	if (!wr) {
		memset(data, 0, len);
		return;
	}
	vm->input_open = true;
	if (vm->console_efd >= 0 && write(vm->console_efd, &one, sizeof(one)) < 0)
		return;
}

/* Port 0x80 is Linux's I/O delay port: accepted and ignored, not counted. */
static void io_delay(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool wr)
{
	if (!wr)
		memset(data, 0xff, len);
}

int devices_init(struct vm *vm)
{
	int r;

	serial_init(&vm->serial, &serial_ops, vm);
	i8042_init(&vm->kbd, &kbd_ops, vm);
	rtc_init(&vm->rtc);
	r = bus_add(&vm->pio, SERIAL_COM1_BASE, SERIAL_NR_PORTS, serial_pio, vm, "com1");
	if (!r)
		r = bus_add(&vm->pio, I8042_DATA_PORT, 1, kbd_data_pio, vm, "i8042-data");
	if (!r)
		r = bus_add(&vm->pio, I8042_COMMAND_PORT, 1, kbd_cmd_pio, vm, "i8042-cmd");
	if (!r)
		r = bus_add(&vm->pio, RTC_INDEX_PORT, 2, rtc_pio, vm, "rtc");
	if (!r)
		r = bus_add(&vm->pio, VM_EXIT_PORT, 1, exit_port, vm, "exit");
	if (!r)
		r = bus_add(&vm->pio, VM_INPUT_PORT, 1, input_port, vm, "input");
	if (!r)
		r = bus_add(&vm->pio, 0x80, 1, io_delay, vm, "io-delay");
	if (r)
		log_err("device setup: %s", strerror(-r));
	return r;
}
