/*
 * 16550A UART model, enough for Linux's 8250 driver and a getty.
 *
 * Transmit is instantaneous: a THR write hands the byte to ops->tx and the
 * THR is empty again at once, so LSR.THRE and LSR.TEMT always read 1 and a
 * THR-empty interrupt is re-armed by every write. Receive goes through a
 * ring of SERIAL_RXBUF_LEN bytes; the guest sees it as an endlessly refilled
 * FIFO (LSR.DR while anything is buffered, "data available" interrupt as
 * soon as one byte is there, no trigger levels, no character timeout).
 *
 * Locking: one mutex, taken by every entry point. All ops callbacks
 * are called with that mutex held, so they must not call back into this
 * model (they may queue work, write to an fd, or raise an irqfd).
 */
#include <string.h>

#include "nkvm/serial8250.h"

/* register offsets */
enum {
	REG_RBR_THR_DLL = 0,
	REG_IER_DLM = 1,
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI  0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK  0x0f

#define IIR_NO_INT 0x01
#define IIR_MSI    0x00
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_RLSI   0x06
#define IIR_FIFO   0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
/* bits that stay in FCR: enable, DMA mode select, RX trigger level */
#define FCR_KEEP     0xc9

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
/* error bits that are sticky until LSR is read */
#define LSR_ERRORS 0x1e

#define MSR_DCTS  0x01
#define MSR_DDSR  0x02
#define MSR_TERI  0x04
#define MSR_DDCD  0x08
#define MSR_DELTA 0x0f
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80

/* What a host-side "cable" reports: the other end is always ready. */
#define MSR_IDLE (MSR_CTS | MSR_DSR | MSR_DCD)

/* The highest-priority pending, enabled source, in IIR bits 3:0 form. */
static uint8_t serial_pending(const struct serial8250 *s)
{
	if ((s->ier & IER_ELSI) && (s->lsr & LSR_ERRORS))
		return IIR_RLSI;
	if ((s->ier & IER_ERBFI) && s->rx_len)
		return IIR_RDI;
	if ((s->ier & IER_ETBEI) && s->thri_pending)
		return IIR_THRI;
	if ((s->ier & IER_EDSSI) && (s->msr & MSR_DELTA))
		return IIR_MSI;
	return IIR_NO_INT;
}

/*
 * Recompute IIR and the interrupt line. On a PC the UART's interrupt pin
 * reaches the PIC only through a buffer enabled by the OUT2 output, and
 * loopback forces the outputs inactive, so the line is off in loopback too.
 * set_irq is only called on a change, so the owner can map it 1:1 onto
 * KVM_IRQ_LINE or an irqfd pair without redundant exits.
 */
static void serial_update_irq(struct serial8250 *s)
{
	uint8_t src = serial_pending(s);
	int level;

	s->iir = src | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
	level = src != IIR_NO_INT && (s->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->ops && s->ops->set_irq)
			s->ops->set_irq(s->opaque, level);
	}
}

/* Append to the receive ring; returns how many bytes fitted. */
static size_t serial_rx_append(struct serial8250 *s, const uint8_t *buf, size_t len)
{
	size_t space = SERIAL_RXBUF_LEN - s->rx_len;
	size_t tail, first;

	if (!len || !space)
		return 0;
	if (len > space)
		len = space;
	tail = (s->rx_head + s->rx_len) % SERIAL_RXBUF_LEN;
	first = SERIAL_RXBUF_LEN - tail;
	if (first > len)
		first = len;
	memcpy(&s->rx[tail], buf, first);
	memcpy(&s->rx[0], buf + first, len - first);
	s->rx_len += len;
	return len;
}

/*
 * MSR status bits for the current MCR: in loopback the four outputs are
 * wired to the four inputs (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD), which
 * Linux's autoconfig checks; otherwise the idle cable.
 */
static uint8_t serial_msr_lines(uint8_t mcr)
{
	uint8_t m = 0;

	if (!(mcr & MCR_LOOP))
		return MSR_IDLE;
	if (mcr & MCR_DTR)
		m |= MSR_DSR;
	if (mcr & MCR_RTS)
		m |= MSR_CTS;
	if (mcr & MCR_OUT1)
		m |= MSR_RI;
	if (mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

static void serial_write_mcr(struct serial8250 *s, uint8_t val)
{
	uint8_t old = s->msr & ~MSR_DELTA;
	uint8_t now, changed;

	s->mcr = val & MCR_MASK;
	now = serial_msr_lines(s->mcr);
	changed = old ^ now;
	/* delta bits latch until MSR is read; RI reports its trailing edge */
	if (changed & MSR_CTS)
		s->msr |= MSR_DCTS;
	if (changed & MSR_DSR)
		s->msr |= MSR_DDSR;
	if ((old & MSR_RI) && !(now & MSR_RI))
		s->msr |= MSR_TERI;
	if (changed & MSR_DCD)
		s->msr |= MSR_DDCD;
	s->msr = (s->msr & MSR_DELTA) | now;
}

static void serial_write_thr(struct serial8250 *s, uint8_t val)
{
	if (s->mcr & MCR_LOOP) {
		/* the transmitter feeds the receiver; nothing leaves the UART */
		if (!serial_rx_append(s, &val, 1)) {
			s->lsr |= LSR_OE;
			s->rx_dropped++;
		}
	} else {
		if (s->ops && s->ops->tx)
			s->ops->tx(s->opaque, &val, 1);
		s->tx_bytes++;
	}
	/* the write cleared THRE; the instant transmit sets it again */
	s->thri_pending = 1;
}

static void serial_write_ier(struct serial8250 *s, uint8_t val)
{
	uint8_t old = s->ier;

	s->ier = val & IER_MASK;
	/*
	 * Enabling ETBEI while the THR is empty (always, here) raises the
	 * interrupt at once: Linux's start_tx relies on it to get the first
	 * THRE interrupt, and its startup test checks for it.
	 */
	if ((s->ier & IER_ETBEI) && !(old & IER_ETBEI))
		s->thri_pending = 1;
	else if (!(s->ier & IER_ETBEI))
		s->thri_pending = 0;
}

/*
 * FCR. The 16550 ignores the other bits unless bit 0 is written as 1.
 * "Clear RX FIFO" does not discard buffered host input: the guest cannot
 * tell the 16 modelled FIFO bytes from the rest of the ring, and Linux
 * clears the FIFOs on every open of the tty, which would otherwise eat
 * input typed (or piped on stdin) before the guest got there. It only
 * clears the sticky line error bits. "Clear TX FIFO" has nothing to clear.
 */
static void serial_write_fcr(struct serial8250 *s, uint8_t val)
{
	if (!(val & FCR_ENABLE)) {
		s->fcr = 0;
		return;
	}
	s->fcr = val & FCR_KEEP;
	if (val & FCR_CLEAR_RX)
		s->lsr &= ~LSR_ERRORS;
}

/* Pop one received byte, or 0 when nothing is buffered. */
static uint8_t serial_read_rbr(struct serial8250 *s)
{
	uint8_t c;

	if (!s->rx_len)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RXBUF_LEN;
	s->rx_len--;
	/* wake a producer that was turned away once half the ring is free */
	if (s->rx_blocked && s->rx_len <= SERIAL_RXBUF_LEN / 2) {
		s->rx_blocked = 0;
		if (s->ops && s->ops->rx_ready)
			s->ops->rx_ready(s->opaque);
	}
	return c;
}

/* Reading IIR acknowledges a THR-empty interrupt if that is what it shows. */
static uint8_t serial_read_iir(struct serial8250 *s)
{
	uint8_t val = s->iir;

	if ((val & 0x0f) == IIR_THRI)
		s->thri_pending = 0;
	return val;
}

static uint8_t serial_read_lsr(struct serial8250 *s)
{
	uint8_t val = s->lsr | LSR_THRE | LSR_TEMT;

	if (s->rx_len)
		val |= LSR_DR;
	s->lsr &= ~LSR_ERRORS;
	return val;
}

/*
 * Reset state of a 16550A (IER 0, IIR 0x01, LSR 0x60, LCR 0, MCR 0), with
 * the modem lines of an idle cable and an empty receive ring.
 */
void serial_init(struct serial8250 *s, const struct serial8250_ops *ops, void *opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->ops = ops;
	s->opaque = opaque;
	s->iir = IIR_NO_INT;
	s->msr = MSR_IDLE;
}

/* Release the mutex; the model must no longer be in use. */
void serial_destroy(struct serial8250 *s)
{
	pthread_mutex_destroy(&s->lock);
}

/* Guest read of base+offset. Offsets past the 8 registers read 0. */
uint8_t serial_io_read(struct serial8250 *s, unsigned offset)
{
	uint8_t val = 0;

	if (offset >= SERIAL_NR_PORTS)
		return 0;
	pthread_mutex_lock(&s->lock);
	switch (offset) {
	case REG_RBR_THR_DLL:
		val = (s->lcr & LCR_DLAB) ? s->dll : serial_read_rbr(s);
		break;
	case REG_IER_DLM:
		val = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
		break;
	case REG_IIR_FCR:
		val = serial_read_iir(s);
		break;
	case REG_LCR:
		val = s->lcr;
		break;
	case REG_MCR:
		val = s->mcr;
		break;
	case REG_LSR:
		val = serial_read_lsr(s);
		break;
	case REG_MSR:
		val = s->msr;
		s->msr &= ~MSR_DELTA;
		break;
	case REG_SCR:
		val = s->scr;
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return val;
}

/* Guest write of base+offset. Offsets past the 8 registers are ignored. */
void serial_io_write(struct serial8250 *s, unsigned offset, uint8_t val)
{
	if (offset >= SERIAL_NR_PORTS)
		return;
	pthread_mutex_lock(&s->lock);
	switch (offset) {
	case REG_RBR_THR_DLL:
		if (s->lcr & LCR_DLAB)
			s->dll = val;
		else
			serial_write_thr(s, val);
		break;
	case REG_IER_DLM:
		if (s->lcr & LCR_DLAB)
			s->dlm = val;
		else
			serial_write_ier(s, val);
		break;
	case REG_IIR_FCR:
		serial_write_fcr(s, val);
		break;
	case REG_LCR:
		s->lcr = val;
		break;
	case REG_MCR:
		serial_write_mcr(s, val);
		break;
	case REG_LSR:
		/* factory test register on real parts: ignore */
		break;
	case REG_MSR:
		/* read-only */
		break;
	case REG_SCR:
		s->scr = val;
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Queue host input for the guest. Returns the number of bytes accepted,
 * short when the ring is full: the caller keeps the rest and retries when
 * ops->rx_ready (if set) reports that at least half the ring is free
 * again. Counts rx_bytes.
 */
size_t serial_rx_push(struct serial8250 *s, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = serial_rx_append(s, buf, len);
	s->rx_bytes += n;
	if (n < len)
		s->rx_blocked = 1;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Bytes serial_rx_push() would accept now. */
size_t serial_rx_space(struct serial8250 *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = SERIAL_RXBUF_LEN - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return n;
}
