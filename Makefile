# peerlink's build. `make test` is what CI runs (.ci/run); `make sim` runs the
# default simulation.

GO ?= go
GOFILES = $(shell find . -name '*.go' -not -path './.git/*')

.PHONY: test fmt-check vet test-root test-race test-fresh test-tests test-wg wg-soak bench-wg props-long props-sweep bench bench-drivers fuzz sim

test: fmt-check vet test-root test-race test-fresh test-tests test-wg

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# go vet both modules, the Windows side of the drivers cross-compiled, and
# the portable driver on each OS whose kernel-queue bound differs.
vet:
	$(GO) vet ./...
	cd tests && $(GO) vet ./...
	cd wgbind && $(GO) vet ./...
	cd examples/wgpeer && $(GO) vet ./...
	GOOS=windows $(GO) vet ./drivers/...
	for os in darwin freebsd openbsd netbsd linux plan9; do \
		GOOS=$$os $(GO) vet ./drivers/portable/ || exit 1; \
	done

# Unit, property (rapid, 1000 cases each by default) and boundary tests of
# the root module.
test-root:
	$(GO) test -count=1 ./...

# The drivers are the only code with goroutines and locks.
test-race:
	$(GO) test -count=1 -race ./drivers/...

# What a new user copies, built and run in a fresh module outside the
# tree: every example and the README's embedding snippet.
test-fresh:
	GO=$(GO) scripts/fresh-module

# Black-box, property, interop and network-namespace tests.
test-tests:
	cd tests && $(GO) test -count=1 ./...

# WireGuard over peerlink (its own module, so wireguard-go stays out of the
# root go.sum): the Bind's unit tests, with -race, and, as root, two
# wireguard-go devices on TUN interfaces behind NAT namespaces with coturn;
# then the example program, run as the README shows.
test-wg:
	cd wgbind && $(GO) test -count=1 -race -timeout 5m ./...
	cd examples/wgpeer && $(GO) test -count=1 ./...

# The saturated-tunnel probe measurement for a full 2 minutes per queue
# policy (make test runs it for 15 s).
wg-soak:
	cd wgbind && WG_SOAK=120s $(GO) test -count=1 -timeout 15m -v -run 'TestProbesUnderASaturatedTunnel' ./...

# iperf3 TCP through the tunnel: peerlink's Bind against wireguard-go's
# StdNetBind on the same namespaces and veth, in one run (each twice, in
# the order A B B A, keeping each one's better figure).
bench-wg:
	cd wgbind && WG_BENCH=1 $(GO) test -count=1 -timeout 10m -v -run 'TestBenchTCP' ./... 2>&1 | grep -E '^wg tcp|FAIL|SKIP'

# The simulator's world properties with CASES worlds each (make test runs
# 100, 25 for P4): about 4 minutes per thousand worlds on 2 cores. Each
# prints what it saw with -v; P3 logs its path-switch counts.
CASES ?= 1000
props-long:
	cd tests && $(GO) test -count=1 -timeout 2h -v -run 'TestP[1-4]A|TestP3NoLoad' ./sim/ -rapid.checks=$(CASES)

# The world properties over WORLDS worlds each, sharded over every core with
# a distinct seed and working folder per shard (scripts/props-sweep says
# more); ends with `sweep P1=passed/run ... distinct_failures=N` and each
# failure's replay command.
WORLDS ?= 1000
props-sweep:
	scripts/props-sweep $(WORLDS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./state/...

# Loopback rates: the path a program calls (two Drivers over ICE, Send and
# SendBatch) beside naive sends, the kernel's GSO limit and wireguard-go;
# the queue and Linux Conn alone; receive with and without GRO.
bench-drivers:
	cd tests && $(GO) test -count=1 -run '^$$' -bench Drivers ./bench/

# Every fuzz target for FUZZTIME each (go test runs one target at a time).
# `make test` already replays each target's seed corpus under testdata/fuzz.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# The default scenario, with the three queue policies side by side.
# `make sim SCENARIO=roam` runs another named scenario instead (the names:
# go run ./cmd/peerlink-sim -h).
SCENARIO ?=
sim:
ifeq ($(SCENARIO),)
	$(GO) run ./cmd/peerlink-sim -compare
else
	$(GO) run ./cmd/peerlink-sim -scenario $(SCENARIO)
endif
