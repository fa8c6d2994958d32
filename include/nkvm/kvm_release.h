/*
 * Releasing KVM's VM without making the user wait for it.
 *
 * Destroying a VM (the last close of its file descriptors) is slow on some
 * hosts: 16-20 ms on kvm_pvm, where it is most of a trivial guest's run
 * time. nkvm's exit status does not depend on it, so vm_destroy() can hand
 * the VM and vCPU descriptors to kvm_release_defer() instead of closing
 * them, and kvm_release_exit() ends the process at once while a short-lived
 * child (sharing nkvm's memory and file table, so nkvm's own exit drops no
 * last reference) closes them and exits. Everything else (taps, sockets,
 * temporary files, device threads) is released before, as usual.
 *
 * Not used when NKVM_SYNC_EXIT=1, nor in sanitizer builds (LeakSanitizer
 * needs a normal exit).
 */
#ifndef NKVM_KVM_RELEASE_H
#define NKVM_KVM_RELEASE_H

#include <stdbool.h>

/* Whether vm_destroy() should defer closing KVM descriptors. */
bool kvm_release_deferrable(void);

/* Keep fd open until kvm_release_exit(); closes it now when the list is full. */
void kvm_release_defer(int fd);

/* Flush stdio and exit with `status`; with deferred descriptors the final
 * close happens in a child after this process is gone. */
void kvm_release_exit(int status) __attribute__((noreturn));

#endif
