// Tools module that builds the Pulumi engine (CLI) from Go sources at one pinned release.
// Built by tools/install-pulumi.sh (in a scratch copy under .tools/build/, so this tree stays clean).
//
// The version below must match PULUMI_VERSION in tools/install-pulumi.sh and the major.minor of
// the `pulumi` Python SDK in the venv (PyPI pulumi 3.259.0 <-> v3.259.0 here).
module plantctl/tools/pulumi

go 1.26.6

require (
	github.com/pulumi/pulumi/pkg/v3 v3.259.0
	github.com/pulumi/pulumi/sdk/v3 v3.259.0
)

// The non-local replace directives of pulumi's own pkg/go.mod and sdk/go.mod (replace directives
// of dependencies are ignored by Go, so the main module has to repeat them). The local ones
// (sdk/v3 => ../sdk, pkg/v3 => ../pkg) are deliberately left out. install-pulumi.sh re-reads the
// upstream go.mod files at build time and adds any replace that is missing here.
replace (
	github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e // pkg + sdk
	golang.org/x/text => golang.org/x/text v0.39.0 // sdk
)
