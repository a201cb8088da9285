# bpfkit: CO-RE tracing tools on libbpf.
#
#   make              build every tool into build/
#   make test         build, then run the host test suite (as root)
#   make test-kernels run the smoke tests on other kernels under QEMU
#   make bench        run the benchmarks, write BENCHMARKS.md
#   make install      PREFIX=/usr/local DESTDIR=
#
# A tool is tools/NAME.c + bpf/NAME.bpf.c; both are found by wildcard, so a
# new tool needs no Makefile change.

OUT        ?= build
PREFIX     ?= /usr/local
DESTDIR    ?=
SBINDIR    ?= $(PREFIX)/sbin
CLANG      ?= clang
BPFTOOL    ?= bpftool
LLVM_STRIP ?= llvm-strip
CC         ?= cc
PKG_CONFIG ?= pkg-config

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

TOOLS    := $(sort $(patsubst tools/%.c,%,$(wildcard tools/*.c)))
LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(patsubst lib/%.c,$(OUT)/lib/%.o,$(LIB_SRCS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNITS    := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS   := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf)
MHD_CFLAGS    := $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS      := -ldl  # lib/mhd.c loads libmicrohttpd when --metrics is used

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter \
	    -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -D_GNU_SOURCE $(WARN) -Ilib -I$(OUT) -Ibpf $(LIBBPF_CFLAGS) \
	    $(MHD_CFLAGS) -MMD -MP
LDLIBS   += $(LIBBPF_LIBS) -lelf -lz $(MHD_LIBS) -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) \
	    -Ibpf -Wall -Werror -Wno-unused-function -MMD -MP

Q := $(if $(V),,@)
msg = $(if $(V),,@printf '  %-8s %s\n' $(1) $(2);)

.PHONY: all tools test test-kernels unit bench install uninstall clean \
	format vmlinux run setup

# Every entry point first makes sure the Debian packages it needs are
# there (scripts/setup.sh is idempotent and quick when they are), then
# builds in a sub-make that sees the installed pkg-config files.
all: setup
	$(Q)$(MAKE) --no-print-directory tools

setup:
	$(Q)scripts/setup.sh build

tools: $(addprefix $(OUT)/,$(TOOLS))

# Build and run one tool: make run TOOL=opensnoop ARGS="-T -d 10"
TOOL ?= opensnoop
run: all
	$(Q)exec $(OUT)/$(TOOL) $(ARGS)

# Kernel side: bpf/NAME.bpf.c -> object -> skeleton header.
$(OUT)/%.bpf.o: bpf/%.bpf.c | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@ # DWARF: libbpf needs only the BTF

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# User side: the common library, then one loader per tool.
$(OUT)/lib/%.o: lib/%.c | $(OUT)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/libbpfkit.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(OUT)/tools/%.o: tools/%.c $(OUT)/%.skel.h | $(OUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/%: $(OUT)/tools/%.o $(OUT)/libbpfkit.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Unit tests of the library's pure code.
$(OUT)/tests/%: tests/unit/%.c $(OUT)/libbpfkit.a | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.a,$^) $(LDLIBS) -o $@

unit: $(UNITS)

$(OUT) $(OUT)/lib $(OUT)/tools $(OUT)/tests:
	$(Q)mkdir -p $@

# The host test suite, as root: make test [TESTS="tests/test_x.py ..."]
test:
	$(Q)scripts/setup.sh test
	$(Q)$(MAKE) --no-print-directory tools unit
	$(Q)python3 tests/run.py $(TESTS)

# Every tool and attach mechanism on Debian's 6.1 and 6.12 kernels (QEMU).
test-kernels:
	$(Q)tests/kernels/run.sh $(KERNELS)

bench: all
	$(Q)scripts/setup.sh bench
	$(Q)$(MAKE) -C bench

install: all
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $(addprefix $(OUT)/,$(TOOLS)) $(DESTDIR)$(SBINDIR)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(TOOLS))

# Regenerate vmlinux/$(ARCH)/vmlinux.h from the running kernel's BTF.
vmlinux:
	scripts/gen-vmlinux.sh

format:
	clang-format -i lib/*.[ch] tools/*.c bpf/*.[ch] tests/unit/*.c

clean:
	rm -rf $(OUT)

# Keep skeletons and BPF objects: they are cheap to keep, slow to redo.
.SECONDARY:

# Further entry points: mk/sanitize.mk (make sanitize, fuzz, soak), ...
include $(wildcard mk/*.mk)

-include $(wildcard $(OUT)/*.d $(OUT)/lib/*.d $(OUT)/tools/*.d $(OUT)/tests/*.d)
