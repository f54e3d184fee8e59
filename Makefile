# ferry build. Two entry points matter to users (see README):
#   make demo   set up, build, and run the example end to end
#   make test   set up, build, and run the whole suite twice: normal build, then ASan+UBSan build
# Everything is built under build/<variant>/; protobuf sources are generated there from proto/.

VARIANT  ?= release
BUILD    := build/$(VARIANT)
DUCKDB   := third_party/duckdb
CC       ?= cc
PKGS     := libprotobuf-c yaml-0.1 sqlite3 jansson uuid libmicrohttpd hiredis libpq odbc
TEST_PKGS := libcurl
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wno-format-truncation
CFLAGS_release := -O2 -g
CFLAGS_asan    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS_asan   := -fsanitize=address,undefined
CPPFLAGS := -D_GNU_SOURCE -Isrc -I$(BUILD)/gen -isystem $(DUCKDB) -DFERRY_SOURCE_DIR='"$(CURDIR)"'
CFLAGS   := -std=c11 $(WARN) $(CFLAGS_$(VARIANT)) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -L$(DUCKDB) -lduckdb -Wl,-rpath,$(CURDIR)/$(DUCKDB) -lpthread -lm
LDFLAGS  := $(LDFLAGS_$(VARIANT))

PROTOS   := $(shell find proto -name '*.proto' | sort)
GEN_C    := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
LIB_SRC  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(patsubst %.c,%.o,$(GEN_C))
TEST_SRC := $(shell find tests -name '*.c' | sort)
TEST_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRC))

# Generated protobuf sources are intermediate files of a pattern chain; keep them between builds.
.SECONDARY:
.PHONY: all setup test test-one demo bench bench-smoke clean
all: $(BUILD)/ferry $(BUILD)/datagen

setup:
	@scripts/setup.sh

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(CC) $(CPPFLAGS) -std=c11 $(CFLAGS_$(VARIANT)) $(shell pkg-config --cflags libprotobuf-c) -c $< -o $@

# Every object waits for all generated headers, so any file may include any .pb-c.h.
$(BUILD)/obj/%.o: %.c $(patsubst %.c,%.h,$(GEN_C))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libferry.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/ferry: $(BUILD)/obj/src/main.o $(BUILD)/libferry.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/ferry-tests: $(TEST_OBJ) $(BUILD)/libferry.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

$(BUILD)/datagen: tools/datagen.c
	@mkdir -p $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -L$(DUCKDB) -lduckdb -Wl,-rpath,$(CURDIR)/$(DUCKDB)

# One variant's suite; FERRY_BIN lets end-to-end tests run the binary of the same variant.
test-one: $(BUILD)/ferry $(BUILD)/ferry-tests
	FERRY_BIN=$(CURDIR)/$(BUILD)/ferry ASAN_OPTIONS=detect_leaks=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(BUILD)/ferry-tests $(T)

# The servers the suite needs (redis-server, PostgreSQL) run for the whole test command, on free
# loopback ports with throwaway data (scripts/test_services.sh).
test: setup
	scripts/test_services.sh sh -c '$(MAKE) --no-print-directory VARIANT=release bench-smoke >/dev/null && \
	  $(MAKE) --no-print-directory VARIANT=release test-one && \
	  $(MAKE) --no-print-directory VARIANT=asan test-one'

demo: setup
	$(MAKE) --no-print-directory VARIANT=release all
	examples/driver_stats/run_demo.sh $(CURDIR)/build/release

# The benchmark (bench/run; README "Performance"): ferry and datagen, and the reference programs
# linked against the same library. Defaults: N = 100k, 1M and 5M; see bench/run for the knobs.
# bench-smoke proves the benchmark still runs end to end, at a size CI can afford.
$(BUILD)/ceiling: bench/ceiling.c $(BUILD)/libferry.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: $(BUILD)/ferry $(BUILD)/datagen $(BUILD)/ceiling
	bench/run $(CURDIR)/$(BUILD)

bench-smoke: $(BUILD)/ferry $(BUILD)/datagen $(BUILD)/ceiling
	BENCH_N=20000 BENCH_REPEAT=1 BENCH_SERVE_SECONDS=1 OUT=$(CURDIR)/$(BUILD)/bench-smoke bench/run $(CURDIR)/$(BUILD)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
