/*
 * Pause and resume (the control API's PATCH /vm, `nkvm pause`).
 *
 * A vCPU is paused by keeping its thread out of KVM_RUN: the requester sets
 * pause_req and kicks every vCPU (SIGUSR1 makes KVM_RUN return, or the next
 * one return at once through immediate_exit); each thread then parks in
 * vm_pause_point() until resume. Devices keep running: their queues fill and
 * stop, as on a real machine whose CPUs stopped. A stop request wakes parked
 * threads so a paused VM can always be shut down.
 */
#include <errno.h>
#include <time.h>

#include "nkvm/vm.h"

/* How long vm_pause waits for the vCPUs to park. A vCPU stuck in a long
 * host-side operation (a blocking device access) parks when it returns. */
#define PAUSE_WAIT_MS 2000

static int started_vcpus(struct vm *vm)
{
	int i, n = 0;

	for (i = 0; i < vm->ncpus; i++)
		n += vm->vcpus && vm->vcpus[i].started;
	return n;
}

int vm_pause(struct vm *vm)
{
	struct timespec deadline;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += PAUSE_WAIT_MS / 1000;
	deadline.tv_nsec += (PAUSE_WAIT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_req = true;
	pthread_mutex_unlock(&vm->pause_lock);
	vm_kick_all(vm);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->pause_req && vm->nr_parked < started_vcpus(vm) && !vm_stopping(vm) &&
	       r != ETIMEDOUT)
		r = pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &deadline);
	pthread_mutex_unlock(&vm->pause_lock);
	return r == ETIMEDOUT ? -ETIMEDOUT : 0;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->pause_req = false;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

bool vm_paused(struct vm *vm)
{
	bool p;

	pthread_mutex_lock(&vm->pause_lock);
	p = vm->pause_req;
	pthread_mutex_unlock(&vm->pause_lock);
	return p;
}

void vm_pause_point(struct vm *vm)
{
	if (!__atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&vm->pause_lock);
	if (vm->pause_req && !vm_stopping(vm)) {
		vm->nr_parked++;
		pthread_cond_broadcast(&vm->pause_cond);
		while (vm->pause_req && !vm_stopping(vm))
			pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
		vm->nr_parked--;
	}
	pthread_mutex_unlock(&vm->pause_lock);
}
