//go:build tools

// Pins Prometheus for the e2e suite and `make lint`: `prometheus` scrapes the
// operator in an e2e test, `promtool` checks and unit-tests the chart's alert
// rules and lints the operator's /metrics, and cmd/promql-check parses the
// dashboard's queries with Prometheus' own parser. A module of its own, so its
// dependencies (client-go among them) never move the control plane's pins in
// e2e/tools; built by `e2e/cluster build` with -tags remove_all_sd (static
// targets only, no cloud service discovery).
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
