module github.com/csi-viso/csi-viso

go 1.26
