# gRPC layer (src/rpc) extras, included by the top-level Makefile
# (`include mk/rpc.mk` after the rules). src/rpc itself is a module library
# like every folder; this adds the test proto that the rpc tools and tests
# speak, and the targets that run them.
#
#   make -f Makefile -f mk/rpc.mk ...   works before the include exists
#   make check-rpc                      unit tests of src/rpc (MODE=asan)
#   make rpc-bench                      unary calls/s and stream messages/s

# Sub-makes must read this file too, whether or not the Makefile includes it yet.
RPC_MAKE = $(MAKE) -f Makefile $(if $(shell grep -s 'mk/rpc.mk' Makefile),,-f mk/rpc.mk)

# tests/proto/echo.proto -> $(OUT)/gen/tests/proto/echo.pb-c.{c,h} (not
# proto/: it is a test contract, so it never reaches libproto or a program).
RPC_ECHO_GEN := $(OUT)/gen/tests/proto/echo.pb-c
RPC_ECHO_OBJ := $(OUT)/obj/$(RPC_ECHO_GEN).o
RPC_ECHO_USERS := $(OUT)/tools/rpc-echo-server $(OUT)/tools/rpc-echo-client $(OUT)/tests/test_rpc_pb

$(RPC_ECHO_GEN).c $(RPC_ECHO_GEN).h &: tests/proto/echo.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=tests/proto --c_out=$(@D) $<

$(OUT)/obj/tests/tools/rpc-echo-server.o $(OUT)/obj/tests/tools/rpc-echo-client.o \
$(OUT)/obj/tests/unit/test_rpc_pb.o: $(RPC_ECHO_GEN).h
$(RPC_ECHO_USERS): $(RPC_ECHO_OBJ)
# The generic link rules name their objects explicitly; the generated one
# rides in front of the libraries.
$(RPC_ECHO_USERS): LDLIBS := $(RPC_ECHO_OBJ) $(LDLIBS)

RPC_UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(wildcard tests/unit/test_rpc*.c))

.PHONY: check-rpc rpc-bench
check-rpc:
	$(RPC_MAKE) MODE=asan rpc-unit-run

.PHONY: rpc-unit-run
rpc-unit-run: $(RPC_UNIT_BINS)
	@fail=0; for t in $(RPC_UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

RPC_BENCH_SECONDS ?= 5
rpc-bench:
	$(RPC_MAKE) MODE=bench $(BUILD)/bench/tools/rpc-echo-server $(BUILD)/bench/tools/rpc-echo-client
	$(PYTHON) tests/interop/rpc_bench.py --tools $(abspath $(BUILD)/bench/tools) --seconds $(RPC_BENCH_SECONDS)
