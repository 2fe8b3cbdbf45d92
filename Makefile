# The README's test command is `make test`; .ci/run calls it.
GO ?= go
PKGS := ./...

.PHONY: test test-short lint fuzz bench build

build:
	$(GO) build -o bin/pollen ./cmd/pollen

# Unit, integration, fuzz-seed and -benchtime=1x benchmark runs, with the race
# detector, for both modules (the product and the comparison module in bench/).
test:
	$(GO) test -race -shuffle=on -timeout 20m $(PKGS)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m $(PKGS)
	cd bench && $(GO) test -race -timeout 10m ./...

lint:
	gofmt -l . | (! grep .)
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff
	staticcheck $(PKGS)
	golangci-lint run $(PKGS)

# Short coverage-guided fuzzing of every decoder (longer runs: FUZZTIME=10m).
FUZZTIME ?= 20s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)
