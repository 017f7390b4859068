# rerank — build, test, sanitize.  `make help` lists the targets.
CC      ?= cc
BUILD   ?= build
SAN     ?=
OPT     ?= -O2
PREFIX  ?= /usr/local

CFLAGS_COMMON = -std=c17 $(OPT) -g -Wall -Wextra -Wshadow -Wno-unused-parameter \
                -fPIC -fopenmp -D_GNU_SOURCE -Iinclude -Isrc
LDLIBS  = -ldnnl -lutf8proc -ljansson -lmicrohttpd -lcurl -lm -lpthread

ifeq ($(SAN),asan)
  CFLAGS_COMMON += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(SAN),fuzz)
  CFLAGS_COMMON += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fopenmp=libgomp
  LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(SAN),tsan)
  CFLAGS_COMMON += -fsanitize=thread -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=thread
endif

override CFLAGS := $(CFLAGS_COMMON) $(CFLAGS)

CORE_SRC = $(wildcard src/common/*.c src/tokenizer/*.c src/model/*.c src/kernels/*.c src/engine/*.c)
APP_SRC  = $(wildcard src/server/*.c src/eval/*.c)
CLI_SRC  = $(wildcard src/cli/*.c)
TEST_SRC = $(wildcard tests/test_*.c)
TEST_HELPERS = $(filter-out tests/test_%.c,$(wildcard tests/*.c))

CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o)
APP_OBJ  = $(APP_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_HELPER_OBJ = $(TEST_HELPERS:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)
FUZZ_NAMES = $(FUZZ_SRC:fuzz/fuzz_%.c=%)
# Each fuzz target's corpus is replayed as an ordinary test (no libFuzzer).
TEST_BIN += $(FUZZ_NAMES:%=$(BUILD)/tests/test_regress_%)
FUZZ_SECONDS ?= 60

.PHONY: all lib test check asan tsan fuzz clean help deps
all: $(BUILD)/rerank $(BUILD)/librerank.a $(BUILD)/librerank.so

help:
	@echo "make deps      install Debian build/run dependencies (apt-get)"
	@echo "make           build $(BUILD)/rerank, librerank.a, librerank.so"
	@echo "make test      build and run all tests"
	@echo "make check     everything CI runs: test + asan"
	@echo "make asan      run all tests under AddressSanitizer + UBSan (build-asan/)"
	@echo "make fuzz      run every libFuzzer target for FUZZ_SECONDS (clang)"
	@echo "make tsan      run concurrency tests under ThreadSanitizer (build-tsan/)"

deps:
	bash scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/librerank.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/librerank-app.a: $(APP_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^ $(if $(APP_OBJ),,)

$(BUILD)/librerank.so: $(CORE_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/rerank: $(CLI_OBJ) $(BUILD)/librerank-app.a $(BUILD)/librerank.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/librerank-app.a $(BUILD)/librerank.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(TEST_HELPER_OBJ) $(BUILD)/librerank-app.a $(BUILD)/librerank.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(TEST_HELPER_OBJ) $(BUILD)/librerank-app.a $(BUILD)/librerank.a $(LDLIBS)

$(BUILD)/tests/test_regress_%: fuzz/fuzz_%.c fuzz/regress_main.c $(BUILD)/librerank-app.a $(BUILD)/librerank.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ifuzz $(LDFLAGS) -o $@ fuzz/fuzz_$*.c fuzz/regress_main.c $(BUILD)/librerank-app.a $(BUILD)/librerank.a $(LDLIBS)

# `make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="tokenize ..."]`: run each libFuzzer
# target (clang) for FUZZ_SECONDS; new inputs go to build-fuzz/corpus/<name>.
FUZZ_TARGETS ?= $(FUZZ_NAMES)
fuzz:
	$(MAKE) BUILD=build-fuzz SAN=fuzz CC=clang build-fuzz/librerank.a build-fuzz/librerank-app.a
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t; \
	  clang $(CFLAGS_COMMON) -fsanitize=fuzzer,address,undefined -fopenmp=libgomp -Ifuzz -o build-fuzz/fuzz_$$t fuzz/fuzz_$$t.c \
	    build-fuzz/librerank-app.a build-fuzz/librerank.a $(LDLIBS); \
	  dict=""; [ -f fuzz/$$t.dict ] && dict="-dict=fuzz/$$t.dict"; \
	  echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
	  build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 $$dict build-fuzz/corpus/$$t fuzz/corpus/$$t; \
	done

test: $(TEST_BIN) $(BUILD)/rerank
	bash tests/run.sh $(BUILD)

check: test
	$(MAKE) asan

asan:
	$(MAKE) BUILD=build-asan SAN=asan OPT=-O1 test

# Concurrency tests under ThreadSanitizer (the shared tokenizer, the batcher,
# the server). OpenMP runs single-threaded there: libgomp is not instrumented.
TSAN_TESTS ?= $(notdir $(wildcard $(patsubst %,tests/%.c,test_tok_threads test_batcher test_server)))
tsan:
	$(MAKE) BUILD=build-tsan SAN=tsan OPT=-O1 build-tsan/rerank $(patsubst %.c,build-tsan/tests/%,$(TSAN_TESTS))
	OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  TESTS="$(patsubst %.c,%,$(TSAN_TESTS))" bash tests/run.sh build-tsan

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
