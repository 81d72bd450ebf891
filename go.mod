module github.com/csi-viso/csi-viso

go 1.26

require github.com/google/uuid v1.6.0

require github.com/kdomanski/iso9660 v0.4.0 // test-only: extra ISO reader used as an oracle
