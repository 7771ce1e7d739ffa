# The two commands of the README: `make run` and `make test`. Both install what is missing
# (scripts/bootstrap), configure with CMake + Ninja, and build; the CLI lands at build/kakunin.

BUILD_DIR ?= build
FUZZ_DIR ?= build-fuzz
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
# Seconds each fuzz target runs inside `make test` (when clang-14 is present).
FUZZ_SECONDS ?= 20

.PHONY: all build run tour test unit e2e fuzz fuzz-build bench demo clean format deb

all: build

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	@scripts/bootstrap
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: $(BUILD_DIR)/build.ninja
	@scripts/bootstrap
	@# A build directory `make run` configured without tests gets them back.
	@if grep -q '^KAKUNIN_BUILD_TESTS:BOOL=OFF' $(BUILD_DIR)/CMakeCache.txt; then \
	  cmake -S . -B $(BUILD_DIR) -DKAKUNIN_BUILD_TESTS=ON -DKAKUNIN_BUILD_BENCHMARKS=ON; fi
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Installs only what running needs (scripts/bootstrap --run), builds only the binary, and serves
# the demo node in var/demo — the one an earlier run made, with its operators and clients, unless
# FRESH=1 asks for a new one.
run:
	@scripts/bootstrap --run
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  if dpkg-query -W -f='$${Status}' libgtest-dev 2>/dev/null | grep -q 'ok installed'; then \
	    cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE); \
	  else cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	    -DKAKUNIN_BUILD_TESTS=OFF -DKAKUNIN_BUILD_BENCHMARKS=OFF; fi; fi
	cmake --build $(BUILD_DIR) -j $(JOBS) --target kakunin
	@FRESH=$(FRESH) scripts/demo $(BUILD_DIR)/kakunin

# The Debian package (debian/, debhelper, lintian-clean): $(BUILD_DIR)/deb/kakunin_<version>_<arch>.deb.
deb:
	@scripts/deb $(BUILD_DIR)/deb

# The command-line walkthrough: ingest, search, history, provisions, the operation log.
tour: build
	@scripts/tour $(BUILD_DIR)/kakunin

# KAKUNIN_TEST_DEB=1: tests/deb_install.sh builds the Debian package, installs, runs and purges it
# on this machine (scripts/bootstrap --deb installs debhelper and lintian).
unit: build
	@scripts/bootstrap --deb
	KAKUNIN_TEST_DEB=1 ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# The console in Debian's Chromium driven by playwright-core (npm), WebAuthn through Chromium's
# virtual authenticator; scripts/bootstrap --e2e installs chromium, nodejs and npm.
e2e: build
	@scripts/bootstrap --e2e
	@scripts/e2e $(BUILD_DIR)/kakunin

test: unit e2e
	@if command -v clang++-14 >/dev/null; then $(MAKE) --no-print-directory fuzz; \
	  else echo "clang++-14 not installed: fuzz targets skipped"; fi

fuzz-build:
	@scripts/bootstrap
	CXX=clang++-14 cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DKAKUNIN_BUILD_FUZZERS=ON -DKAKUNIN_BUILD_TESTS=OFF -DKAKUNIN_BUILD_BENCHMARKS=OFF
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_targets

fuzz: fuzz-build
	@scripts/fuzz $(FUZZ_DIR) $(FUZZ_SECONDS)

bench: build
	@scripts/bench $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR)

format:
	find src tests bench fuzz -name '*.h' -o -name '*.cc' | xargs clang-format -i
