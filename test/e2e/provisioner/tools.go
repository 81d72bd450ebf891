//go:build tools

// Package provisioner pins the upstream external-provisioner (the CSI sidecar that turns
// PersistentVolumeClaims into CreateVolume calls) the e2e tests and `make images` run. It is
// its own module so the provisioner's dependency graph (k8s.io/* at its own release) stays out
// of the csi-viso module; build.sh runs `go build .../cmd/csi-provisioner` here.
package provisioner

import _ "github.com/kubernetes-csi/external-provisioner/v6/cmd/csi-provisioner"
