package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// ErrPodFailed reports a pod that ended in phase Failed (its logs are in the error).
var ErrPodFailed = errors.New("pod failed")

// pollInterval is short because the cluster is local: most waits end within seconds.
const pollInterval = 500 * time.Millisecond

// BusyboxPod returns a pod that runs script with /bin/sh in the busybox test image, once
// (restartPolicy Never), from the locally imported image (imagePullPolicy Never).
func (c *Cluster) BusyboxPod(namespace, name, script string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: new(int64), // nothing to flush: delete at once
			Containers: []corev1.Container{{
				Name:            "main",
				Image:           c.Busybox,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{"/bin/sh", "-c", script},
			}},
		},
	}
}

// RunPod creates pod, waits until it has run to completion and returns the logs of its
// first container. A pod that ends Failed returns its logs and an ErrPodFailed error. The
// pod is deleted afterwards either way.
func (c *Cluster) RunPod(ctx context.Context, pod *corev1.Pod) (string, error) {
	pods := c.Client.CoreV1().Pods(pod.Namespace)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	defer func() {
		// A fresh context: the caller's may be what ended the wait.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = c.DeletePod(dctx, created.Namespace, created.Name)
	}()
	done, err := c.WaitPod(ctx, created.Namespace, created.Name, corev1.PodSucceeded, corev1.PodFailed)
	if err != nil {
		return "", err
	}
	logs, err := c.PodLogs(ctx, created.Namespace, created.Name, created.Spec.Containers[0].Name)
	if err != nil {
		return "", err
	}
	if done.Status.Phase == corev1.PodFailed {
		return logs, fmt.Errorf("%w: %s/%s: %s", ErrPodFailed, created.Namespace, created.Name, logs)
	}
	return logs, nil
}

// WaitPod waits until the pod reaches one of phases and returns it. The error names the
// last phase and the container states seen, which is what a stuck pod needs explaining by.
func (c *Cluster) WaitPod(ctx context.Context, namespace, name string, phases ...corev1.PodPhase) (*corev1.Pod, error) {
	var last *corev1.Pod
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		p, err := c.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil // transient; the context bounds the wait
		}
		last = p
		for _, ph := range phases {
			if p.Status.Phase == ph {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s did not reach %v: %w (%s)", namespace, name, phases, err, describe(last))
	}
	return last, nil
}

// PodLogs returns the logs of one container of a pod.
func (c *Cluster) PodLogs(ctx context.Context, namespace, name, container string) (string, error) {
	b, err := c.Client.CoreV1().Pods(namespace).GetLogs(name, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("logs of %s/%s[%s]: %w", namespace, name, container, err)
	}
	return string(b), nil
}

// DeletePod deletes a pod at once and waits until it is gone.
func (c *Cluster) DeletePod(ctx context.Context, namespace, name string) error {
	pods := c.Client.CoreV1().Pods(namespace)
	err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete pod %s/%s: %w", namespace, name, err)
	}
	err = wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		_, err := pods.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("pod %s/%s not gone: %w", namespace, name, err)
	}
	return nil
}

// describe summarises a pod's phase and container states for error messages.
func describe(p *corev1.Pod) string {
	if p == nil {
		return "pod never seen"
	}
	s := "phase " + string(p.Status.Phase)
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			s += fmt.Sprintf("; %s waiting: %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			s += fmt.Sprintf("; %s terminated: %s exit %d", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		case cs.State.Running != nil:
			s += "; " + cs.Name + " running"
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Status != corev1.ConditionTrue && cond.Message != "" {
			s += fmt.Sprintf("; %s: %s", cond.Type, cond.Message)
		}
	}
	return s
}
