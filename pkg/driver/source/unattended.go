package source

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	"github.com/csi-viso/csi-viso/pkg/viso"
	"github.com/csi-viso/csi-viso/pkg/viso/argv"
)

// Two unrelated virtual folders the object's keys are imagined in. A
// reference selects a key only if it resolves into the folder from both: a
// relative path like "./Unattended-1-x" does, while an absolute path can name
// at most one of them. The VISO's author cannot know where the node stages the
// folder, so a target must not depend on it.
const (
	virtualDirA = "/csi-viso-object/a"
	virtualDirB = "/csi-viso-object/b"
)

// warnf reports a reference that selects nothing; tests replace it.
var warnf = func(format string, args ...any) { klog.Warningf(format, args...) }

// RemoveUnattended applies VirtualBox's UnattendedInstall cleanup rule to the
// object ref names, the cluster-side counterpart of closing a VISO with
// delete: it parses the VISO key (viso.ParseEnvelope), selects the keys
// viso.UnattendedTargets names (argument text after the last '=', not an
// option, resolving inside the VISO's folder, base name starting with
// "Unattended-"), and removes from the object the VISO key and exactly those
// keys. A target that is not a key of the object (a nested path, a name that
// is not there) is logged and skipped. The object is deleted only if no key
// is left. A key the rule does not select is never touched.
//
// Nothing is changed unless the VISO parses (ErrInvalidVISO wrapping the
// *argv.Error that names key, line and argument). Updates and the delete carry
// the resourceVersion read (and the delete the UID), so a concurrent change
// makes them fail with a conflict; the whole computation is then redone on the
// fresh object, a few times (retry.DefaultRetry) before giving up.
//
// removed lists the keys removed, the VISO key first, then the targets in the
// VISO's argument order. A retry after success finds the object or the key
// gone: ErrObjectNotFound, ErrKeyNotFound or ErrNoVISOKey, which a caller
// deleting a volume may take as "already done".
func (s *Source) RemoveUnattended(ctx context.Context, ref Ref) (removed []string, objectDeleted bool, err error) {
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var rerr error
		removed, objectDeleted, rerr = s.removeOnce(ctx, ref)
		return rerr
	})
	if err != nil {
		return nil, false, err
	}
	return removed, objectDeleted, nil
}

// removeOnce is one read-compute-write round of RemoveUnattended. Errors wrap
// the API error, so apierrors.IsConflict (which RetryOnConflict asks) sees a
// conflict through the added context.
func (s *Source) removeOnce(ctx context.Context, ref Ref) ([]string, bool, error) {
	o, err := s.fetch(ctx, ref)
	if err != nil {
		return nil, false, err
	}
	key, err := o.visoKey()
	if err != nil {
		return nil, false, err
	}
	env, err := viso.ParseEnvelope(key, o.keys[key])
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w: %w", ref.object(), ErrInvalidVISO, err)
	}
	remove := []string{key}
	for _, t := range selectTargets(env.Args) {
		if _, ok := o.keys[t]; !ok {
			warnf("%s: key %q: unattended cleanup: %q is not a key of the object; nothing removed for it", ref.object(), key, t)
			continue
		}
		if !slices.Contains(remove, t) {
			remove = append(remove, t)
		}
	}
	deleted, err := s.apply(ctx, o, remove)
	if err != nil {
		return nil, false, fmt.Errorf("%s: key %q: unattended cleanup of keys %s: %w", ref.object(), key, quoteList(remove), err)
	}
	klog.InfoS("unattended cleanup", "object", ref.object(), "visoKey", key, "removed", remove, "objectDeleted", deleted)
	return remove, deleted, nil
}

// selectTargets is viso.UnattendedTargets evaluated in two unrelated virtual
// folders, keeping the targets both agree on (see virtualDirA).
func selectTargets(args []argv.Arg) []string {
	b := viso.UnattendedTargets(virtualDirB, args)
	var out []string
	for _, t := range viso.UnattendedTargets(virtualDirA, args) {
		if slices.Contains(b, t) {
			out = append(out, t)
		}
	}
	return out
}

// apply removes the keys from the object with an optimistic-concurrency
// update, or deletes the object (UID and resourceVersion preconditions) when
// no key would be left. A NotFound (deleted meanwhile) wraps ErrObjectNotFound.
func (s *Source) apply(ctx context.Context, o *object, remove []string) (deleted bool, err error) {
	left := len(o.keys)
	for _, k := range remove {
		if _, ok := o.keys[k]; ok {
			left--
		}
	}
	if left == 0 {
		err = s.deleteObject(ctx, o)
	} else {
		err = s.updateObject(ctx, o, remove)
	}
	if apierrors.IsNotFound(err) {
		return false, fmt.Errorf("%w: %w", ErrObjectNotFound, err)
	}
	return left == 0 && err == nil, err
}

func (s *Source) deleteObject(ctx context.Context, o *object) error {
	uid, rv := o.uid, o.rv
	pre := &metav1.Preconditions{UID: &uid}
	if rv != "" {
		pre.ResourceVersion = &rv
	}
	opts := metav1.DeleteOptions{Preconditions: pre}
	if o.cm != nil {
		return s.Client.CoreV1().ConfigMaps(o.ref.Namespace).Delete(ctx, o.cm.Name, opts)
	}
	return s.Client.CoreV1().Secrets(o.ref.Namespace).Delete(ctx, o.secret.Name, opts)
}

// updateObject writes the object back without the keys. The copy keeps the
// resourceVersion read, which the API server checks.
func (s *Source) updateObject(ctx context.Context, o *object, remove []string) error {
	if o.cm != nil {
		cm := o.cm.DeepCopy()
		for _, k := range remove {
			delete(cm.Data, k)
			delete(cm.BinaryData, k)
		}
		_, err := s.Client.CoreV1().ConfigMaps(o.ref.Namespace).Update(ctx, cm, metav1.UpdateOptions{})
		return err
	}
	sec := o.secret.DeepCopy()
	sec.StringData = nil
	for _, k := range remove {
		delete(sec.Data, k)
	}
	_, err := s.Client.CoreV1().Secrets(o.ref.Namespace).Update(ctx, sec, metav1.UpdateOptions{})
	return err
}
