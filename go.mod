module github.com/csi-viso/csi-viso

go 1.26.0

require github.com/google/uuid v1.6.0

require (
	github.com/hanwen/go-fuse/v2 v2.12.1
	golang.org/x/sys v0.50.0
	k8s.io/klog/v2 v2.140.0
)

require github.com/go-logr/logr v1.4.1 // indirect

require github.com/kdomanski/iso9660 v0.4.0 // test-only: extra ISO reader used as an oracle
