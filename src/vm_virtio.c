/*
 * Placing virtio-mmio devices in the VM: a 4 KiB window and a GSI each,
 * kicks through KVM_IOEVENTFD into the event loop, interrupts through
 * KVM_IRQFD, and the kernel command line that announces them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "nkvm/log.h"
#include "nkvm/virtio_mmio.h"
#include "nkvm/vm.h"

/* GSIs free for devices: the ISA IRQs nothing else uses (0 timer, 1
 * keyboard, 2 cascade, 3/4 serial, 8 RTC), then the IOAPIC's 16-23. The MP
 * table routes all 24 as edge-triggered, which is what irqfd delivers. */
static const uint8_t virtio_gsis[VM_MAX_VIRTIO] = {
	5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
};

struct virtio_kick {
	struct virtio_mmio *m;
	unsigned q;
};

struct virtio_slot {
	struct virtio_mmio mmio;
	struct virtio_kick kick[VIRTIO_MAX_QUEUES];
	bool registered[VIRTIO_MAX_QUEUES];
};

static void on_kick(void *opaque, uint32_t events)
{
	struct virtio_kick *k = opaque;

	virtio_mmio_kick(k->m, k->q);
}

static int wire_queues(struct vm *vm, struct virtio_slot *s)
{
	struct virtio_mmio *m = &s->mmio;
	unsigned q;
	int r;

	for (q = 0; q < m->dev->nr_queues; q++) {
		/* without it the register handler signals the same eventfd:
		 * slower (an exit per kick) but correct */
		r = vm_ioeventfd(vm, m->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q,
				 m->kick_fd[q]);
		if (r < 0)
			log_debug("%s: KVM_IOEVENTFD: %s", m->dev->name, strerror(-r));
		if (m->dev->external_queues)
			continue;	/* the back end process reads the kicks */
		s->kick[q] = (struct virtio_kick){ .m = m, .q = q };
		r = evl_add(&vm->evl, m->kick_fd[q], EPOLLIN, on_kick, &s->kick[q]);
		if (r < 0)
			return r;
		s->registered[q] = true;
	}
	return 0;
}

int vm_add_virtio(struct vm *vm, struct virtio_dev *d)
{
	struct virtio_slot *s;
	uint64_t base;
	int gsi, r;

	if (vm->nr_virtio >= VM_MAX_VIRTIO) {
		log_err("%s: too many virtio devices (at most %d)", d->name, VM_MAX_VIRTIO);
		return -EXIT_USAGE;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		log_err("%s: out of memory", d->name);
		return -EXIT_HOST;
	}
	base = VM_VIRTIO_BASE + (uint64_t)vm->nr_virtio * VIRTIO_MMIO_SIZE;
	gsi = virtio_gsis[vm->nr_virtio];
	r = virtio_mmio_init(&s->mmio, d, base, gsi);
	if (r < 0) {
		log_err("%s: eventfd: %s", d->name, strerror(-r));
		free(s);
		return -EXIT_HOST;
	}
	vm->virtio[vm->nr_virtio++] = s;
	r = bus_add(&vm->mmio, base, VIRTIO_MMIO_SIZE, virtio_mmio_access,
		    &s->mmio, d->name);
	if (r < 0) {
		log_err("%s: cannot map its registers: %s", d->name, strerror(-r));
		return -EXIT_HOST;
	}
	r = vm_irqfd(vm, gsi, s->mmio.irq_fd);
	if (r < 0) {
		log_err("%s: KVM_IRQFD for GSI %d: %s", d->name, gsi, strerror(-r));
		return -EXIT_HOST;
	}
	r = wire_queues(vm, s);
	if (r < 0) {
		log_err("%s: event loop: %s", d->name, strerror(-r));
		return -EXIT_HOST;
	}
	log_debug("%s: virtio-mmio at 0x%" PRIx64 ", GSI %d", d->name, base, gsi);
	return 0;
}

char *vm_virtio_cmdline(const struct vm *vm)
{
	size_t cap = 1 + (size_t)vm->nr_virtio * 48, len = 0;
	char *buf = malloc(cap);
	int i;

	if (!buf)
		return NULL;
	buf[0] = 0;
	for (i = 0; i < vm->nr_virtio; i++) {
		if (i)
			buf[len++] = ' ';
		len += (size_t)virtio_mmio_cmdline(&vm->virtio[i]->mmio, buf + len, cap - len);
	}
	return buf;
}

void vm_virtio_destroy(struct vm *vm)
{
	int i;
	unsigned q;

	for (i = 0; i < vm->nr_virtio; i++) {
		struct virtio_slot *s = vm->virtio[i];

		for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
			if (s->registered[q])
				evl_del(&vm->evl, s->mmio.kick_fd[q]);
		/* the KVM ioeventfds and irqfd go with the VM fd */
		virtio_mmio_destroy(&s->mmio);
		free(s);
		vm->virtio[i] = NULL;
	}
	vm->nr_virtio = 0;
}
