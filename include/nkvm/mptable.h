/* Intel MultiProcessor Specification 1.4 table, so the guest sees every vCPU
 * and the IOAPIC without ACPI. Pure code, no KVM. */
#ifndef NKVM_MPTABLE_H
#define NKVM_MPTABLE_H

struct gm;

#define MPTABLE_MAX_CPUS 254

/*
 * Write the floating pointer and configuration table at LAYOUT_MPTABLE:
 * one processor entry per vCPU (APIC ID = index, BSP first), an ISA bus,
 * the IOAPIC (ID = ncpus, at LAYOUT_IOAPIC), IRQs 0-23 routed to IOAPIC
 * pins 0-23 (matching KVM's default GSI routing), LINT0 ExtINT, LINT1 NMI.
 * Returns 0, or -EINVAL if ncpus is out of range.
 */
int mptable_write(struct gm *gm, int ncpus) __attribute__((warn_unused_result));

#endif
