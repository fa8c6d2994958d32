/* VM lifecycle: /dev/kvm, capabilities, memory slots, irqchip, vCPU threads. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "nkvm/kvm_release.h"
#include "nkvm/log.h"
#include "nkvm/vm.h"

/* Where KVM puts the TSS and identity map VMX needs in real mode: just below
 * the 4 GiB boundary, inside the PCI hole, away from RAM and devices. */
#define KVM_TSS_ADDR      0xfffbd000ULL
#define KVM_IDENTITY_ADDR 0xfffbc000ULL

struct cap_need {
	int cap;
	const char *name;
};

static const struct cap_need needed_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
	{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
};

static int open_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		log_err("/dev/kvm not found: load the kvm module (modprobe kvm_intel or kvm_amd) or enable virtualization");
	else if (errno == EACCES || errno == EPERM)
		log_err("/dev/kvm: permission denied: add your user to group kvm (usermod -aG kvm $USER) or run as root");
	else
		log_err("/dev/kvm: %s", strerror(errno));
	return -1;
}

static int check_caps(struct vm *vm)
{
	int ver = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	size_t i;
	int max;

	if (ver != KVM_API_VERSION) {
		log_err("/dev/kvm: KVM API version %d, nkvm needs %d", ver, KVM_API_VERSION);
		return -1;
	}
	for (i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0) {
			log_err("/dev/kvm: missing capability %s: this KVM is too old for nkvm",
				needed_caps[i].name);
			return -1;
		}
	}
	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && vm->cfg.ncpus > max) {
		log_err("--cpus %d: this KVM supports at most %d vCPUs", vm->cfg.ncpus, max);
		return -1;
	}
	return 0;
}

static int add_memslots(struct vm *vm)
{
	int i;

	for (i = 0; i < vm->gm.nr_regions; i++) {
		struct gm_region *r = &vm->gm.region[i];
		struct kvm_userspace_memory_region mr = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->hva,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
			log_err("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int create_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0) {
		log_err("KVM_SET_TSS_ADDR: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t addr = KVM_IDENTITY_ADDR;

		if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0)
			log_warn("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_err("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_err("KVM_CREATE_PIT2: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	int r;

	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = -1;
	vm->evl.epfd = -1;
	vm->gm.memfd = -1;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	pthread_mutex_init(&vm->pf_hook.lock, NULL);
	vm->pvm = pvm_detect();
	if (getenv("NKVM_PROFILE")) {
		vm->profile = fopen(getenv("NKVM_PROFILE"), "we");
		if (vm->profile)
			setvbuf(vm->profile, NULL, _IOLBF, 0);
	}
	vm->console_efd = -1;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->console_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0 || vm->console_efd < 0) {
		log_err("eventfd: %s", strerror(errno));
		return -EXIT_HOST;
	}
	vm->kvm_fd = open_kvm();
	if (vm->kvm_fd < 0 || check_caps(vm) < 0)
		return -EXIT_HOST;
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size <= 0) {
		log_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -EXIT_HOST;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		log_err("KVM_CREATE_VM: %s", strerror(errno));
		return -EXIT_HOST;
	}
	r = gm_init(&vm->gm, cfg->mem_size);
	if (r < 0) {
		log_err("guest memory (%llu MiB): %s",
			(unsigned long long)(cfg->mem_size >> 20), strerror(-r));
		return -EXIT_HOST;
	}
	if (add_memslots(vm) < 0 || create_irqchip(vm) < 0)
		return -EXIT_HOST;
	if (x86_get_supported_cpuid(vm) < 0)
		return -EXIT_HOST;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	r = evl_init(&vm->evl);
	if (r < 0) {
		log_err("epoll: %s", strerror(-r));
		return -EXIT_HOST;
	}
	return 0;
}

int vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

int vm_irqfd(struct vm *vm, int gsi, int fd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = (uint32_t)gsi };

	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int vm_setup_vcpus(struct vm *vm)
{
	int i;

	vm->ncpus = vm->cfg.ncpus;
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		log_err("out of memory");
		return -EXIT_HOST;
	}
	for (i = 0; i < vm->ncpus; i++) {
		vm->vcpus[i].fd = -1;
		if (vcpu_create(vm, &vm->vcpus[i], i) < 0)
			return -EXIT_HOST;
		if (x86_setup_vcpu(vm, &vm->vcpus[i]) < 0)
			return -EXIT_HOST;
	}
	return 0;
}

int vm_start(struct vm *vm)
{
	int i, r;

	for (i = 0; i < vm->ncpus; i++) {
		r = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (r) {
			log_err("cannot start vCPU %d thread: %s", i, strerror(r));
			vm_request_stop(vm, VM_STOP_CRASH, EXIT_HOST);
			return -EXIT_HOST;
		}
		vm->vcpus[i].started = true;
	}
	return 0;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason why, int status)
{
	uint64_t one = 1;
	bool first = false;

	pthread_mutex_lock(&vm->stop_lock);
	if (vm->stop_reason == VM_RUNNING) {
		vm->stop_reason = why;
		vm->exit_status = status;
		first = true;
	}
	pthread_mutex_unlock(&vm->stop_lock);
	if (first && write(vm->stop_efd, &one, sizeof(one)) < 0)
		log_warn("stop eventfd: %s", strerror(errno));
	if (first) {
		/* a paused vCPU must wake up to see the stop */
		pthread_mutex_lock(&vm->pause_lock);
		pthread_cond_broadcast(&vm->pause_cond);
		pthread_mutex_unlock(&vm->pause_lock);
	}
}

bool vm_stopping(struct vm *vm)
{
	return __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) != VM_RUNNING;
}

void vm_kick_all(struct vm *vm)
{
	int i;

	for (i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started)
			pthread_kill(vm->vcpus[i].thread, SIGUSR1);
}

void vm_irq_line(struct vm *vm, int irq, int level)
{
	struct kvm_irq_level il = { .irq = irq, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &il) < 0)
		log_warn("KVM_IRQ_LINE %d: %s", irq, strerror(errno));
}

void vm_join(struct vm *vm)
{
	int i;

	if (!vm->vcpus)
		return;
	vm_request_stop(vm, VM_STOP_SIGNAL, 0);
	vm_kick_all(vm);
	for (i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->started)
			pthread_join(v->thread, NULL);
		v->started = false;
	}
}

void vm_destroy(struct vm *vm)
{
	int i;

	if (vm->vcpus) {
		vm_join(vm);
		for (i = 0; i < vm->ncpus; i++) {
			struct vcpu *v = &vm->vcpus[i];

			if (v->run)
				munmap(v->run, vm->vcpu_mmap_size);
			if (v->fd >= 0) {
				if (vm->defer_kvm_release)
					kvm_release_defer(v->fd);
				else
					close(v->fd);
			}
		}
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	/* after the vCPUs, before guest RAM: resets drain in-flight I/O */
	vm_virtio_destroy(vm);
	evl_destroy(&vm->evl);
	free(vm->cpuid);
	vm->cpuid = NULL;
	if (vm->profile)
		fclose(vm->profile);
	vm->profile = NULL;
	if (vm->gm.base)
		gm_destroy(&vm->gm);
	if (vm->defer_kvm_release) {
		/* see kvm_release.h: the VM's last close is slow on some hosts */
		kvm_release_defer(vm->vm_fd);
		kvm_release_defer(vm->kvm_fd);
	} else {
		if (vm->vm_fd >= 0)
			close(vm->vm_fd);
		if (vm->kvm_fd >= 0)
			close(vm->kvm_fd);
	}
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	if (vm->console_efd >= 0)
		close(vm->console_efd);
	vm->vm_fd = vm->kvm_fd = vm->stop_efd = vm->console_efd = -1;
}
