//go:build tools

// Package tools records the program this module builds (see e2e/cluster build).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
