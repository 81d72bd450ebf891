package driver

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"k8s.io/klog/v2"

	"github.com/csi-viso/csi-viso/pkg/driver/state"
)

// metrics are the driver's Prometheus metrics, on a registry of its own so
// that several drivers in one process (tests) do not collide.
type metrics struct {
	reg        *prometheus.Registry
	calls      *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	closedRead atomic.Int64 // bytes served by servers already stopped
	modes      *prometheus.CounterVec
}

// decided counts the serve mode a volume got.
func (m *metrics) decided(rec *state.NodeVolume) {
	m.modes.WithLabelValues(rec.Mode).Inc()
	klog.InfoS("Volume serve mode", "volumeID", rec.VolumeID, "mode", rec.Mode, "reason", rec.ModeReason)
}

func newMetrics(d *Driver) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "csi_viso", Name: "operations_total",
			Help: "CSI calls by method and gRPC status code (OK or the error's reason).",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "csi_viso", Name: "operation_duration_seconds",
			Help:    "Latency of CSI calls by method (NodePublishVolume, NodeStageVolume, ...).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method"}),
	}
	m.modes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "csi_viso", Name: "serve_mode_total",
		Help: "Volumes served, by serve mode (kernel, reflink, fuse); the log line \"Volume serve mode\" says why.",
	}, []string{"mode"})
	m.reg.MustRegister(m.calls, m.duration, m.modes,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "csi_viso", Name: "images_open",
			Help: "Images this process serves now (FUSE servers and kernel-path volumes).",
		}, func() float64 {
			d.mu.Lock()
			defer d.mu.Unlock()
			return float64(len(d.live))
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "csi_viso", Name: "bytes_served_total",
			Help: "Bytes returned to the kernel by this process's FUSE servers (kernel-path volumes are not counted).",
		}, func() float64 {
			n := m.closedRead.Load()
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, lv := range d.live {
				if lv.srv != nil {
					n += lv.srv.Stats().BytesRead
				}
			}
			return float64(n)
		}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// observe is the gRPC interceptor recording each call.
func (m *metrics) observe(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	method := methodName(info.FullMethod)
	m.duration.WithLabelValues(method).Observe(time.Since(start).Seconds())
	m.calls.WithLabelValues(method, status.Code(toStatus(err)).String()).Inc()
	return resp, err
}

// served adds the final byte count of a stopped server.
func (m *metrics) served(lv *liveVolume) {
	if lv != nil && lv.srv != nil {
		m.closedRead.Add(lv.srv.Stats().BytesRead)
	}
}

// methodName is the last element of "/csi.v1.Node/NodePublishVolume".
func methodName(full string) string {
	for i := len(full) - 1; i >= 0; i-- {
		if full[i] == '/' {
			return full[i+1:]
		}
	}
	return full
}

// MetricsHandler serves the driver's metrics in the Prometheus format.
func (d *Driver) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{})
}
