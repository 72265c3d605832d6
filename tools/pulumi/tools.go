//go:build tools

// Package tools pins the Go programs this module builds; the build tag keeps it out of every
// real build (the imports are main packages), while `go mod tidy` still records their deps.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
