GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run build test test-deps vet lint fuzz bench clean

# Run callscreen on its embedded defaults: no config file, no Redis.
run: build
	./bin/callscreen serve

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/callscreen ./cmd/callscreen

# The one test command: README and CI run exactly this.
test: test-deps
	$(GO) test -race -timeout 12m ./...

test-deps:
	@scripts/install-test-deps

vet:
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf bin

# Regenerate the voice prompts (needs espeak-ng and sox); see sounds/README.md.
.PHONY: sounds
sounds:
	scripts/make-sounds

# Install the binary, prompts, dialplan includes, example configuration and
# systemd unit (scripts/install says where). DESTDIR stages the tree; every
# directory below can be overridden on the command line.
PREFIX          ?= /usr/local
BINDIR          ?= $(PREFIX)/bin
SYSCONFDIR      ?= /etc
CONFDIR         ?= $(SYSCONFDIR)/callscreen
ASTERISKCONFDIR ?= $(SYSCONFDIR)/asterisk
SOUNDSDIR       ?= /var/lib/asterisk/sounds/en/callscreen
UNITDIR         ?= $(SYSCONFDIR)/systemd/system

.PHONY: install
install: build
	DESTDIR='$(DESTDIR)' PREFIX='$(PREFIX)' BINDIR='$(BINDIR)' SYSCONFDIR='$(SYSCONFDIR)' \
	CONFDIR='$(CONFDIR)' ASTERISKCONFDIR='$(ASTERISKCONFDIR)' SOUNDSDIR='$(SOUNDSDIR)' \
	UNITDIR='$(UNITDIR)' BIN=bin/callscreen scripts/install
