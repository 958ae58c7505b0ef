# The two commands that do all set-up on a fresh Debian 12 machine:
#   make check   install packages, build, run every test
#   make demo    install packages, build, start a local deployment
# Other targets: build, test, bench (the comparison with nginx), drill (issue 19's fault
# drill on a fleet on loopback), fuzz (every libFuzzer target for FUZZ_SECONDS),
# soak (10,000 IMAP connections held for 10 minutes), format, check-format, install, clean.

PRESET ?= ci
# ccache: paths relative to the checkout, so every clone shares the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
BUILD   := build/$(PRESET)
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps configure build test check demo bench drill fuzz soak format check-format install clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: CMakeLists.txt CMakePresets.json
	cmake --preset $(PRESET)

configure: $(BUILD)/build.ninja

build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	ctest --preset $(PRESET) -j $(JOBS)

check: deps
	@$(MAKE) --no-print-directory test

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo $(BUILD)

# Prints the comparison and every target of issue 18 with its status; fails only
# when a scenario errors. Extra options: make bench BENCH_ARGS="--json out.json".
bench: deps
	@$(MAKE) --no-print-directory build
	python3 bench/compare --bin-dir $(BUILD)/bin --loadgen $(BUILD)/bench/loadgen $(BENCH_ARGS)

# A fleet on loopback (LDAP provider and consumer, 3 memcached, 2 zmlookupd, 2 zmproxyd,
# 2 mailbox servers, 1,000 accounts), one fault at a time under load, and the table;
# fails when a login off a fault's path failed or a part did not recover in time.
# Extra options: make drill DRILL_ARGS="--faults memcached,move".
drill: deps
	@$(MAKE) --no-print-directory build
	ZMPROXY_LDAP_SCHEMA_DIR=$(CURDIR)/$(BUILD)/share/zmproxy/ldap \
	  python3 tests/drill/drill.py --bin-dir $(BUILD)/bin --json $(BUILD)/drill.json $(DRILL_ARGS)

# Every libFuzzer target (tests/fuzz) built with clang in build/fuzz and run for
# FUZZ_SECONDS each; prints executions, exec/s and coverage per target and fails
# naming each crash's artifact.
FUZZ_SECONDS ?= 60
fuzz: deps
	python3 tests/fuzz/run.py --seconds $(FUZZ_SECONDS) --build-dir build/fuzz

# 10,000 IMAP connections through one zmproxyd for 10 minutes (half held in IDLE, half
# cycling logins), two reloads in the middle; fails when a session failed or the
# descriptors did not return to the baseline. A short check:
# make soak SOAK_ARGS="--minutes 1 --connections 1000".
soak: deps
	@$(MAKE) --no-print-directory build
	python3 bench/soak --bin-dir $(BUILD)/bin --json $(BUILD)/soak.json $(SOAK_ARGS)

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

check-format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

install: build
	cmake --install $(BUILD)

clean:
	rm -rf build
