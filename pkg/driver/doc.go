// Package driver is csi-viso's CSI plugin: the Identity, Controller and Node
// services that publish ISO images synthesised from VISO files (or plain ISOs
// under the operator's media roots) read-only into pods.
//
// Shape of the work:
//
//   - Controller (mode controller or all): CreateVolume validates the
//     StorageClass parameters, resolves the ConfigMap named by the PVC
//     annotation viso.csi.io/configmap when the parameters name none, and
//     records the volume in the state directory; DeleteVolume applies the
//     UnattendedInstall cleanup to the source object when asked to.
//   - Node (mode node or all): NodeStageVolume does the real work once per
//     node for a PVC (stage the source keys, open the backend, FUSE-serve the
//     image under the staging path, attach a loop device for block volumes);
//     NodePublishVolume bind-mounts the result read-only into the target. An
//     ephemeral inline volume is staged and served straight at its target in
//     NodePublishVolume.
//   - A world-readable plain ISO (the image attribute) takes the kernel path
//     instead of FUSE: a read-only bind of the file itself in a tiny tmpfs, or
//     a loop device over it (kernel.go). Such volumes outlive the plugin.
//   - Every volume operation holds a per-volume lock; a concurrent call on the
//     same volume is answered Aborted, as the CSI spec suggests.
//   - Errors carry their gRPC code (errors.go); messages keep the text of the
//     layer below verbatim (object, key, VISO line and argument), because the
//     kubelet shows them in the pod's events.
//   - Node state lives in the state directory (package state) and is
//     reconciled at start: staged volumes are served again and rebound,
//     leftovers removed.
//   - Built-in sidecar duties: kubelet plugin registration, /healthz backed by
//     Probe, Prometheus /metrics (sidecars.go, metrics.go).
//
// Every access mode is accepted and every publish is read-only: KubeVirt live
// migration needs ReadWriteMany claims to be accepted.
package driver
