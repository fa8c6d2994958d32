/*
 * Intel MultiProcessor Specification 1.4 tables. Without ACPI this is how
 * a Linux guest learns about every vCPU's local APIC and the IOAPIC.
 */
#include <errno.h>
#include <string.h>

#include "nkvm/le.h"
#include "nkvm/gm.h"
#include "nkvm/layout.h"
#include "nkvm/mptable.h"

#define MPF_SIZE     16 /* floating pointer structure */
#define MPC_HDR_SIZE 44 /* configuration table header */
#define MP_CPU_SIZE  20 /* processor entry; every other entry is 8 bytes */
#define MP_ENTRY8    8
#define MP_NR_IRQS   24 /* IRQs routed to the IOAPIC: all its pins */

#define MP_PROCESSOR 0
#define MP_BUS       1
#define MP_IOAPIC    2
#define MP_INTSRC    3
#define MP_LINTSRC   4

#define MP_CPU_EN    0x01
#define MP_CPU_BP    0x02
#define MP_IOAPIC_EN 0x01
#define MP_INT_INT    0
#define MP_INT_NMI    1
#define MP_INT_EXTINT 3

#define MP_SPEC_REV     4    /* 1.4 */
#define MP_LAPIC_VER    0x14 /* integrated xAPIC, as KVM reports */
#define MP_IOAPIC_VER   0x11 /* as KVM's IOAPIC reports */
/* family 6, model 0xf, stepping 1: a plausible P6-class part */
#define MP_CPU_SIG      ((6 << 8) | (0xf << 4) | 1)
#define MP_CPU_FEATURES ((1u << 0) | (1u << 9)) /* FPU, APIC */
#define MP_BUS_ISA      0

#define MPC_MAX_SIZE (MPC_HDR_SIZE + MPTABLE_MAX_CPUS * MP_CPU_SIZE + \
		      (2 + MP_NR_IRQS + 2) * MP_ENTRY8)
_Static_assert(LAYOUT_MPTABLE + MPF_SIZE + MPC_MAX_SIZE <= 0x100000,
	       "MP table fits in the BIOS area below 1 MiB");
_Static_assert(LAYOUT_MPTABLE % 16 == 0, "floating pointer is 16-byte aligned");

/* The byte that makes the sum of p[0..len) zero. */
static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static uint8_t *mp_cpu(uint8_t *p, int id)
{
	p[0] = MP_PROCESSOR;
	p[1] = (uint8_t)id;
	p[2] = MP_LAPIC_VER;
	p[3] = MP_CPU_EN | (id == 0 ? MP_CPU_BP : 0);
	put_le32(p + 4, MP_CPU_SIG);
	put_le32(p + 8, MP_CPU_FEATURES);
	return p + MP_CPU_SIZE;
}

static uint8_t *mp_intsrc(uint8_t *p, uint8_t kind, uint8_t type,
			  uint8_t bus_irq, uint8_t dst_id, uint8_t dst_pin)
{
	p[0] = kind;
	p[1] = type;
	put_le16(p + 2, 0); /* polarity and trigger conform to the bus */
	p[4] = MP_BUS_ISA;
	p[5] = bus_irq;
	p[6] = dst_id;
	p[7] = dst_pin;
	return p + MP_ENTRY8;
}

/* Entries in the order the spec requires: by type. Returns the end. */
static uint8_t *mp_entries(uint8_t *p, int ncpus, uint8_t ioapic_id)
{
	for (int i = 0; i < ncpus; i++)
		p = mp_cpu(p, i);

	p[0] = MP_BUS;
	p[1] = MP_BUS_ISA;
	memcpy(p + 2, "ISA   ", 6);
	p += MP_ENTRY8;

	p[0] = MP_IOAPIC;
	p[1] = ioapic_id;
	p[2] = MP_IOAPIC_VER;
	p[3] = MP_IOAPIC_EN;
	put_le32(p + 4, (uint32_t)LAYOUT_IOAPIC);
	p += MP_ENTRY8;

	/* KVM's default GSI routing: ISA IRQ n is IOAPIC pin n */
	for (uint8_t irq = 0; irq < MP_NR_IRQS; irq++)
		p = mp_intsrc(p, MP_INTSRC, MP_INT_INT, irq, ioapic_id, irq);
	/* virtual wire: LINT0 takes the PIC (ExtINT), LINT1 NMI, all LAPICs */
	p = mp_intsrc(p, MP_LINTSRC, MP_INT_EXTINT, 0, 0xff, 0);
	p = mp_intsrc(p, MP_LINTSRC, MP_INT_NMI, 0, 0xff, 1);
	return p;
}

/*
 * Write the MP floating pointer at LAYOUT_MPTABLE (in the BIOS area the
 * guest scans, 16-byte aligned) and the configuration table right after
 * it: ncpus processors (APIC ID = index, CPU 0 the BSP), the ISA bus, the
 * IOAPIC (ID = ncpus), IRQ 0-23 -> pins 0-23 (16-23 for virtio-mmio devices), LINT0 ExtINT, LINT1 NMI.
 * 0, -EINVAL for ncpus outside 1..MPTABLE_MAX_CPUS, -EFAULT without RAM.
 */
int mptable_write(struct gm *gm, int ncpus)
{
	uint64_t mpc_addr = LAYOUT_MPTABLE + MPF_SIZE;
	uint8_t *mpf, *mpc, *end;
	size_t mpc_len;

	if (ncpus < 1 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	mpf = gm_ptr(gm, LAYOUT_MPTABLE, MPF_SIZE + MPC_MAX_SIZE);
	if (!mpf)
		return -EFAULT;
	memset(mpf, 0, MPF_SIZE + MPC_MAX_SIZE);
	mpc = mpf + MPF_SIZE;

	end = mp_entries(mpc + MPC_HDR_SIZE, ncpus, (uint8_t)ncpus);
	mpc_len = (size_t)(end - mpc);
	memcpy(mpc, "PCMP", 4);
	put_le16(mpc + 4, (uint16_t)mpc_len);
	mpc[6] = MP_SPEC_REV;
	memcpy(mpc + 8, "NKVM    ", 8);
	memcpy(mpc + 16, "NKVM 0.1    ", 12);
	put_le16(mpc + 34, (uint16_t)(ncpus + 2 + MP_NR_IRQS + 2));
	put_le32(mpc + 36, (uint32_t)LAYOUT_LAPIC);
	mpc[7] = mp_checksum(mpc, mpc_len);

	memcpy(mpf, "_MP_", 4);
	put_le32(mpf + 4, (uint32_t)mpc_addr);
	mpf[8] = 1; /* length in 16-byte paragraphs */
	mpf[9] = MP_SPEC_REV;
	/* feature1 = 0: the configuration table is present, no default config */
	mpf[10] = mp_checksum(mpf, MPF_SIZE);
	return 0;
}
