//go:build tools

// Package helmbuild pins the helm CLI the e2e tests install the chart with. It is its own
// module so helm's dependency graph stays out of the csi-viso module; up.sh runs
// `go build helm.sh/helm/v3/cmd/helm` here.
package helmbuild

import _ "helm.sh/helm/v3/cmd/helm"
