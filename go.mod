module github.com/csi-viso/csi-viso

go 1.26

require github.com/google/uuid v1.6.0
