# nkvm: plain GNU make. `make` builds build/nkvm, `make check` runs every test,
# `make run` installs what is missing, builds the default guest and boots it.
# SANITIZE=1 builds everything with ASan+UBSan into build-san/.

CC      ?= cc
PKGS    := liburing slirp jansson
# Headers only: libmicrohttpd is dlopen()ed when a control client first
# connects (src/api/mhd_lib.h), so VMs nobody talks to never load it.
PKGS_DLOPEN := libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(PKGS_DLOPEN))
PKG_LIBS   := $(if $(PKGS),$(shell pkg-config --libs $(PKGS)))

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wvla -Wundef -Wcast-align \
           -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -MMD -MP $(PKG_CFLAGS)
LDLIBS  += -lpthread $(PKG_LIBS)

ifeq ($(SANITIZE),1)
B       ?= build-san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
B       ?= build
endif

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
CFLAGS  += -DNKVM_VERSION='"0.1.0-$(VERSION)"'

LIB_SRCS  := $(sort $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c src/*/*/*.c)))
LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/t_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/unit/%)
GUEST_SRCS := $(sort $(wildcard tests/guests/*.S))
GUEST_BINS := $(GUEST_SRCS:tests/guests/%.S=$(B)/tests/guests/%.elf)

all: $(B)/nkvm

$(B)/nkvm: $(B)/src/main.o $(B)/libnkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/libnkvm.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/tests/unit/%: tests/unit/%.c $(B)/libnkvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(B)/libnkvm.a $(LDLIBS)

# Tiny test guests: freestanding 32-bit code with a PVH note, linked as ELF.
$(B)/tests/guests/%.elf: tests/guests/%.S tests/guests/guest.ld tests/guests/guest.h
	@mkdir -p $(dir $@)
	$(CC) -m64 -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-T,tests/guests/guest.ld -o $@ $<

# Fuzzing: libFuzzer harnesses built with clang (`make fuzz`, see
# fuzz/README.md); `make check` replays the committed corpus with $(CC),
# under the sanitizers when SANITIZE=1.
FUZZ_NAMES   := virtq blk mmio p9 http
FUZZ_SRCS_virtq := src/virtio/virtq.c src/gm.c src/log.c
FUZZ_SRCS_blk := src/virtio/blk.c src/virtio/blk_req.c src/virtio/blk_io.c \
                 src/virtio/blk_io_threads.c src/virtio/blk_io_uring.c \
                 src/virtio/mmio.c src/virtio/virtio.c src/virtio/virtq.c \
                 src/evloop.c src/gm.c src/log.c
FUZZ_SRCS_mmio := src/virtio/rng.c src/virtio/mmio.c src/virtio/virtio.c \
                  src/virtio/virtq.c src/gm.c src/log.c
FUZZ_SRCS_p9 := $(wildcard src/fs/p9_*.c) src/log.c
FUZZ_SRCS_http := src/http_resp.c
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
REPLAY_BINS  := $(FUZZ_NAMES:%=$(B)/fuzz/replay_%)

fuzz: $(FUZZ_NAMES:%=$(B)/fuzz/fuzz_%)

$(B)/fuzz/fuzz_%: fuzz/fuzz_%.c $(wildcard include/nkvm/*.h) $(LIB_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*) $(LDLIBS)

$(B)/fuzz/replay_%: fuzz/replay.c fuzz/fuzz_%.c $(B)/libnkvm.a
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) $(LDFLAGS) -o $@ \
		fuzz/replay.c fuzz/fuzz_$*.c $(B)/libnkvm.a $(LDLIBS)

fuzz-replay: $(REPLAY_BINS)
	@for n in $(FUZZ_NAMES); do $(B)/fuzz/replay_$$n fuzz/corpus/$$n || exit 1; done

unit: $(UNIT_BINS)
guests: $(GUEST_BINS)

# Unit tests first (fast, no KVM), then the integration tests, which boot
# tiny test guests and the real default Linux guest (built and cached by
# guest/build.sh). NKVM_SKIP_LINUX=1 skips the slow real-Linux boots.
check: deps all unit guests $(REPLAY_BINS)
	prove -f $(UNIT_BINS)
	@for n in $(FUZZ_NAMES); do $(B)/fuzz/replay_$$n fuzz/corpus/$$n || exit 1; done
	@if [ "$(NKVM_SKIP_LINUX)" != 1 ]; then guest/build.sh >/dev/null; fi
	NKVM=$(CURDIR)/$(B)/nkvm NKVM_BUILD=$(CURDIR)/$(B) NKVM_SKIP_LINUX=$(NKVM_SKIP_LINUX) \
		prove -f tests/integ/

deps:
	@scripts/deps

guest:
	guest/build.sh

run: deps
	$(MAKE) all
	guest/build.sh >/dev/null
	$(B)/nkvm run

bench: all guests
	bench/run.sh

# Host-side drivers for the device-model benchmarks (bench/blk.sh: virtio-blk
# vs fio; bench/net.sh: virtio-net + tap vs a raw tap); not part of all/check.
bench-blk: $(B)/bench/blk_driver
bench-net: $(B)/bench/net_driver

$(B)/bench/%: bench/%.c $(B)/libnkvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libnkvm.a $(LDLIBS)

clean:
	rm -rf build build-san

format-check:
	clang-format --dry-run --Werror $(wildcard src/*.c src/*/*.c src/*/*/*.c include/nkvm/*.h)

.PHONY: all unit guests check deps guest run bench bench-blk bench-net clean format-check fuzz fuzz-replay
-include $(shell find $(B) -name '*.d' 2>/dev/null)
