# rerank — build, test, sanitize, install.  `make help` lists the targets.
# Order: variables, sources, modes (SAN=, CUDA=), rules, tests, install; the
# generated header dependencies are included last.

# ---- variables --------------------------------------------------------------
CC      ?= cc
BUILD   ?= build
SAN     ?=
OPT     ?= -O2
PREFIX  ?= /usr/local
CUDA       ?= 0
CUDA_HOME  ?= /usr/local/cuda
NVCC       ?= $(CUDA_HOME)/bin/nvcc
CUDA_ARCHS ?= 80 89 90
NVCCFLAGS  ?= -O3
# register spills / local memory in a kernel are warnings (the kernels are meant to have none)
NVCC_WARN  ?= -Xptxas -warn-spills,-warn-lmem-usage
FUZZ_SECONDS ?= 60
INSTALL      ?= install
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CFLAGS_COMMON = -std=c17 $(OPT) -g -Wall -Wextra -Wshadow -Wno-unused-parameter \
                -fPIC -fopenmp -D_GNU_SOURCE -Iinclude -Isrc
# What librerank needs (OpenMP comes with -fopenmp at link time), and what
# only the server, the hub client and the CLI add on top of it.
CORE_LIBS = -ldnnl -lutf8proc -ljansson -lm -lpthread
APP_LIBS  = -lmicrohttpd -lcurl -lcrypto -lgrpc -lgpr -lprotobuf-c
RR_VERSION := $(shell sed -n 's/^.define RERANK_VERSION "\(.*\)".*/\1/p' include/rerank.h)
# The soname changes with the ABI: MAJOR, or 0.MINOR while MAJOR is 0
# (0.x releases may change the ABI with each minor version).
RR_VER_WORDS := $(subst ., ,$(RR_VERSION))
RR_SONAME   = librerank.so.$(if $(filter 0,$(word 1,$(RR_VER_WORDS))),0.$(word 2,$(RR_VER_WORDS)),$(word 1,$(RR_VER_WORDS)))
RR_REALNAME = librerank.so.$(RR_VERSION)

# ---- sources ----------------------------------------------------------------
CORE_SRC = $(wildcard src/common/*.c src/tokenizer/*.c src/model/*.c src/kernels/*.c src/families/*.c src/cpu/*.c \
                      src/engine/*.c)
APP_SRC  = $(wildcard src/server/*.c src/eval/*.c src/hub/*.c)
CLI_SRC  = $(wildcard src/cli/*.c)
TEST_SRC = $(wildcard tests/test_*.c)
TEST_HELPERS = $(filter-out tests/test_%.c,$(wildcard tests/*.c))
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)
FUZZ_NAMES = $(FUZZ_SRC:fuzz/fuzz_%.c=%)
FUZZ_TARGETS ?= $(FUZZ_NAMES)

# gRPC (rerank serve --grpc-port): C code generated from proto/*.proto by
# protoc-c into $(BUILD)/gen, built into librerank-app.a (never librerank.so).
PROTO_SRC = $(wildcard proto/*.proto)
PROTO_GEN = $(PROTO_SRC:proto/%.proto=$(BUILD)/gen/%.pb-c.c)
PROTO_OBJ = $(PROTO_GEN:.c=.o)

CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o)
APP_OBJ  = $(APP_SRC:%.c=$(BUILD)/%.o) $(PROTO_OBJ)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_HELPER_OBJ = $(TEST_HELPERS:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# Each fuzz target's corpus is replayed as an ordinary test (no libFuzzer).
REGRESS_OBJ = $(FUZZ_SRC:%.c=$(BUILD)/%.o) $(BUILD)/fuzz/regress_main.o
TEST_BIN += $(FUZZ_NAMES:%=$(BUILD)/tests/test_regress_%)
# Everything `make test` runs besides the test binaries.
TEST_DEPS = $(BUILD)/rerank $(BUILD)/librerank.so $(BUILD)/loadgen $(BUILD)/isa_peak $(BUILD)/attn_bench $(BUILD)/gemm_rows \
            $(BUILD)/tests/test_cuda_emu
# tests/test_cuda_host (the CUDA pass on the host; rule below) where the CUDA headers are, in builds
# without the CUDA backend.
ifneq ($(CUDA),1)
ifeq ($(words $(wildcard $(CUDA_HOME)/include/cuda_runtime.h $(CUDA_HOME)/include/cublasLt.h)),2)
TEST_DEPS += $(BUILD)/tests/test_cuda_host
endif
endif
# Concurrency tests run under ThreadSanitizer (not test_grpc: Debian's gRPC
# and abseil are not built with TSan, so their own locking reads as races).
TSAN_TESTS ?= $(notdir $(wildcard $(patsubst %,tests/%.c,test_tok_threads test_batcher test_batcher_fair test_server test_server_http test_server_models)))

# ---- modes ------------------------------------------------------------------
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
# A sanitized librerank.so leaves the sanitizer's symbols to the program that
# loads it; an ordinary one must resolve every symbol from CORE_LIBS alone.
ifeq ($(SAN),)
  SO_LDFLAGS = -Wl,--no-undefined
endif

override CFLAGS := $(CFLAGS_COMMON) $(CFLAGS)

# CUDA backend: `make CUDA=1` compiles src/cuda/*.cu with nvcc into librerank
# and links cudart + cuBLASLt (CUDA_HOME; CUDA_ARCHS "80 89 90": A100, L4 /
# Ada, H100 / H200, plus PTX of the last for newer GPUs). The default build
# compiles src/cuda/cuda_stub.c instead (no device, RERANK_ERR_UNSUPPORTED).
# Switching CUDA= in one BUILD directory rebuilds the backend objects and both
# libraries (the mode is kept in a stamp file); a separate directory keeps
# CUDA objects apart: `make CUDA=1 BUILD=build-cuda test`.
CUDA_GENCODE = $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) \
               -gencode arch=compute_$(lastword $(CUDA_ARCHS)),code=compute_$(lastword $(CUDA_ARCHS))
CUDA_STAMP = $(BUILD)/cuda-mode.stamp
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(CUDA_STAMP) 2>/dev/null)" = "$(CUDA)" ] || echo "$(CUDA)" > $(CUDA_STAMP); })
ifeq ($(CUDA),1)
  CUDA_OBJ = $(patsubst %.cu,$(BUILD)/%.o,$(wildcard src/cuda/*.cu))
  override CFLAGS += -DRR_WITH_CUDA
  CORE_LIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++
else
  CUDA_OBJ = $(BUILD)/src/cuda/cuda_stub.o
endif
LDLIBS = $(APP_LIBS) $(CORE_LIBS)

# ---- rules ------------------------------------------------------------------
.PHONY: all help deps
all: $(BUILD)/rerank $(BUILD)/librerank.a $(BUILD)/librerank.so

help:
	@echo "targets (BUILD=DIR puts everything in DIR, default build/):"
	@echo "  make all          build $(BUILD)/rerank, librerank.a, librerank.so (the default)"
	@echo "  make deps         install the Debian build/run dependencies (apt-get)"
	@echo "  make test         build and run all tests (TESTS=\"test_a test_b\" runs only those)"
	@echo "  make test-bins    build what make test runs, without running it"
	@echo "  make check        everything CI runs: test + asan + tsan"
	@echo "  make asan         all tests under AddressSanitizer + UBSan (build-asan/)"
	@echo "  make tsan         the concurrency tests under ThreadSanitizer (build-tsan/)"
	@echo "  make fuzz         every libFuzzer target for FUZZ_SECONDS=60 s (clang; FUZZ_TARGETS=\"...\")"
	@echo "  make loadgen      $(BUILD)/loadgen, the HTTP load generator for rerank serve"
	@echo "  make grpc_loadgen $(BUILD)/grpc_loadgen, the same load over rerank serve's gRPC API"
	@echo "  make isa_peak     $(BUILD)/isa_peak, the SIMD multiply-add issue rate (GEMM ceilings)"
	@echo "  make attn_bench   $(BUILD)/attn_bench, the CPU attention kernels against the one-thread GEMM ceiling"
	@echo "  make gemm_rows    $(BUILD)/gemm_rows, the GEMM rate by row count M, rows whole and split as on AMX"
	@echo "  make install      rerank, librerank, rerank.h, rerank.pc, man page (PREFIX=/usr/local, DESTDIR=)"
	@echo "  make uninstall    remove exactly what install put there (same PREFIX, DESTDIR)"
	@echo "  make clean        remove build/, build-asan/, build-tsan/, build-fuzz/, build-cuda/"
	@echo "  make clean-cuda   remove build-cuda/"
	@echo "  make help         this text"
	@echo "modes: CUDA=1 (CUDA backend; CUDA_HOME, CUDA_ARCHS=\"80 89 90\"), SAN=asan|tsan|fuzz, OPT=-O2, CC=cc"

deps:
	bash scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(dir $@)
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<
$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(CC) $(CFLAGS) -Wno-shadow -MMD -MP -c $< -o $@
$(BUILD)/src/server/grpc_server.o: CFLAGS += -I$(BUILD)/gen
$(BUILD)/src/server/grpc_server.o: $(PROTO_GEN:.c=.h)

$(BUILD)/src/cuda/%.o: src/cuda/%.cu $(CUDA_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC) -std=c++17 $(NVCCFLAGS) $(NVCC_WARN) -g $(CUDA_GENCODE) -Xcompiler -fPIC,-Wall,-Wextra -Iinclude -Isrc \
	  -DRR_WITH_CUDA -MMD -MP -c $< -o $@
# The legacy attention kernels (kept for A/B runs) spill a few bytes: no spill warnings for them.
$(BUILD)/src/cuda/cuda_attention_legacy.o: NVCC_WARN :=
$(BUILD)/src/cuda/cuda_stub.o: $(CUDA_STAMP)

$(BUILD)/librerank.a: $(CORE_OBJ) $(CUDA_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/librerank-app.a: $(APP_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The shared library links the core's libraries only (not APP_LIBS); its
# soname comes from include/rerank.h's version. It exports the public API
# only (rerank_*, src/librerank.map): the rr_* internals stay local.
$(BUILD)/librerank.so: $(CORE_OBJ) $(CUDA_OBJ) include/rerank.h src/librerank.map
	$(CC) -shared -fopenmp -Wl,-soname,$(RR_SONAME) -Wl,--version-script,src/librerank.map $(SO_LDFLAGS) $(LDFLAGS) \
	  -o $@ $(filter %.o,$^) $(CORE_LIBS)
	ln -sf librerank.so $(BUILD)/$(RR_SONAME)

$(BUILD)/rerank: $(CLI_OBJ) $(BUILD)/librerank-app.a $(BUILD)/librerank.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/librerank-app.a $(BUILD)/librerank.a $(LDLIBS)

.PHONY: loadgen grpc_loadgen isa_peak attn_bench gemm_rows
# gRPC twin of loadgen (tei.v1 Rerank, closed loop over HTTP/2 streams)
grpc_loadgen: $(BUILD)/grpc_loadgen
$(BUILD)/grpc_loadgen: bench/grpc_loadgen.c $(BUILD)/gen/tei.pb-c.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/gen -MMD -MP $(LDFLAGS) -o $@ $< $(BUILD)/gen/tei.pb-c.o -lgrpc -lgpr -lprotobuf-c -lm
loadgen: $(BUILD)/loadgen
$(BUILD)/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< -lcurl -ljansson -lpthread -lm

isa_peak: $(BUILD)/isa_peak
$(BUILD)/isa_peak: bench/isa_peak.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $<

# the linear layers' GEMM rate by row count, rows whole and split as on AMX (src/cpu/gemm.c)
gemm_rows: $(BUILD)/gemm_rows
$(BUILD)/gemm_rows: bench/gemm_rows.c $(BUILD)/librerank.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(BUILD)/librerank.a $(LDLIBS)

# attention kernels against the one-thread GEMM ceiling (src/kernels/attention.h)
attn_bench: $(BUILD)/attn_bench
$(BUILD)/attn_bench: bench/attn_bench.c $(BUILD)/librerank.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(BUILD)/librerank.a $(LDLIBS)

.PHONY: clean clean-cuda
clean: clean-cuda
	rm -rf build build-asan build-tsan build-fuzz
clean-cuda:
	rm -rf build-cuda

# ---- tests ------------------------------------------------------------------
.PHONY: test test-bins check asan tsan fuzz
# Objects only the test binaries use are kept, so that a second `make test`
# compiles and links nothing (tests/test_layout.sh checks it).
.SECONDARY: $(TEST_HELPER_OBJ) $(REGRESS_OBJ)

test-bins: $(TEST_BIN) $(TEST_DEPS)
test: test-bins
	bash tests/run.sh $(BUILD)

$(BUILD)/tests/%: tests/%.c $(TEST_HELPER_OBJ) $(BUILD)/librerank-app.a $(BUILD)/librerank.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(TEST_HELPER_OBJ) $(BUILD)/librerank-app.a $(BUILD)/librerank.a $(LDLIBS)
# The test binaries also depend on the mode (RR_WITH_CUDA in test_cuda.c).
$(BUILD)/tests/test_cuda: $(CUDA_STAMP)

# The hand-written CUDA kernels (src/cuda/*.cuh) also compile for the host
# against a SIMT emulator (tests/simt_emu.cc) and run in every build, GPU or
# not: tests/test_cuda_emu checks their index math against float64 references.
CXX ?= g++
EMU_SAN = $(filter -fsanitize=% -fno-omit-frame-pointer -fno-sanitize-recover=%,$(CFLAGS))
$(BUILD)/tests/test_cuda_emu: tests/test_cuda_emu.cc tests/simt_emu.cc tests/simt_emu.h tests/test.h \
                              $(wildcard src/cuda/*.cuh src/cuda/*_ref.h) src/cuda/simt.h
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(OPT) -g -Wall -Wextra -Wshadow $(EMU_SAN) -Isrc -Itests -o $@ tests/test_cuda_emu.cc \
	  tests/simt_emu.cc

# The CUDA backend's whole pass (cuda_blocks.cu records, cuda_chunks.cu cuts and lays out the chunks,
# cuda_pass.cu lowers, cuda_forward.cu ends it; compiled for the host, the last over the host runtime of
# tests/cuda_rt_host.cc) with host versions of its launch functions running the same kernel bodies under the emulator:
# tests/test_cuda_host checks every family's pass against the goldens without a GPU. It needs the CUDA
# headers (not the libraries), and a build without the CUDA backend (whose objects define the same
# functions): TEST_DEPS has it only then.
$(BUILD)/tests/test_cuda_host: tests/test_cuda_host.cc tests/simt_emu.cc tests/simt_emu.h tests/test.h tests/golden.h \
                               tests/cuda_rt_host.cc tests/cuda_rt_host.h \
                               src/cuda/cuda_pass.cu src/cuda/cuda_blocks.cu src/cuda/cuda_chunks.cu \
                               src/cuda/cuda_forward.cu src/cuda/cuda_errors.cu src/cuda/cuda_graph.cu src/cuda/cuda_weights.cu \
                               $(wildcard src/cuda/*.cuh src/cuda/*.h) \
                               $(TEST_HELPER_OBJ) $(BUILD)/librerank.a
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(OPT) -g -Wall -Wextra -Wno-unused-parameter $(EMU_SAN) -fopenmp -Isrc -Iinclude -Itests \
	  -I$(CUDA_HOME)/include -DRR_WITH_CUDA -o $@ tests/test_cuda_host.cc -x c++ src/cuda/cuda_pass.cu \
	  src/cuda/cuda_blocks.cu src/cuda/cuda_chunks.cu src/cuda/cuda_forward.cu src/cuda/cuda_errors.cu src/cuda/cuda_graph.cu \
	  src/cuda/cuda_weights.cu \
	  -x none tests/cuda_rt_host.cc tests/simt_emu.cc $(BUILD)/tests/golden.o $(BUILD)/librerank.a $(CORE_LIBS)

$(BUILD)/tests/test_regress_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/regress_main.o $(BUILD)/librerank-app.a $(BUILD)/librerank.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/librerank-app.a $(BUILD)/librerank.a $(LDLIBS)

check: test
	$(MAKE) asan
	$(MAKE) tsan

asan:
	$(MAKE) BUILD=build-asan SAN=asan OPT=-O1 test

# Concurrency tests under ThreadSanitizer (the shared tokenizer, the batcher,
# the server). OpenMP runs single-threaded there: libgomp is not built with
# TSan, so the fork/join barriers of a parallel region are invisible to it and
# every access to data shared with a region would be reported as a race (e.g.
# an OpenMP pool thread reading a request's token ids, then the HTTP thread
# freeing them after the batcher signalled completion). OMP_NUM_THREADS=1
# covers models loaded with threads = 1; RERANK_THREADS=1 (the env form of
# `rerank serve --threads`) covers the servers test_server starts, whose
# default (0 = all cores, omp_get_num_procs) ignores OMP_NUM_THREADS.
tsan:
	$(MAKE) BUILD=build-tsan SAN=tsan OPT=-O1 build-tsan/rerank build-tsan/loadgen $(patsubst %.c,build-tsan/tests/%,$(TSAN_TESTS))
	OMP_NUM_THREADS=1 RERANK_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  TESTS="$(patsubst %.c,%,$(TSAN_TESTS))" bash tests/run.sh build-tsan

# `make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="tokenize ..."]`: run each libFuzzer
# target (clang) for FUZZ_SECONDS; new inputs go to build-fuzz/corpus/<name>.
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

# ---- install ----------------------------------------------------------------
# `make install [PREFIX=/usr/local] [DESTDIR=/staging]`: the rerank binary,
# librerank.a, librerank.so (soname librerank.so.MAJOR), include/rerank.h, a
# pkg-config file (`pkg-config --cflags --libs rerank`) and the man page.
# `make uninstall` with the same PREFIX/DESTDIR removes exactly those files.
.PHONY: install uninstall $(BUILD)/rerank.pc  # .pc: always regenerated (PREFIX may change)
$(BUILD)/rerank.pc: include/rerank.h Makefile
	@mkdir -p $(dir $@)
	printf '%s\n' 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' \
	  'libdir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))' \
	  'includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))' '' \
	  'Name: rerank' \
	  'Description: cross-encoder reranking engine (bge-reranker, ms-marco cross-encoders) for CPUs' \
	  'Version: $(RR_VERSION)' \
	  'Libs: -L$${libdir} -lrerank' \
	  'Libs.private: $(CORE_LIBS) -lgomp' \
	  'Cflags: -I$${includedir}' > $@

install: all $(BUILD)/rerank.pc
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 755 $(BUILD)/rerank $(DESTDIR)$(BINDIR)/rerank
	$(INSTALL) -m 644 $(BUILD)/librerank.a $(DESTDIR)$(LIBDIR)/librerank.a
	$(INSTALL) -m 755 $(BUILD)/librerank.so $(DESTDIR)$(LIBDIR)/$(RR_REALNAME)
	ln -sf $(RR_REALNAME) $(DESTDIR)$(LIBDIR)/$(RR_SONAME)
	ln -sf $(RR_SONAME) $(DESTDIR)$(LIBDIR)/librerank.so
	$(INSTALL) -m 644 include/rerank.h $(DESTDIR)$(INCLUDEDIR)/rerank.h
	$(INSTALL) -m 644 $(BUILD)/rerank.pc $(DESTDIR)$(PKGCONFIGDIR)/rerank.pc
	$(INSTALL) -m 644 docs/rerank.1 $(DESTDIR)$(MANDIR)/man1/rerank.1
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rerank $(DESTDIR)$(LIBDIR)/librerank.a \
	  $(DESTDIR)$(LIBDIR)/$(RR_REALNAME) $(DESTDIR)$(LIBDIR)/$(RR_SONAME) \
	  $(DESTDIR)$(LIBDIR)/librerank.so $(DESTDIR)$(INCLUDEDIR)/rerank.h \
	  $(DESTDIR)$(PKGCONFIGDIR)/rerank.pc $(DESTDIR)$(MANDIR)/man1/rerank.1

# ---- generated header dependencies (last) -----------------------------------
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
