// Command pause is the sandbox ("pause") container of the e2e cluster: it holds the pod's
// namespaces open, reaps orphaned children (it is PID 1 of the pod when the PID namespace is
// shared) and exits 0 on SIGINT or SIGTERM. The upstream image cannot be pulled here, and
// this is all it does.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every exited child without blocking; SIGCHLD coalesces, so one signal may
// stand for several children.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
