/* Unit tests for the 16550A model: registers, interrupts, receive ring. */
#include <stdlib.h>

#include "nkvm/serial8250.h"
#include "tap.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2,
       LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

/* Fake owner: records every callback. */
struct fake {
	int irq_calls;
	int irq_level;
	int bad_irq_calls;	/* set_irq with an unchanged level */
	int ready_calls;
	uint8_t tx[256];
	size_t tx_len;
	int tx_calls;
};

static void fake_set_irq(void *opaque, int level)
{
	struct fake *f = opaque;

	if (f->irq_calls && level == f->irq_level)
		f->bad_irq_calls++;
	f->irq_calls++;
	f->irq_level = level;
}

static void fake_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct fake *f = opaque;

	f->tx_calls++;
	for (size_t i = 0; i < len && f->tx_len < sizeof(f->tx); i++)
		f->tx[f->tx_len++] = buf[i];
}

static void fake_rx_ready(void *opaque)
{
	struct fake *f = opaque;

	f->ready_calls++;
}

static const struct serial8250_ops fake_ops = {
	.set_irq = fake_set_irq,
	.tx = fake_tx,
	.rx_ready = fake_rx_ready,
};

static struct serial8250 *new_uart(struct fake *f)
{
	struct serial8250 *s = malloc(sizeof(*s));

	if (!s)
		abort();
	memset(f, 0, sizeof(*f));
	serial_init(s, &fake_ops, f);
	return s;
}

static void free_uart(struct serial8250 *s)
{
	serial_destroy(s);
	free(s);
}

static uint8_t rd(struct serial8250 *s, unsigned off)
{
	return serial_io_read(s, off);
}

static void wr(struct serial8250 *s, unsigned off, uint8_t v)
{
	serial_io_write(s, off, v);
}

static void test_reset(void)
{
	struct fake f;
	struct serial8250 *s = new_uart(&f);

	is_int(rd(s, IIR), 0x01, "reset: IIR = 0x01 (no interrupt, FIFOs off)");
	is_int(rd(s, LSR), 0x60, "reset: LSR = 0x60 (THRE|TEMT)");
	is_int(rd(s, IER), 0, "reset: IER = 0");
	is_int(rd(s, LCR), 0, "reset: LCR = 0");
	is_int(rd(s, MCR), 0, "reset: MCR = 0");
	is_int(rd(s, MSR), 0xb0, "reset: MSR = CTS|DSR|DCD, no deltas");
	is_int(rd(s, RBR), 0, "reset: RBR reads 0 when empty");
	is_int(f.irq_calls, 0, "reset: no set_irq call");
	is_int(f.tx_calls, 0, "reset: no tx call");
	free_uart(s);
}

static void test_regs(void)
{
	struct fake f;
	struct serial8250 *s = new_uart(&f);

	wr(s, SCR, 0xa5);
	is_int(rd(s, SCR), 0xa5, "scratch register holds a value");
	wr(s, IER, 0xff);
	is_int(rd(s, IER), 0x0f, "IER keeps only bits 3:0");
	wr(s, IER, 0);
	wr(s, MCR, 0xff);
	is_int(rd(s, MCR), 0x1f, "MCR keeps only bits 4:0");
	wr(s, MCR, 0);
	wr(s, LCR, 0x03);
	is_int(rd(s, LCR), 0x03, "LCR 8N1 reads back");
	wr(s, LSR, 0x00);
	is_int(rd(s, LSR), 0x60, "LSR writes are ignored");

	/* DLAB: offsets 0/1 are the divisor latch, not THR/IER */
	wr(s, LCR, 0x83);
	wr(s, DLL, 0x01);
	wr(s, DLM, 0x02);
	is_int(rd(s, DLL), 0x01, "DLAB: DLL reads back");
	is_int(rd(s, DLM), 0x02, "DLAB: DLM reads back");
	is_int(f.tx_calls, 0, "DLAB: DLL write did not transmit");
	wr(s, LCR, 0x03);
	is_int(rd(s, IER), 0, "DLAB: DLM write did not touch IER");
	is_int(s->dll | (s->dlm << 8), 0x0201, "divisor latch = 0x0201");
	wr(s, LCR, 0x83);
	wr(s, IER, 0x0f);	/* DLM write again */
	wr(s, LCR, 0x03);
	is_int(rd(s, IER), 0, "IER untouched by DLM write");

	/* offsets past the register file */
	wr(s, 8, 0x41);
	wr(s, 100, 0x41);
	is_int(rd(s, 8), 0, "offset 8 reads 0");
	is_int(rd(s, 0xffff), 0, "offset 0xffff reads 0");
	is_int(f.tx_calls, 0, "writes past offset 7 are ignored");
	is_int(rd(s, SCR), 0xa5, "scratch unaffected by offset 8+ writes");
	free_uart(s);
}

static void test_tx_thre(void)
{
	struct fake f;
	struct serial8250 *s = new_uart(&f);

	wr(s, THR, 'A');
	is_int(f.tx_calls, 1, "THR write calls tx once");
	ok(f.tx_len == 1 && f.tx[0] == 'A', "tx got the byte");
	is_int(rd(s, LSR), 0x60, "THRE|TEMT set right after a THR write");
	is_int(s->tx_bytes, 1, "tx_bytes counted");
	is_int(rd(s, IIR), 0x01, "no THRE interrupt while ETBEI is clear");

	wr(s, MCR, 0x0b);	/* DTR|RTS|OUT2 as Linux sets it */
	is_int(f.irq_calls, 0, "no irq with IER = 0");
	wr(s, IER, 0x02);
	is_int(f.irq_calls, 1, "ETBEI 0->1 with THR empty raises the line");
	is_int(f.irq_level, 1, "line is high");
	is_int(rd(s, IIR), 0x02, "IIR reports THRE");
	is_int(f.irq_level, 0, "reading IIR (THRE) lowers the line");
	is_int(rd(s, IIR), 0x01, "THRE cleared by the IIR read");
	wr(s, IER, 0x02);
	is_int(rd(s, IIR), 0x01, "rewriting ETBEI=1 (no 0->1 edge) does not re-raise");

	wr(s, THR, 'B');
	is_int(f.irq_level, 1, "next THR write re-raises THRE");
	is_int(rd(s, IIR), 0x02, "IIR reports THRE again");
	wr(s, THR, 'C');
	wr(s, THR, 'D');
	ok(f.tx_len == 4 && memcmp(f.tx, "ABCD", 4) == 0, "bytes transmitted in order");
	is_int(rd(s, IIR), 0x02, "THRE pending after a burst");
	is_int(f.irq_level, 0, "acknowledged");

	/* Linux's UART_BUG_THRE probe: IER=THRI, read IIR, IER=0, IER=THRI */
	wr(s, IER, 0x02);
	is_int(rd(s, IIR), 0x01, "no edge: nothing pending");
	wr(s, IER, 0x00);
	wr(s, IER, 0x02);
	is_int(rd(s, IIR), 0x02, "ETBEI toggled off/on: THRE again");
	wr(s, IER, 0x00);
	wr(s, THR, 'E');
	is_int(rd(s, IIR), 0x01, "THRE not reported while disabled");
	is_int(f.bad_irq_calls, 0, "set_irq only called on level changes");
	free_uart(s);
}

static void test_out2_gate(void)
{
	struct fake f;
	struct serial8250 *s = new_uart(&f);

	wr(s, IER, 0x02);
	is_int(f.irq_calls, 0, "pending THRE without OUT2: line stays low");
	is_int(rd(s, IIR) & 0x0f, 0x02, "but IIR reports it");
	wr(s, THR, 'x');
	wr(s, MCR, 0x08);
	is_int(f.irq_level, 1, "setting OUT2 raises the line");
	wr(s, MCR, 0x03);
	is_int(f.irq_level, 0, "clearing OUT2 lowers it");
	wr(s, MCR, 0x08);
	is_int(f.irq_level, 1, "and back up");
	wr(s, MCR, 0x18);
	is_int(f.irq_level, 0, "loopback forces the line off (OUT2 pin inactive)");
	wr(s, MCR, 0x08);
	is_int(f.irq_level, 1, "leaving loopback restores it");
	is_int(f.irq_calls, 5, "five edges, five calls");
	is_int(f.bad_irq_calls, 0, "no redundant set_irq calls");
	free_uart(s);
}

static void test_rx(void)
{
	struct fake f;
	struct serial8250 *s = new_uart(&f);
	static uint8_t big[SERIAL_RXBUF_LEN + 100];
	size_t n, i;
	int bad;

	wr(s, FCR, 0x01);
	is_int(rd(s, IIR), 0xc1, "FIFOs on: IIR bits 7:6 = 11");
	wr(s, MCR, 0x08);
	wr(s, IER, 0x01);
	is_int(f.irq_calls, 0, "ERBFI with nothing buffered: no irq");

	n = serial_rx_push(s, (const uint8_t *)"hi", 2);
	is_int(n, 2, "rx_push accepts 2 bytes");
	is_int(rd(s, LSR) & 0x01, 0x01, "LSR.DR set");
	is_int(f.irq_level, 1, "RDA raises the line");
	is_int(rd(s, IIR), 0xc4, "IIR = RDA | FIFO bits");
	is_int(rd(s, IIR), 0xc4, "reading IIR does not clear RDA");
	is_int(rd(s, RBR), 'h', "first byte");
	is_int(f.irq_level, 1, "still data: line stays high");
	is_int(rd(s, RBR), 'i', "second byte");
	is_int(rd(s, LSR), 0x60, "DR clear when drained");
	is_int(f.irq_level, 0, "line drops when drained");
	is_int(rd(s, IIR), 0xc1, "no interrupt pending");
	is_int(s->rx_bytes, 2, "rx_bytes counted");

	/* more than the FIFO, then the whole ring, in order */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + (i >> 8));
	n = serial_rx_push(s, big, SERIAL_FIFO_LEN * 3);
	is_int(n, SERIAL_FIFO_LEN * 3, "push 3x FIFO length");
	bad = 0;
	for (i = 0; i < SERIAL_FIFO_LEN * 3; i++)
		bad += rd(s, RBR) != big[i];
	is_int(bad, 0, "3x FIFO length read back in order");

	/* start mid-ring so the copy wraps */
	serial_rx_push(s, big, 10);
	for (i = 0; i < 10; i++)
		rd(s, RBR);
	is_int(serial_rx_space(s), SERIAL_RXBUF_LEN, "ring empty, all space free");
	n = serial_rx_push(s, big, sizeof(big));
	is_int(n, SERIAL_RXBUF_LEN, "push returns short when the ring fills");
	is_int(serial_rx_space(s), 0, "no space left");
	is_int(serial_rx_push(s, big, 1), 0, "full ring accepts nothing");
	is_int(serial_rx_push(s, big, 0), 0, "zero-length push is fine");
	is_int(f.ready_calls, 0, "no rx_ready while full");
	bad = 0;
	for (i = 0; i < SERIAL_RXBUF_LEN / 2 - 1; i++)
		bad += rd(s, RBR) != big[i];
	is_int(f.ready_calls, 0, "no rx_ready before half the ring is free");
	bad += rd(s, RBR) != big[i++];
	is_int(f.ready_calls, 1, "rx_ready once half the ring is free");
	for (; i < SERIAL_RXBUF_LEN; i++)
		bad += rd(s, RBR) != big[i];
	is_int(bad, 0, "whole ring read back in order across the wrap");
	is_int(f.ready_calls, 1, "rx_ready called once");
	is_int(rd(s, LSR) & 0x01, 0, "DR clear after draining");
	is_int(rd(s, RBR), 0, "empty RBR reads 0");

	/* FCR "clear RX" keeps host input (documented choice) */
	serial_rx_push(s, (const uint8_t *)"z", 1);
	wr(s, FCR, 0x07);
	is_int(rd(s, LSR) & 0x01, 0x01, "FCR RX reset keeps buffered host input");
	is_int(rd(s, RBR), 'z', "byte survives the FIFO reset");
	wr(s, FCR, 0x00);
	is_int(rd(s, IIR), 0x01, "FIFOs off: IIR bits 7:6 = 00");
	wr(s, FCR, 0x06);
	is_int(rd(s, IIR), 0x01, "FCR bits ignored unless bit 0 is set");
	is_int(f.bad_irq_calls, 0, "no redundant set_irq calls");
	free_uart(s);
}

static void test_priority(void)
{
	struct fake f;
	struct serial8250 *s = new_uart(&f);

	wr(s, MCR, 0x08);
	wr(s, IER, 0x03);
	is_int(rd(s, IIR), 0x02, "THRE alone");
	wr(s, THR, '1');
	serial_rx_push(s, (const uint8_t *)"a", 1);
	is_int(rd(s, IIR), 0x04, "RDA wins over THRE");
	is_int(rd(s, IIR), 0x04, "reading IIR while RDA shows keeps THRE pending");
	rd(s, RBR);
	is_int(rd(s, IIR), 0x02, "THRE shows once RX is drained");
	is_int(rd(s, IIR), 0x01, "then nothing");
	is_int(f.irq_level, 0, "line low");

	/* modem status is lowest; loopback makes deltas */
	wr(s, IER, 0x0b);
	is_int(rd(s, IIR), 0x01, "IER rewrite without an ETBEI 0->1 edge: nothing");
	wr(s, MCR, 0x18);	/* loopback, OUT2 -> DCD; DSR/CTS drop */
	is_int(rd(s, IIR), 0x00, "modem status interrupt (IIR 0x00)");
	is_int(rd(s, MSR), 0x80 | 0x03, "MSR: DCD kept, deltas DCTS|DDSR");
	is_int(rd(s, IIR), 0x01, "reading MSR cleared the deltas");
	free_uart(s);
}

static void test_loopback(void)
{
	struct fake f;
	struct serial8250 *s = new_uart(&f);

	/* Linux's autoconfig check */
	wr(s, MCR, 0x10 | 0x0a);
	is_int(rd(s, MSR) & 0xf0, 0x90, "loopback RTS|OUT2 -> CTS|DCD (0x90)");
	wr(s, MCR, 0x10 | 0x05);
	is_int(rd(s, MSR), 0x60 | 0x0b, "DTR|OUT1 -> DSR|RI, deltas on CTS/DSR/DCD");
	wr(s, MCR, 0x10);
	is_int(rd(s, MSR), 0x06, "RI trailing edge sets TERI, DSR delta");
	wr(s, THR, 'L');
	wr(s, THR, 'M');
	is_int(f.tx_calls, 0, "loopback: nothing transmitted to the host");
	is_int(rd(s, LSR), 0x61, "loopback: DR set");
	is_int(rd(s, RBR), 'L', "loopback: byte comes back");
	is_int(rd(s, RBR), 'M', "loopback: in order");
	wr(s, MCR, 0x03);
	is_int(rd(s, MSR), 0xb0 | 0x0b, "out of loopback: idle cable lines + deltas");
	is_int(rd(s, MSR), 0xb0, "deltas cleared by the read");
	wr(s, THR, 'N');
	ok(f.tx_len == 1 && f.tx[0] == 'N', "out of loopback: transmit goes to the host");
	is_int(s->tx_bytes, 1, "loopback bytes are not counted as tx");
	free_uart(s);
}

/* Event-loop thread pushes while the "vCPU" reads: nothing lost or reordered. */
#define STRESS_LEN 200000

static void *producer(void *arg)
{
	struct serial8250 *s = arg;
	uint8_t chunk[1000];
	size_t sent = 0, n, i;

	while (sent < STRESS_LEN) {
		n = sizeof(chunk) < STRESS_LEN - sent ? sizeof(chunk) : STRESS_LEN - sent;
		for (i = 0; i < n; i++)
			chunk[i] = (uint8_t)((sent + i) % 251);
		for (i = 0; i < n;)
			i += serial_rx_push(s, chunk + i, n - i);
		sent += n;
	}
	return NULL;
}

static void test_threads(void)
{
	struct fake f;
	struct serial8250 *s = new_uart(&f);
	pthread_t t;
	size_t got = 0;
	int bad = 0;

	wr(s, MCR, 0x08);
	wr(s, IER, 0x01);
	if (pthread_create(&t, NULL, producer, s))
		abort();
	while (got < STRESS_LEN) {
		if (!(rd(s, LSR) & 0x01))
			continue;
		bad += rd(s, RBR) != (uint8_t)(got % 251);
		got++;
	}
	pthread_join(t, NULL);
	is_int(bad, 0, "concurrent push/read: %d bytes in order", STRESS_LEN);
	is_int(s->rx_bytes, STRESS_LEN, "rx_bytes matches");
	is_int(f.bad_irq_calls, 0, "set_irq level changes only");
	is_int(f.irq_level, 0, "line low once drained");
	free_uart(s);
}

int main(void)
{
	test_reset();
	test_regs();
	test_tx_thre();
	test_out2_gate();
	test_rx();
	test_priority();
	test_loopback();
	test_threads();
	return done_testing();
}
