/* Fixed guest-physical addresses nkvm uses while booting a guest. */
#ifndef NKVM_LAYOUT_H
#define NKVM_LAYOUT_H

#define LAYOUT_GDT          0x00000500ULL  /* boot GDT, 4 entries */
#define LAYOUT_START_INFO   0x00006000ULL  /* PVH hvm_start_info + memmap */
#define LAYOUT_ZERO_PAGE    0x00007000ULL  /* bzImage boot_params */
#define LAYOUT_PML4         0x00009000ULL  /* identity page tables: PML4 */
#define LAYOUT_PDPT         0x0000a000ULL  /* PDPT */
#define LAYOUT_PD           0x0000b000ULL  /* 4 PDs, 2 MiB pages, 0..4 GiB */
#define LAYOUT_CMDLINE      0x00020000ULL  /* kernel command line */
#define LAYOUT_CMDLINE_MAX  0x00010000ULL  /* 64 KiB, further capped by the kernel */
#define LAYOUT_MPTABLE      0x000f0000ULL  /* MP floating pointer + config table */
#define LAYOUT_KERNEL       0x01000000ULL  /* default load address, 16 MiB */
#define LAYOUT_IOAPIC       0xfec00000ULL
#define LAYOUT_LAPIC        0xfee00000ULL

#endif
