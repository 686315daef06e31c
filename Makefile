# The front door: every target installs what it needs on a fresh Debian machine with Swift.
SWIFT      ?= swift
PREFIX     ?= /usr/local
DESTDIR    ?=
BIN        := hls-orchestrator
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Units of installed software go to $(PREFIX)/lib/systemd/system: /usr/lib/systemd/system with
# PREFIX=/usr, as distribution packages do, and /usr/local/lib/systemd/system by default; both are
# on systemd's unit search path, and /etc/systemd/system stays the administrator's (overrides).
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
# Configuration is host state: /etc, whatever the PREFIX (the unit's EnvironmentFile= reads it).
CONFIG_DIR       ?= /etc/hls-orchestrator
# The binary `make install` installs: the one `make release` built, unless told otherwise.
BIN_PATH         ?= .build/release/$(BIN)
# The git revision the binary reports (--version, the start-up log, hls_build_info); empty means
# `git rev-parse --short HEAD` (+ "-dirty"). deploy/stamp-revision.sh writes it into a Swift file
# ignored by git before each build; a plain `swift build` without it reports "unknown".
REVISION         ?=
STAMP            := deploy/stamp-revision.sh $(REVISION)

# Debian packages each target needs (installed only when missing).
BUILD_PACKAGES := libmicrohttpd-dev libsqlite3-dev libhiredis-dev pkg-config zlib1g-dev
# ffmpeg plays the live playlist in a test; prometheus provides promtool; nginx and curl test
# the HTTP/2 front configuration; sqlite3 reads the state file; the Redis tests start
# redis-servers of their own on free ports.
TEST_PACKAGES  := $(BUILD_PACKAGES) ffmpeg prometheus nginx curl sqlite3 redis-server
# make bench: load generator, the nginx reference, a C compiler for the libmicrohttpd floor.
BENCH_PACKAGES := $(BUILD_PACKAGES) wrk nginx gcc libc6-dev python3 curl procps redis-server

# Packages whose installation makes Debian start a daemon: nginx on :80, prometheus on :9090,
# redis-server on :6379. The tests start an nginx and redis-servers of their own and only use
# promtool, so on a host running systemd the service of each one apt_ensure has just installed
# is stopped and disabled again (one that was there before is left alone).
DAEMON_PACKAGES     := nginx prometheus redis-server
SYSTEMD_RUNTIME_DIR ?= /run/systemd/system

define apt_ensure
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing && \
		if [ -d $(SYSTEMD_RUNTIME_DIR) ]; then \
			for p in $$missing; do \
				case " $(DAEMON_PACKAGES) " in *" $$p "*) \
					echo "stopping and disabling $$p.service, started by its installation"; \
					$(SUDO) systemctl disable --now $$p.service || echo "could not stop $$p.service" >&2;; \
				esac; \
			done; \
		fi; \
	fi
endef

.PHONY: help all deps test-deps build release run test lint install uninstall clean

# A bare `make` only prints the targets: nothing is built or installed without being asked for.
.DEFAULT_GOAL := help

# Every public target has one `## target: description` line; `make help` prints them in order.
## help: list the targets with their descriptions (also what a bare `make` does)
help:
	@echo "usage: make <target>   (docs/development.md has the development loop)"
	@sed -n 's/^## \([a-z-]*\): \(.*\)/  \1\t\2/p' $(MAKEFILE_LIST) | expand -t 16

## all: the same as `make build`
all: build

## deps: install the Debian packages the build needs (libmicrohttpd, pkg-config, zlib) when missing
deps:
	$(call apt_ensure,$(BUILD_PACKAGES))

## test-deps: install the packages `make test` needs (also ffmpeg, prometheus, nginx, curl) when missing
test-deps:
	$(call apt_ensure,$(TEST_PACKAGES))

## build: debug build (swift build), the git revision stamped in
build: deps
	$(STAMP)
	$(SWIFT) build

## release: release binary .build/release/hls-orchestrator, with the Swift runtime linked in
# The release binary carries the Swift runtime (--static-swift-stdlib), as in the container
# image: nothing of the toolchain is needed where it runs, and only the runtime code it uses
# is resident (about 4 MiB less than the shared libraries).
release: deps
	$(STAMP)
	$(SWIFT) build -c release --product $(BIN) --static-swift-stdlib

## run: build a release binary and run it with the embedded defaults (plus .env / environment)
run: release
	exec .build/release/$(BIN)

# The pure targets' tests run first, on their own: their CPU-bound property runs would take the
# Swift concurrency pool's threads (two on 2 cores) for seconds, and the socket and process
# tests, which wait on deadlines, would be resumed too late.
PURE_TESTS := ^(HLSModelTests|PlaylistRendererTests|SegmentRegistryTests|AuthorizationTests|StateLogTests)\.

## test: every test and the deploy checks, as CI runs them (5-10 minutes)
# Unit tests, integration over real sockets, the executable as a subprocess, nginx and ffmpeg
# against the service, and the deploy checks (systemd-analyze verify, hadolint, promtool check
# config and the alert rules, compose wiring); also the release build `make run` uses (whole-module optimization
# can fail where a debug build compiles).
test: test-deps
	$(STAMP)
	$(SWIFT) build -c release --product $(BIN) --static-swift-stdlib
	$(SWIFT) build --build-tests
	deploy/check.sh "$$($(SWIFT) build --show-bin-path)/$(BIN)"
	$(SWIFT) test --skip-build --filter '$(PURE_TESTS)'
	$(SWIFT) test --skip-build --skip '$(PURE_TESTS)'

## lint: the deploy checks alone (deploy/check.sh); each installs its tool when missing
lint: build
	deploy/check.sh "$$($(SWIFT) build --show-bin-path)/$(BIN)"

## install: install the release binary, the systemd unit and the example configuration (builds nothing)
# The binary `make release` built (BIN_PATH) to $(PREFIX)/bin, the systemd unit to
# $(SYSTEMD_UNIT_DIR), the example configuration to $(CONFIG_DIR) (an existing one is kept);
# DESTDIR stages for packaging. It builds nothing, so `sudo make install` needs no Swift on
# root's PATH.
install: $(BIN_PATH)
	install -D -m 0755 $(BIN_PATH) $(DESTDIR)$(PREFIX)/bin/$(BIN)
	install -d -m 0755 $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	sed -e 's|^ExecStart=/usr/local/bin/|ExecStart=$(PREFIX)/bin/|' \
		-e 's|^EnvironmentFile=-/etc/hls-orchestrator/|EnvironmentFile=-$(CONFIG_DIR)/|' deploy/systemd/$(BIN).service \
		> $(DESTDIR)$(SYSTEMD_UNIT_DIR)/$(BIN).service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/$(BIN).service
	install -d -m 0755 $(DESTDIR)$(CONFIG_DIR)
	@if [ -e $(DESTDIR)$(CONFIG_DIR)/$(BIN).env ]; then \
		echo "keeping $(DESTDIR)$(CONFIG_DIR)/$(BIN).env (the new example is deploy/systemd/$(BIN).env)"; \
	else \
		install -m 0644 deploy/systemd/$(BIN).env $(DESTDIR)$(CONFIG_DIR)/$(BIN).env; \
	fi
	@[ -n "$(DESTDIR)" ] || echo "then: systemctl daemon-reload && systemctl enable --now $(BIN)"

# Only reached when the binary is missing (an existing file is up to date: it has no prerequisites).
$(BIN_PATH):
	@echo "$(BIN_PATH) does not exist: run 'make release' first (as yourself), then 'sudo make install'" >&2
	@exit 1

## uninstall: remove the installed binary and unit; the configuration in /etc/hls-orchestrator stays
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/$(BIN) $(DESTDIR)$(SYSTEMD_UNIT_DIR)/$(BIN).service

## bench: release build against the libmicrohttpd floor and nginx on loopback (wrk); writes bench/RESULTS.md
.PHONY: bench bench-micro
bench:
	$(call apt_ensure,$(BENCH_PACKAGES))
	BENCH_CMDLINE="make bench" bench/bench.sh

## bench-micro: renderer and registry alone (ordo-one/benchmark): time and allocations per operation
bench-micro:
	$(call apt_ensure,$(BUILD_PACKAGES))
	bench/micro/run.sh

## clean: remove the build folder and the stamped revision
clean:
	rm -rf .build Sources/OrchestratorApp/BuildInfo+Revision.swift
