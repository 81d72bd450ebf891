//go:build tools

// Package k8sbuild pins the Kubernetes components the e2e cluster runs. It is its own
// module so that k8s.io/kubernetes and its ~200 dependencies never enter the csi-viso
// module graph; up.sh builds the commands listed here with `go build k8s.io/kubernetes/cmd/...`.
package k8sbuild

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
