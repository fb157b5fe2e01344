// Package receiver is the fasthttp front door (SPEC §4): vendor callbacks,
// health and readiness probes, Prometheus metrics, and the admin API
// mounted under /admin/.
//
// The order of work for a callback is fixed: route by vendor → IP
// allow-list and token → size limit → parse and normalize → durable append
// to the journal with dedupe → 200 {"code":0}. A vendor is answered 200
// only after its callback is on disk; a re-delivery is answered 200 and not
// dispatched again; a body that is not a JSON object is answered 400 and
// kept in the rejected store, as is an oversized one. Nothing that reached
// the receiver is lost.
//
// A Receiver is built once and its Handler serves any number of
// connections concurrently.
package receiver

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/metrics"
)

// Store is where callbacks go: runtime/journal implements it.
type Store interface {
	// Append stores events durably, returning per event whether it was new.
	Append(ctx context.Context, evs []*event.Event) ([]bool, error)
	// Reject durably keeps a callback that could not be accepted.
	Reject(vendor, remote string, body []byte, reason string) error
}

// Vendor is one pushing vendor's receiving settings.
type Vendor struct {
	Normalize event.Normalizer
	// Token, when set, must be the path's last segment: /callback/{vendor}/{token}.
	Token string
	// Allow, when not empty, restricts callers to these networks.
	Allow []*net.IPNet
}

// Options configure a Receiver.
type Options struct {
	Vendors      map[string]Vendor
	Store        Store
	MaxBodyBytes int
	Logger       hclog.Logger
	Metrics      *metrics.Metrics
	// Ready reports whether the runtime is ready (journal open, plugins
	// loaded); nil error means ready.
	Ready func() error
	// Admin, if set, serves every path under /admin/.
	Admin fasthttp.RequestHandler
	// AckTimeout bounds the wait for the journal (default 10 s).
	AckTimeout time.Duration
	// Now is the clock for Event.Received (default time.Now).
	Now func() time.Time
}

// RejectKeepBytes is how much of an oversized body the rejected store keeps.
const RejectKeepBytes = 64 << 10

// Receiver serves the callback endpoints.
type Receiver struct {
	o       Options
	log     hclog.Logger
	metrics fasthttp.RequestHandler
}

// New builds a Receiver.
func New(o Options) *Receiver {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	r := &Receiver{o: o, log: o.Logger.Named("receiver")}
	if o.Metrics != nil {
		r.metrics = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(o.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	return r
}

// ServerLimit is the body size the fasthttp server itself must allow so
// that the receiver can answer an oversized callback with its own clear
// error and keep it: a little over MaxBodyBytes.
func (r *Receiver) ServerLimit() int { return r.o.MaxBodyBytes*2 + 64<<10 }

// Handler routes every request.
func (r *Receiver) Handler(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch {
	case strings.HasPrefix(path, "/callback/"):
		r.callback(ctx, strings.TrimPrefix(path, "/callback/"))
	case path == "/healthz":
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"status": "ok"})
	case path == "/readyz":
		if r.o.Ready != nil {
			if err := r.o.Ready(); err != nil {
				writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]any{"status": "not ready", "error": err.Error()})
				return
			}
		}
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"status": "ready"})
	case path == "/metrics" && r.metrics != nil:
		r.metrics(ctx)
	case strings.HasPrefix(path, "/admin/") && r.o.Admin != nil:
		r.o.Admin(ctx)
	default:
		writeError(ctx, fasthttp.StatusNotFound, "no such path: "+path)
	}
}

func (r *Receiver) count(vendor, result string) {
	if r.o.Metrics != nil {
		r.o.Metrics.Callbacks.WithLabelValues(vendor, result).Inc()
	}
}

func (r *Receiver) callback(ctx *fasthttp.RequestCtx, rest string) {
	vendor, token, _ := strings.Cut(rest, "/")
	v, ok := r.o.Vendors[vendor]
	if !ok || v.Normalize == nil {
		writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("unknown vendor %q: callbacks are received for %s", vendor, r.vendorList()))
		return
	}
	if len(v.Allow) > 0 && !allowed(v.Allow, ctx.RemoteIP()) {
		r.count(vendor, "forbidden")
		r.log.Warn("callback from an address not in the allow-list", "vendor", vendor, "remote", ctx.RemoteIP().String())
		writeError(ctx, fasthttp.StatusForbidden, "address not allowed")
		return
	}
	if v.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(v.Token)) != 1 {
		r.count(vendor, "unauthorized")
		writeError(ctx, fasthttp.StatusUnauthorized, "missing or wrong callback token: use /callback/"+vendor+"/{token}")
		return
	}
	if v.Token == "" && token != "" {
		writeError(ctx, fasthttp.StatusNotFound, "no callback token is configured for "+vendor)
		return
	}
	switch string(ctx.Method()) {
	case fasthttp.MethodGet, fasthttp.MethodHead:
		// The vendors' (and seed 001's) reachability test.
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"code": 0, "msg": "ok"})
		return
	case fasthttp.MethodPost:
	default:
		ctx.Response.Header.Set("Allow", "GET, POST")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "callbacks are POSTed")
		return
	}
	start := time.Now()
	body := ctx.PostBody()
	remote := ctx.RemoteAddr().String()
	if len(body) > r.o.MaxBodyBytes {
		r.count(vendor, "too_large")
		reason := fmt.Sprintf("body of %d bytes exceeds the limit of %d bytes (first %d bytes kept)", len(body), r.o.MaxBodyBytes, min(len(body), RejectKeepBytes))
		r.reject(vendor, remote, body[:min(len(body), RejectKeepBytes)], reason)
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, reason)
		return
	}
	evs, err := v.Normalize(body)
	if err != nil {
		r.count(vendor, "malformed")
		r.reject(vendor, remote, body, err.Error())
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	now := r.o.Now().UnixMilli()
	for _, ev := range evs {
		ev.Received = now
	}
	actx, cancel := context.WithTimeout(context.Background(), r.o.AckTimeout)
	fresh, err := r.o.Store.Append(actx, evs)
	cancel()
	if err != nil {
		r.count(vendor, "unavailable")
		r.log.Error("journal append failed; callback not acknowledged", "vendor", vendor, "error", err)
		writeError(ctx, fasthttp.StatusServiceUnavailable, "callback not stored, retry: "+err.Error())
		return
	}
	result := "duplicate"
	for i, ev := range evs {
		if fresh[i] {
			result = "stored"
			if r.o.Metrics != nil {
				r.o.Metrics.Events.WithLabelValues(ev.Vendor, ev.Type).Inc()
			}
		}
	}
	r.count(vendor, result)
	if r.o.Metrics != nil {
		r.o.Metrics.AckSeconds.Observe(time.Since(start).Seconds())
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"code":0}`)
}

func (r *Receiver) reject(vendor, remote string, body []byte, reason string) {
	if err := r.o.Store.Reject(vendor, remote, append([]byte(nil), body...), reason); err != nil {
		r.log.Error("could not keep a rejected callback", "vendor", vendor, "reason", reason, "error", err)
		return
	}
	r.log.Warn("callback rejected and kept for inspection", "vendor", vendor, "remote", remote, "reason", reason)
}

func (r *Receiver) vendorList() string {
	var names []string
	for n, v := range r.o.Vendors {
		if v.Normalize != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func allowed(nets []*net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseAllowList turns addresses and CIDR ranges into networks.
func ParseAllowList(entries []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, e := range entries {
		if ip := net.ParseIP(e); ip != nil {
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(e)
		if err != nil {
			return nil, fmt.Errorf("allow-list entry %q: %w", e, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, _ := json.Marshal(v)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// writeError answers {"code": status, "msg": message}.
func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(ctx, status, map[string]any{"code": status, "msg": msg})
}

// ErrNotReady is what a Ready function returns before start-up finished.
var ErrNotReady = errors.New("not ready")
