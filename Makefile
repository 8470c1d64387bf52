# PharosVPN top-level build. One GNU Makefile, no generator: every program is
# a handful of static module libraries plus a main. Variants (MODE) keep their
# objects apart under build/MODE so a sanitizer build never mixes with release.
#
#   make              release binaries into build/release/bin
#   make test         ASan+UBSan: unit tests, fuzz-corpus replay, netns tests; then TSan: unit tests
#   make fuzz         libFuzzer targets (clang) into build/fuzz/bin
#   make fuzz-run     each fuzz target for FUZZ_SECONDS (default 30)
#   make bench        benchmarks (need root, they build a lab)
#   make demo         build, then a whole fleet in a namespace lab (root); make demo-down removes it
#   make install      PREFIX=/usr/local DESTDIR=
#   make STATIC=1     statically linked daemons
.DEFAULT_GOAL := all
MODE      ?= release
BUILD     ?= build
OUT       := $(BUILD)/$(MODE)
PREFIX    ?= /usr/local
DESTDIR   ?=
PYTHON    ?= /usr/bin/python3
FUZZ_SECONDS ?= 30
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo 0.0.0)

WARN := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wimplicit-fallthrough -Wvla -Wno-unused-parameter
ifneq ($(CI),)
WARN += -Werror
endif
ifneq ($(WERROR),)
WARN += -Werror
endif

PKGS := libsodium libcrypto libssl libnghttp2 libprotobuf-c libnftables libmnl jansson sqlite3 libssh libcap libseccomp
ifeq ($(STATIC),1)
PKG_LIBS := $(shell pkg-config --static --libs $(PKGS))
LDSTATIC := -static-pie
else
PKG_LIBS := -Wl,--as-needed $(shell pkg-config --libs $(PKGS))
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))

CPPFLAGS += -D_GNU_SOURCE -Isrc -I$(OUT)/gen -I$(OUT)/gen/proto -DPHAROS_VERSION=\"$(VERSION)\" $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lpthread

ifeq ($(MODE),release)
CC      ?= cc
CFLAGS  += -O2 -g -fstack-protector-strong -fPIE -D_FORTIFY_SOURCE=2 -fno-strict-aliasing
LDFLAGS += $(if $(LDSTATIC),$(LDSTATIC),-pie) -Wl,-z,relro,-z,now
else ifeq ($(MODE),asan)
CFLAGS  += -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -DPHAROS_FAULT_INJECTION
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(MODE),tsan)
CFLAGS  += -O1 -g -fsanitize=thread -DPHAROS_FAULT_INJECTION
LDFLAGS += -fsanitize=thread
else ifeq ($(MODE),fuzz)
CC      := clang
CFLAGS  += -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -DPHAROS_FUZZING
LDFLAGS += -fsanitize=fuzzer,address,undefined
else ifeq ($(MODE),bench)
CFLAGS  += -O2 -g -march=native -fno-strict-aliasing
endif
CFLAGS := $(WARN) $(CFLAGS)

# Every folder under src/ is a module library made of its .c files except
# main.c; a folder with a main.c is also a program, named by PROGRAM_NAME_<dir>.
# Generated protobuf-c code (from proto/) forms one more library.
MODULE_DIRS := $(patsubst src/%/,%,$(sort $(dir $(wildcard src/*/*.c))))
PROGRAM_NAME_pharos-awg := pharos-awg
PROGRAM_NAME_node := pharos-node
PROGRAM_NAME_relay := pharos-relay
PROGRAM_NAME_cox := cox
PROGRAM_NAME_caravel := caravel
PROGRAM_NAME_reality := pharos-reality
PROGRAM_DIRS := $(patsubst src/%/main.c,%,$(wildcard src/*/main.c))
# The modules each program links (its own folder first).
PROGRAM_MODULES_pharos-awg := pharos-awg awg lib
PROGRAM_MODULES_node := node rpc pki awg lib
PROGRAM_MODULES_cox := cox store profile sshc node rpc pki awg lib
PROGRAM_MODULES_caravel := caravel profile awg lib
PROGRAM_MODULES_reality := reality lib
PROGRAM_MODULES_relay := relay rpc pki lib

obj = $(patsubst %.c,$(OUT)/obj/%.o,$(1))
modlib = $(OUT)/lib/lib$(1).a
mod_srcs = $(filter-out src/$(1)/main.c,$(wildcard src/$(1)/*.c))

PROTOS := $(shell find proto -name '*.proto' 2>/dev/null)
PROTO_C := $(patsubst %.proto,$(OUT)/gen/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
LIBPROTO := $(if $(PROTOS),$(OUT)/lib/libproto.a)

# Link order does not matter inside the group.
LIBS := $(foreach d,$(MODULE_DIRS),$(if $(call mod_srcs,$(d)),$(call modlib,$(d)))) $(LIBPROTO)
LINK_LIBS = -Wl,--start-group $(LIBS) -Wl,--end-group

PROGRAMS := $(foreach d,$(PROGRAM_DIRS),$(OUT)/bin/$(PROGRAM_NAME_$(d)))

define MODULE_RULES
$(call modlib,$(1)): $(call obj,$(call mod_srcs,$(1)))
	@mkdir -p $$(@D)
	$$(AR) rcs $$@ $$^
endef
$(foreach d,$(MODULE_DIRS),$(if $(call mod_srcs,$(d)),$(eval $(call MODULE_RULES,$(d)))))

prog_libs = $(foreach m,$(PROGRAM_MODULES_$(1)),$(if $(call mod_srcs,$(m)),$(call modlib,$(m)))) $(LIBPROTO)
define PROGRAM_RULES
$(OUT)/bin/$(PROGRAM_NAME_$(1)): $(call obj,src/$(1)/main.c) $(call prog_libs,$(1))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $(call obj,src/$(1)/main.c) -Wl,--start-group $(call prog_libs,$(1)) -Wl,--end-group $$(LDLIBS)
endef
$(foreach d,$(PROGRAM_DIRS),$(eval $(call PROGRAM_RULES,$(d))))

# protobuf-c code generation: build/MODE/gen/<path>.pb-c.{c,h}; every object
# may include generated headers, so they are made first (order-only).
$(OUT)/gen/%.pb-c.c $(OUT)/gen/%.pb-c.h: %.proto
	@mkdir -p $(OUT)/gen/proto
	protoc-c --proto_path=proto --c_out=$(OUT)/gen/proto $<
$(OUT)/obj/$(OUT)/gen/%.o: $(OUT)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -MMD -MP -c $< -o $@
ifneq ($(PROTOS),)
$(LIBPROTO): $(patsubst %.c,$(OUT)/obj/%.o,$(PROTO_C))
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
endif

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,$(OUT)/fuzz/%,$(FUZZ_SRCS))
REPLAY_BINS := $(patsubst fuzz/%.c,$(OUT)/replay/%,$(FUZZ_SRCS))

.SECONDARY:
.PHONY: all programs tools unit-bins test check-unit check-fuzz-corpus check-oracle check-netns fuzz fuzz-run bench install clean demo demo-down deps tsan lab-selftest
all: programs
programs: $(PROGRAMS)

$(OUT)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# Unit tests: one cmocka binary per module, linked against every library.
$(OUT)/tests/%: $(OUT)/obj/tests/unit/%.o $(OUT)/obj/tests/unit/support.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(OUT)/obj/tests/unit/$*.o $(OUT)/obj/tests/unit/support.o $(LINK_LIBS) $(LDLIBS) -lcmocka
unit-bins: $(UNIT_BINS)

# Test tools (tests/tools/*.c): helper programs the integration tests run.
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(OUT)/tools/%,$(TOOL_SRCS))
$(OUT)/tools/%: $(OUT)/obj/tests/tools/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(OUT)/obj/tests/tools/$*.o $(LINK_LIBS) $(LDLIBS)
tools: $(TOOL_BINS)

# Fuzz targets: libFuzzer binaries in MODE=fuzz; in other modes a plain driver
# that replays the committed corpus, so `make test` re-runs every seed under ASan.
$(OUT)/fuzz/%: $(OUT)/obj/fuzz/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(OUT)/obj/fuzz/$*.o $(LINK_LIBS) $(LDLIBS)
$(OUT)/replay/%: $(OUT)/obj/fuzz/%.o $(OUT)/obj/fuzz/replay_main.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(OUT)/obj/fuzz/$*.o $(OUT)/obj/fuzz/replay_main.o $(LINK_LIBS) $(LDLIBS)

check-unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

check-fuzz-corpus: $(REPLAY_BINS)
	@fail=0; for t in $(REPLAY_BINS); do n=$$(basename $$t); \
	  $$t fuzz/corpus/$$n || fail=1; done; exit $$fail

check-netns: programs tools
	PHAROS_BIN=$(abspath $(OUT)/bin) PHAROS_TOOLS=$(abspath $(OUT)/tools) $(PYTHON) -m pytest -q -p no:cacheprovider tests/netns $(PYTEST_ARGS)

# ML-KEM-768 against kyber-py (PyPI), an implementation we did not write.
ORACLE_VENV := $(BUILD)/oracle-venv
check-oracle: tools
	test -x $(ORACLE_VENV)/bin/python || $(PYTHON) -m venv --system-site-packages $(ORACLE_VENV)
	$(ORACLE_VENV)/bin/python -m pip install -q --disable-pip-version-check kyber-py==1.2.0
	MLKEM_ORACLES=kyber-py PHAROS_TOOLS=$(abspath $(OUT)/tools) $(ORACLE_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/interop/test_mlkem_oracle.py

test:
	$(MAKE) MODE=asan check-unit check-fuzz-corpus check-oracle
	$(MAKE) MODE=asan check-netns
	$(MAKE) MODE=tsan check-unit

tsan:
	$(MAKE) MODE=tsan check-unit

fuzz:
	$(MAKE) MODE=fuzz $(patsubst fuzz/%.c,$(BUILD)/fuzz/fuzz/%,$(FUZZ_SRCS))

fuzz-run: fuzz
	@set -e; for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); mkdir -p $(BUILD)/fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $(BUILD)/fuzz/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(BUILD)/fuzz/corpus/$$n fuzz/corpus/$$n 2>&1 | tail -n 4; done

bench:
	$(MAKE) MODE=bench programs tools
	PHAROS_BIN=$(abspath $(BUILD)/bench/bin) bash bench/run-all

# The main job: a whole fleet in a lab of network namespaces (scripts/demo);
# the lab stays up until demo-down.
demo: programs
	PHAROS_BIN=$(abspath $(OUT)/bin) $(PYTHON) scripts/demo
demo-down:
	$(PYTHON) scripts/demo --down

lab-selftest:
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/netns/test_lab.py

install: programs
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/

deps:
	bash scripts/deps

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The gRPC layer's test contract and targets.
include mk/rpc.mk

# The store's embedded SQL migrations.
include mk/store.mk
