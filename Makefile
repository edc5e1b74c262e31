GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run build test test-deps vet lint fuzz bench clean

# Run callscreen on its embedded defaults: no config file, no Redis.
run: build
	./bin/callscreen serve

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/callscreen ./cmd/callscreen

# The one test command: README and CI run exactly this. Every benchmark
# also runs once, so that one that no longer works fails here, not when
# someone measures.
test: test-deps
	$(GO) test -race -timeout 12m ./...
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 5m ./...

test-deps:
	@scripts/install-test-deps

vet:
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf bin

# Every native fuzz target, one after the other, FUZZTIME each.
# FUZZ=FuzzParseEnv runs one target only.
FUZZTIME ?= 30s
FUZZ     ?=
fuzz:
	@n=0; for f in $$(find . -name '*_test.go' -not -path '*/testdata/*' | sort); do \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    if [ -n "$(FUZZ)" ] && [ "$(FUZZ)" != "$$t" ]; then continue; fi; \
	    n=$$((n+1)); \
	    echo "$(GO) test -run '^$$' -fuzz '^$$t\$$' -fuzztime $(FUZZTIME) $$(dirname $$f)"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$(dirname $$f) || exit 1; \
	  done; \
	done; \
	if [ $$n -eq 0 ]; then echo "make fuzz: no fuzz target $(FUZZ)" >&2; exit 1; fi

# The load tests of cmd/callscreen-bench, one after the other, with short
# bounded runs (a few minutes in all); BENCHES picks some, BENCH_<name>
# replaces a run's flags. `callscreen-bench NAME -h` lists them.
BENCHES          ?= agi flow reputation audit ari ari-outbound lists cdr stream
BENCH_agi        ?= -c 1,8 -n 5000 -duration 2s -idle 500
BENCH_flow       ?= -c 1,8 -n 5000 -duration 2s
BENCH_reputation ?= -n 5000 -misses 50 -flood 200 -max 20s
BENCH_audit      ?= -n 5000 -rate 1000 -max 20s
BENCH_ari        ?= -n 200 -timeout 1m
BENCH_ari-outbound ?= -n 200 -timeout 1m
BENCH_lists      ?= -sizes 1000000 -lookups 200000 -feed-rows 100000 -calls 200 -max 2m
BENCH_cdr        ?= -rows 100000,1000000 -max 2m
BENCH_stream     ?= -rate 100 -duration 10s -clients 2000
bench:
	$(GO) build -o bin/callscreen-bench ./cmd/callscreen-bench
	$(foreach b,$(BENCHES),./bin/callscreen-bench $(b) $(BENCH_$(b)) &&) true

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
