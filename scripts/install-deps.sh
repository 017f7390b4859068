#!/usr/bin/env bash
# Install the Debian packages rerank needs to build, test and run.
# Why each one is here: see README.md, "Dependencies".
set -euo pipefail
PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev   # compilers, sanitizers, libFuzzer
  libdnnl-dev        # oneDNN: GEMM (fp32/bf16/int8) for the linear layers
  libutf8proc-dev    # Unicode data: categories, NFD, case, grapheme breaks
  libjansson-dev     # JSON: tokenizer.json, config.json, safetensors headers, HTTP API
  libmicrohttpd-dev  # HTTP/1.1 server for `rerank serve`
  libgrpc-dev        # gRPC C core: `rerank serve --grpc-port` (TEI's tei.v1 API)
  libprotobuf-c-dev protobuf-c-compiler  # protobuf messages for gRPC, C code generated from proto/*.proto
  python3-grpcio python3-grpc-tools      # the gRPC test's client and its stub generator
  libcurl4-openssl-dev  # downloads for `rerank pull`
  libssl-dev         # libcrypto (EVP SHA-256): `rerank pull` verifies LFS blobs
  nginx              # load balancer for scripts/scaleout-test.sh (not needed to build)
  curl               # HTTP client used by the server integration tests
  python3-numpy      # ../shared/tools/make_random_model.py (benchmarks); predict() arrays in the Python test
  python3-venv       # the Python package's test: a fresh venv, `pip install ./python` (bundles pip, offline)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "install-deps: all packages present"; exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
