# The two commands: `make run` starts the whole stack, `make test` runs every check.
# Both install what is missing first (scripts/setup.sh).

CARGO ?= cargo
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: run test setup build bench fmt clippy compose-check unit clean-data

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --workspace --bins

run: build
	@scripts/run.sh

test:
	@scripts/setup.sh --test
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@$(MAKE) --no-print-directory compose-check
ifeq ($(NEXTEST),yes)
	$(CARGO) nextest run --workspace --no-fail-fast
else
	$(CARGO) test --workspace --no-fail-fast
endif

compose-check:
	@if command -v docker-compose >/dev/null; then \
		env JWT_PRIVATE_KEY_FILE=/dev/null JWT_PUBLIC_KEY_FILE=/dev/null NATS_EDGE_PASSWORD=x \
		NATS_AUTH_PASSWORD=x NATS_SUBMISSION_PASSWORD=x NATS_JUDGE_PASSWORD=x NATS_ADMIN_PASSWORD=x \
		docker-compose -f compose.yaml config -q && echo "compose.yaml: valid"; \
	else echo "compose.yaml: NOT CHECKED (docker-compose missing)"; fi

bench: setup
	$(CARGO) bench -p system-tests --bench edge
	@if [ -f judge-worker/benches/sandbox.rs ]; then $(CARGO) bench -p judge-worker --bench sandbox; fi

fmt:
	$(CARGO) fmt --all

clean-data:
	rm -rf data
