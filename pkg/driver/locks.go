package driver

import (
	"sync"

	"google.golang.org/grpc/codes"
)

// volumeLocks lets one operation at a time work on a volume. A second
// concurrent operation on the same volume is not queued: it fails with
// Aborted, which tells the CO (per the CSI spec) that an operation is
// pending for the volume and the call should be retried later.
type volumeLocks struct {
	mu   sync.Mutex
	busy map[string]string // key -> the operation holding it
}

func newVolumeLocks() *volumeLocks {
	return &volumeLocks{busy: map[string]string{}}
}

// tryLock takes key for op, or returns an Aborted error naming the operation
// in progress. The returned func releases the lock.
func (l *volumeLocks) tryLock(key, op string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if holder, ok := l.busy[key]; ok {
		return nil, errorf(codes.Aborted, "an operation (%s) is already in progress for volume %q", holder, key)
	}
	l.busy[key] = op
	return func() {
		l.mu.Lock()
		delete(l.busy, key)
		l.mu.Unlock()
	}, nil
}
