# The front door: every target installs what it needs on a fresh Debian machine with Swift.
SWIFT      ?= swift
PREFIX     ?= /usr/local
DESTDIR    ?=
BIN        := hls-orchestrator
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages each target needs (installed only when missing).
BUILD_PACKAGES := libmicrohttpd-dev pkg-config zlib1g-dev
# ffmpeg plays the live playlist in a test; prometheus provides promtool.
TEST_PACKAGES  := $(BUILD_PACKAGES) ffmpeg prometheus

define apt_ensure
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: all deps test-deps build release run test clean

all: build

deps:
	$(call apt_ensure,$(BUILD_PACKAGES))

test-deps:
	$(call apt_ensure,$(TEST_PACKAGES))

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product $(BIN)

## run: build a release binary and run it with the embedded defaults (plus .env / environment)
run: release
	exec .build/release/$(BIN)

## test: every test: unit, integration over real sockets, and the executable as a subprocess
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build
