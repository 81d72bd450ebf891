// Package holder keeps FUSE connections alive across node-plugin restarts.
//
// A FUSE mount lives as long as some process holds its /dev/fuse descriptor.
// The holder is a tiny process with a lifecycle of its own (a second
// container of the node plugin's pod) that only keeps such descriptors: the
// plugin hands it a duplicate of each mount's descriptor over a Unix socket
// (SCM_RIGHTS), with a small description. When the plugin dies, the kernel
// queues readers' requests instead of failing them; the restarted plugin
// takes the descriptors back (Take) and serves them again, and readers see
// a pause, not an error. The holder reads nothing from the descriptors; it
// polls them only for errors and drops those whose mount is gone.
//
// Protocol: SOCK_SEQPACKET, one JSON object per message. Requests are
// {"op":"put","id":ID,"meta":{...}} with one descriptor, {"op":"delete",
// "id":ID}, {"op":"list"} and {"op":"ping"}. Each gets {"ok":true} or
// {"error":"..."}; list gets batches {"items":[{"id","meta"}...],"more":bool}
// carrying one descriptor per item, in order.
package holder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// ErrUnavailable: no holder answers at the socket.
var ErrUnavailable = errors.New("FUSE descriptor holder unavailable")

const (
	maxMessage = 1 << 20
	batch      = 128 // descriptors per list message (SCM_MAX_FD is 253)
	pruneEvery = 2 * time.Second
)

type request struct {
	Op   string          `json:"op"`
	ID   string          `json:"id,omitempty"`
	Meta json.RawMessage `json:"meta,omitempty"`
}

type item struct {
	ID   string          `json:"id"`
	Meta json.RawMessage `json:"meta"`
}

type response struct {
	OK    bool   `json:"ok,omitempty"`
	Error string `json:"error,omitempty"`
	Items []item `json:"items,omitempty"`
	More  bool   `json:"more,omitempty"`
}

type held struct {
	fd   int
	meta json.RawMessage
}

// Holder keeps descriptors by ID.
type Holder struct {
	mu    sync.Mutex
	items map[string]held
}

// Serve listens on path (replacing a stale socket) and holds descriptors
// until ctx ends; they are closed then, which ends every mount no plugin
// serves.
func Serve(ctx context.Context, path string) error {
	_ = os.Remove(path)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return fmt.Errorf("holder: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return fmt.Errorf("holder: %w", err)
	}
	h := &Holder{items: map[string]held{}}
	go func() { <-ctx.Done(); l.Close() }()
	go h.prune(ctx)
	klog.InfoS("FUSE descriptor holder listening", "socket", path)
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				h.closeAll()
				_ = os.Remove(path)
				return nil
			}
			return fmt.Errorf("holder: accept: %w", err)
		}
		go h.serveConn(c)
	}
}

func (h *Holder) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, it := range h.items {
		unix.Close(it.fd)
		delete(h.items, id)
	}
}

// prune drops descriptors whose connection has ended (unmounted, aborted):
// poll reports POLLERR for them and never consumes requests.
func (h *Holder) prune(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		ids := make([]string, 0, len(h.items))
		pfds := make([]unix.PollFd, 0, len(h.items))
		for id, it := range h.items {
			ids = append(ids, id)
			pfds = append(pfds, unix.PollFd{Fd: int32(it.fd)})
		}
		if len(pfds) > 0 {
			if _, err := unix.Poll(pfds, 0); err == nil {
				for i, p := range pfds {
					if p.Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
						klog.InfoS("Holder: FUSE connection ended; dropping its descriptor", "id", ids[i])
						unix.Close(h.items[ids[i]].fd)
						delete(h.items, ids[i])
					}
				}
			}
		}
		h.mu.Unlock()
	}
}

func (h *Holder) serveConn(c *net.UnixConn) {
	defer c.Close()
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(4*batch))
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			return
		}
		fds := parseFds(oob[:oobn])
		var req request
		if err := json.Unmarshal(buf[:n], &req); err != nil {
			closeFds(fds)
			_ = send(c, response{Error: "bad request: " + err.Error()}, nil)
			continue
		}
		switch req.Op {
		case "put":
			if len(fds) != 1 || req.ID == "" {
				closeFds(fds)
				_ = send(c, response{Error: "put needs an id and exactly one descriptor"}, nil)
				continue
			}
			h.mu.Lock()
			if old, ok := h.items[req.ID]; ok {
				unix.Close(old.fd)
			}
			h.items[req.ID] = held{fd: fds[0], meta: req.Meta}
			h.mu.Unlock()
			_ = send(c, response{OK: true}, nil)
		case "delete":
			closeFds(fds)
			h.mu.Lock()
			if old, ok := h.items[req.ID]; ok {
				unix.Close(old.fd)
				delete(h.items, req.ID)
			}
			h.mu.Unlock()
			_ = send(c, response{OK: true}, nil)
		case "list":
			closeFds(fds)
			h.list(c)
		case "ping":
			closeFds(fds)
			_ = send(c, response{OK: true}, nil)
		default:
			closeFds(fds)
			_ = send(c, response{Error: fmt.Sprintf("unknown op %q", req.Op)}, nil)
		}
	}
}

func (h *Holder) list(c *net.UnixConn) {
	h.mu.Lock()
	ids := make([]string, 0, len(h.items))
	for id := range h.items {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var msgs []response
	var fdsets [][]int
	for len(ids) > 0 || len(msgs) == 0 {
		k := min(batch, len(ids))
		r := response{OK: true, More: k < len(ids)}
		var fds []int
		for _, id := range ids[:k] {
			r.Items = append(r.Items, item{ID: id, Meta: h.items[id].meta})
			fds = append(fds, h.items[id].fd)
		}
		// Send under the lock: a descriptor must not be closed (delete,
		// prune) between choosing and sending it.
		msgs, fdsets = append(msgs, r), append(fdsets, fds)
		ids = ids[k:]
	}
	defer h.mu.Unlock()
	for i := range msgs {
		if err := send(c, msgs[i], fdsets[i]); err != nil {
			return
		}
	}
}

func send(c *net.UnixConn, r response, fds []int) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.WriteMsgUnix(b, oob, nil)
	return err
}

func parseFds(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if f, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, f...)
		}
	}
	return fds
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// Client talks to a holder. Each call dials anew: the holder may have
// restarted since the last one, and calls are rare (publish, unpublish,
// start-up).
type Client struct {
	Path    string
	Timeout time.Duration // per call; 0 means 5 s
}

// Held is a descriptor returned by Take, now the caller's, with its
// description.
type Held struct {
	Fd   int
	Meta json.RawMessage
}

func (c *Client) dial() (*net.UnixConn, error) {
	conn, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: c.Path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrUnavailable, c.Path, err)
	}
	t := c.Timeout
	if t == 0 {
		t = 5 * time.Second
	}
	_ = conn.SetDeadline(time.Now().Add(t))
	return conn, nil
}

func (c *Client) call(req request, fds []int) ([]response, [][]int, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	b, err := json.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := conn.WriteMsgUnix(b, oob, nil); err != nil {
		return nil, nil, fmt.Errorf("holder %s: %s: %w", c.Path, req.Op, err)
	}
	var out []response
	var outFds [][]int
	buf := make([]byte, maxMessage)
	roob := make([]byte, unix.CmsgSpace(4*batch))
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, roob)
		if err != nil {
			for _, f := range outFds {
				closeFds(f)
			}
			return nil, nil, fmt.Errorf("holder %s: %s: %w", c.Path, req.Op, err)
		}
		fds := parseFds(roob[:oobn])
		var r response
		if err := json.Unmarshal(buf[:n], &r); err != nil {
			closeFds(fds)
			return nil, nil, fmt.Errorf("holder %s: bad reply: %w", c.Path, err)
		}
		if r.Error != "" {
			closeFds(fds)
			return nil, nil, fmt.Errorf("holder %s: %s: %s", c.Path, req.Op, r.Error)
		}
		out, outFds = append(out, r), append(outFds, fds)
		if !r.More {
			return out, outFds, nil
		}
	}
}

// Put hands the holder a duplicate of fd under id (replacing what it held
// under id); the caller keeps fd.
func (c *Client) Put(id string, fd int, meta any) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	_, _, err = c.call(request{Op: "put", ID: id, Meta: b}, []int{fd})
	return err
}

// Delete makes the holder close what it holds under id (nothing is fine).
func (c *Client) Delete(id string) error {
	_, _, err := c.call(request{Op: "delete", ID: id}, nil)
	return err
}

// Ping checks that a holder answers.
func (c *Client) Ping() error {
	_, _, err := c.call(request{Op: "ping"}, nil)
	return err
}

// Take returns duplicates of every held descriptor by ID (the holder keeps
// its own). The caller owns and must close the returned descriptors.
func (c *Client) Take() (map[string]Held, error) {
	rs, fdsets, err := c.call(request{Op: "list"}, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]Held{}
	for i, r := range rs {
		if len(r.Items) != len(fdsets[i]) {
			for _, f := range fdsets {
				closeFds(f)
			}
			for _, h := range out {
				unix.Close(h.Fd)
			}
			return nil, fmt.Errorf("holder %s: %d items came with %d descriptors", c.Path, len(r.Items), len(fdsets[i]))
		}
		for j, it := range r.Items {
			out[it.ID] = Held{Fd: fdsets[i][j], Meta: it.Meta}
		}
	}
	return out, nil
}
