# The front door. Every target installs what is missing first (scripts/bootstrap).
#   make run    build (release) and the web app (when its sources changed), start Trellis on
#               http://127.0.0.1:8080
#   make test   build (debug + sanitizers), lint, fuzz briefly, run every test tier
#   make bench  benchmarks; appends a run to docs/benchmarks.md
#   make lint   clang-format check on all files, clang-tidy on changed files
#   make fmt    clang-format in place
.PHONY: run test bench lint fmt bootstrap build ui docs

JOBS ?= $(shell nproc)

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target trellis

# The web app: npm ci when the lock file changed, vite build when a source changed.
ui: bootstrap
	@scripts/ui build

run: build ui
	./build/release/cmd/trellis/trellis serve

test: bootstrap
	@scripts/test

bench: bootstrap
	@bench/run

lint: bootstrap
	@scripts/lint

fmt: bootstrap
	@scripts/lint --fix

# Regenerates the configuration reference from the schema in code.
docs: build
	@scripts/gen-config-docs ./build/release/cmd/trellis/trellis
