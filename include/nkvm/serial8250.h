/*
 * 16550A UART model (COM1). No KVM: the owner supplies callbacks for the
 * interrupt line and for transmitted bytes, and pushes host input with
 * serial_rx_push(). Thread-safe: vCPU threads call serial_io_*, the event
 * loop calls serial_rx_push; one mutex inside.
 */
#ifndef NKVM_SERIAL8250_H
#define NKVM_SERIAL8250_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ  4
#define SERIAL_NR_PORTS  8
#define SERIAL_FIFO_LEN  16
/* Host input waiting behind the 16-byte FIFO, so a slow guest loses nothing. */
#define SERIAL_RXBUF_LEN 65536

struct serial8250_ops {
	void (*set_irq)(void *opaque, int level);          /* IRQ line level */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len); /* guest output */
	/* Optional: after serial_rx_push() came back short, half the buffer is
	 * free again (the guest read it); push the rest. */
	void (*rx_ready)(void *opaque);
};
/* All callbacks run with s->lock held: they must not call serial_*(). */

struct serial8250 {
	pthread_mutex_t lock;
	const struct serial8250_ops *ops;
	void *opaque;
	/* lsr holds only the sticky error bits (DR/THRE/TEMT are computed);
	 * msr holds the line states and the latched delta bits */
	uint8_t ier, iir, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	int irq_level;
	int thri_pending;          /* THR empty interrupt pending */
	/* receive: ring buffer of host input; the first SERIAL_FIFO_LEN bytes
	 * model the FIFO, the rest is nkvm-side buffering */
	uint8_t rx[SERIAL_RXBUF_LEN];
	size_t rx_head, rx_len;
	int rx_blocked;            /* a push came back short: call rx_ready */
	unsigned long tx_bytes, rx_bytes, rx_dropped;
};

void serial_init(struct serial8250 *s, const struct serial8250_ops *ops, void *opaque);
void serial_destroy(struct serial8250 *s);

/* Port access at `offset` (0..7) from the base. Reads of unknown bits are 0. */
uint8_t serial_io_read(struct serial8250 *s, unsigned offset);
void serial_io_write(struct serial8250 *s, unsigned offset, uint8_t val);

/* Queue host input. Returns bytes accepted (less than len when the buffer is
 * full; the caller keeps the rest and retries). */
size_t serial_rx_push(struct serial8250 *s, const uint8_t *buf, size_t len);
/* Free space in the input buffer. */
size_t serial_rx_space(struct serial8250 *s);

#endif
