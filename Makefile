# ADE developer recipes. `make help` lists them.
#
# Build output lives outside the clone so fresh clones (and CI) reuse it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ade/target

.PHONY: help generate lint unit cluster-up cluster-down e2e chaos test demo bench-plan bench-etl-cpu bench-operator cost argocd-testdata

help: ## list the recipes
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

generate: ## regenerate crds/, the chart's CRDs and series list, manifests/install.yaml and docs/cost.md's figures
	cargo build --quiet --locked --workspace --bins
	$(CARGO_TARGET_DIR)/debug/crdgen
	ADE_UPDATE_GENERATED=1 cargo test --quiet --locked --workspace --exclude ade-e2e --test generated_files -- committed_series_list >/dev/null
	hack/with-tools.sh hack/render-manifests.sh
	$(CARGO_TARGET_DIR)/debug/cost-sim run examples/cost/day.yaml --chart docs/cost-day.svg --update docs/cost.md >/dev/null
	$(CARGO_TARGET_DIR)/debug/cost-sim run examples/cost/spot-storm.yaml --chart docs/cost-storm.svg --update docs/cost.md >/dev/null
	$(CARGO_TARGET_DIR)/debug/cost-sim recommend examples/cost/day.yaml --max-p95-wait 10m --top 3 --update docs/cost.md >/dev/null
	$(CARGO_TARGET_DIR)/debug/cost-sim recommend examples/cost/spot-storm.yaml --max-p95-wait 10m --top 3 --update docs/cost.md >/dev/null

lint: ## rustfmt, clippy (warnings are errors), one cargo package selection, helm lint, generated files, Argo CD Lua tests, alert rule tests and dashboard queries
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	hack/check-cargo-selection.sh
	hack/with-tools.sh helm lint --strict charts/ade-operator
	hack/with-tools.sh hack/render-manifests.sh --check
	hack/with-tools.sh hack/argocd-lua-test.sh
	hack/with-tools.sh hack/monitoring-check.sh

unit: ## unit and integration tests (no cluster needed)
	cargo test --workspace --exclude ade-e2e --locked

cluster-up: ## build (or reuse) and start the local control plane
	e2e/cluster up

cluster-down: ## stop the local control plane
	e2e/cluster down

e2e: ## the end-to-end suite against the local control plane (starts and stops it)
	hack/e2e.sh

argocd-testdata: ## recapture the objects the Argo CD Lua tests read, from the e2e tests that capture them
	ADE_CAPTURE_ARGOCD=1 ADE_E2E_TESTS="foundation etl emr validation stream_consumer" hack/e2e.sh

chaos: ## the fault-injection run at scale: 104 runs, operator kills, AWS faults (docs/reliability.md)
	ADE_E2E_TESTS=chaos ADE_CHAOS_RUNS=90 ADE_CHAOS_KILL_EVERY=4 hack/e2e.sh

test: ## everything: lint, unit and integration tests, end-to-end suite
	hack/test.sh

CHAPTER ?= all
demo: ## the guided tour on the local control plane: batches, spot EMR, EKS nodes, a bad batch caught, a stream, what it cost (CHAPTER=emr runs one)
	CHAPTER=$(CHAPTER) hack/demo.sh

cost: ## the cost simulator on the sample day and the spot storm: pool against baselines (docs/cost.md)
	cargo build --quiet --locked --workspace --bins
	$(CARGO_TARGET_DIR)/debug/cost-sim run examples/cost/day.yaml
	$(CARGO_TARGET_DIR)/debug/cost-sim run examples/cost/spot-storm.yaml
	$(CARGO_TARGET_DIR)/debug/cost-sim recommend examples/cost/day.yaml --max-p95-wait 10m --top 3

bench-plan: ## the EtlJob planner's cost against how far back a backfill starts (release)
	cargo bench --locked --workspace --bench plan

bench-operator: ## the operator (release) under 1,000- and 10,000-run bursts against the Job controller, then idle and steady (docs/performance.md)
	cargo build --locked --workspace --bins
	cargo build --release --locked --workspace --bin ade-operator
	hack/bench-operator.sh

bench-etl-cpu: ## operator CPU: a backfill beside a minute schedule, and 50 idle jobs (local control plane)
	cargo build --locked --workspace --bins
	hack/bench-etl-cpu.sh
