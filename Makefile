# The two commands of the README, and the pieces they are made of.
#
#   make demo    install what is missing, build, run the tour of examples, then a quick benchmark vs Python
#   make test    install what is missing, build, run every test, then again under ASan+UBSan,
#                and the thread-only tests under TSan
#
# Each installs the Debian packages it needs with apt-get (as root) when they
# are missing, so a fresh Debian 12 machine needs nothing but make and git.

SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?=
# What a fresh Debian 12 lacks: the toolchain, the libraries mpx uses, and
# python3 for the benchmark driver and the Python side of each benchmark;
# wrk and nginx for bench/http (bench/apt-install keeps nginx's service from starting).
PACKAGES := g++ cmake ninja-build pkg-config make git ca-certificates python3 \
            libcereal-dev libgtest-dev libgmock-dev libboost-dev libconcurrentqueue-dev \
            libtbb-dev libthread-pool-dev liburing-dev libuv1-dev \
            wrk nginx
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: all deps build test test-plain test-asan test-tsan demo bench fuzz install-check clean format

all: build

deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing missing packages:" $$missing; \
	  $(SUDO) sh bench/apt-install $$missing; \
	fi

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The whole suite, then the whole suite again under ASan+UBSan (LeakSanitizer
# on, its default; ASAN_OPTIONS is left alone so a binary's own defaults hold),
# then the thread-only tests under TSan; then the installed-package consumer check.
test: deps
	$(MAKE) --no-print-directory test-plain
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory install-check
	@echo "make test: all suites passed"

test-plain: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure --timeout 300

test-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMPX_SANITIZE=address,undefined -DMPX_BUILD_BENCH=OFF -DMPX_BUILD_EXAMPLES=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest -j $(JOBS) --output-on-failure --timeout 600

# TSan needs a fixed address-space layout on kernels with high mmap entropy:
# setarch -R turns ASLR off for the test processes only.
test-tsan: deps
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMPX_SANITIZE=thread -DMPX_BUILD_BENCH=OFF -DMPX_BUILD_EXAMPLES=OFF
	cmake --build build-tsan -j $(JOBS) --target mpx_thread_tests
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 setarch $$(uname -m) -R \
	  ctest -j $(JOBS) -L thread --output-on-failure --timeout 600

# Build a consumer with find_package(mpx) against an installed copy.
install-check: build
	rm -rf $(BUILD)/install $(BUILD)/package-test
	cmake --install $(BUILD) --prefix $(BUILD)/install > /dev/null
	cmake -S tests/package -B $(BUILD)/package-test -G Ninja -DCMAKE_PREFIX_PATH=$(CURDIR)/$(BUILD)/install > /dev/null
	cmake --build $(BUILD)/package-test
	$(BUILD)/package-test/consumer

demo: build
	@bash examples/tour.sh $(BUILD)
	@python3 bench/run --quick process pipe sync queue

bench: build
	python3 bench/run

fuzz: build
	$(BUILD)/tests/codec_fuzz --iterations 2000000
	$(BUILD)/tests/connection_fuzz --iterations 200000
	$(BUILD)/tests/queue_ring_fuzz --iterations 200000
	$(BUILD)/tests/socketserver_files_fuzz --iterations 200000
	$(BUILD)/tests/http_parser_fuzz --iterations 200000

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build build-asan build-tsan
