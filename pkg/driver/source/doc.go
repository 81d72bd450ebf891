// Package source fetches a VISO and its side files from a Kubernetes ConfigMap
// or Secret, stages them as files on the node, and applies VirtualBox's
// UnattendedInstall cleanup rule to the Kubernetes object when a volume is
// deleted.
//
// The object is written by a namespace user while the plugin is privileged on
// the host, so nothing in it is trusted: key names are checked to be plain file
// names (ErrBadKey), sizes are bounded (ErrTooLarge), and staging writes only
// inside the target folder through os.Root, creating every file with O_EXCL so
// that no symlink is ever followed.
//
// Staging is atomic: the keys are written into a sibling temporary folder,
// synced, and renamed into place (swapped in with renameat2(RENAME_EXCHANGE)
// when an older copy is there). Beside the staged folder DIR the package keeps
// a few dot-names in DIR's parent, all starting with "."+base(DIR)+".":
// a marker recording which object version DIR holds, and, only while a call
// runs or after a crash, temporary folders. IsAuxName recognises them so that a
// caller listing the parent can skip them; Wipe removes them with DIR.
//
// Every error names the object ("configmap ns/name") and, where one is
// involved, the key, because the driver shows these messages to the user in
// the pod's events.
package source
