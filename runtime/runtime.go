// Package runtime assembles Switchboard: the Badger store, the journal,
// the receiver, the dispatcher, the plugin hosts and their hot reload, and
// the vendor bindings, and runs them as one Runtime.
//
// Lifecycle, in order:
//  1. New opens the store and builds every part; nothing listens yet.
//  2. Start loads the plugins, starts the folder watchers and the
//     dispatcher's delivery of everything still pending in the journal,
//     then listens for callbacks. /readyz answers 200 from then on.
//  3. Stop stops listening (callbacks in progress are answered), stops
//     the watchers, drains the events in flight (up to the context), and
//     closes the journal and the store. Events not finished by then are
//     delivered again on the next Start.
//
// A Runtime is started once and stopped once. Its methods are safe for
// concurrent use.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/msgserver/poll"
	"github.com/switchboard-dev/switchboard/kv"
	badgerkv "github.com/switchboard-dev/switchboard/kv/badger"
	"github.com/switchboard-dev/switchboard/runtime/admin"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/dispatch"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/journal"
	"github.com/switchboard-dev/switchboard/runtime/jshost"
	"github.com/switchboard-dev/switchboard/runtime/limits"
	"github.com/switchboard-dev/switchboard/runtime/metrics"
	"github.com/switchboard-dev/switchboard/runtime/outbox"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
	"github.com/switchboard-dev/switchboard/runtime/receiver"
	"github.com/switchboard-dev/switchboard/runtime/reload"
	"github.com/switchboard-dev/switchboard/runtime/storage"
	"github.com/switchboard-dev/switchboard/runtime/wasmhost"
)

// Options configure a Runtime.
type Options struct {
	Config *config.Config
	Logger hclog.Logger
	// InMemory keeps the store in memory instead of data_dir (tests, replay).
	InMemory bool
	// HTTPClient makes the vendor calls (default: a client with sane timeouts).
	HTTPClient *http.Client
	// NoWatch disables the folder watchers (plugins load once at Start).
	NoWatch bool
	// Listener, when set, is used instead of listening on cfg.Listen (so a
	// caller can learn the address before the runtime starts).
	Listener net.Listener
}

// Runtime is one running Switchboard.
type Runtime struct {
	cfg     *config.Config
	log     hclog.Logger
	db      *badger.DB
	journal *journal.Journal
	kv      *badgerkv.Store
	reg     *bindings.Registry
	vendors *vendorSet
	hosts   *hosts
	outbox  *outbox.Outbox
	poller  *poll.Poller
	limiter *limits.Limiter
	// calls is the chain every plugin call goes through after its
	// plugin's Guard: the outbox (sends), the limiter, then the counted
	// registry.
	calls   bindings.Invoker
	metrics *metrics.Metrics
	disp    *dispatch.Dispatcher
	plugins *reload.Manager
	recv    *receiver.Receiver
	srv     *fasthttp.Server
	noWatch bool
	preLn   net.Listener

	ln       net.Listener
	ready    atomic.Bool
	cancel   context.CancelFunc
	watchers []*reload.Watcher
	pollDone chan struct{}
	served   chan error
	gcStop   chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// New builds a Runtime from its configuration.
func New(o Options) (*Runtime, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = config.Default()
	}
	log := o.Logger
	if log == nil {
		log = NewLogger(cfg.Log, nil)
	}
	r := &Runtime{cfg: cfg, log: log, metrics: metrics.New(), noWatch: o.NoWatch, preLn: o.Listener, gcStop: make(chan struct{})}
	vs, err := buildVendors(cfg, o.HTTPClient, true)
	if err != nil {
		return nil, err
	}
	r.vendors, r.reg = vs, vs.reg
	reg := vs.reg
	cacheDir := ""
	if !o.InMemory {
		cacheDir = filepath.Join(cfg.DataDir, "wasm-cache")
	}
	// fail releases what New built so far.
	fail := func(err error) (*Runtime, error) {
		_ = r.closeStore()
		return nil, err
	}
	if r.hosts, err = newHosts(cacheDir); err != nil {
		return fail(err)
	}
	r.limiter, err = limits.New(limits.Options{
		Registry: reg, Rules: limits.FromConfig(cfg.Limits), Logger: log.Named("limits"), Observer: r.metrics,
	})
	if err != nil {
		return fail(err)
	}
	limited := r.limiter.Wrap(r.callCounter())
	db, err := storage.Open(cfg.DataDir, storage.Options{InMemory: o.InMemory, Logger: log})
	if err != nil {
		return fail(err)
	}
	r.db = db
	r.kv = badgerkv.New(db)
	// Plugins' KV writes reach the store before their events are marked
	// handled: a crash loses only writes of events delivered again.
	j, err := journal.Open(db, journal.Options{Logger: log, BeforeProgress: r.kv.Flush})
	if err != nil {
		return fail(fmt.Errorf("open journal: %w", err))
	}
	r.journal = j
	r.outbox, err = outbox.Open(db, outbox.Options{
		Next: limited, Registry: reg, Logger: log.Named("outbox"), Observer: outboxMetrics{r.metrics},
	}.WithConfig(cfg.Outbox))
	if err != nil {
		return fail(err)
	}
	r.calls = r.outbox
	if p := cfg.Vendors.Msgserver.Poll; len(p.Targets) > 0 {
		targets := make([]poll.Target, len(p.Targets))
		for i, t := range p.Targets {
			targets[i] = poll.Target{CorpID: t.CorpID, Staff: t.Staff}
		}
		r.poller, err = poll.New(poll.Options{
			Client: vs.msgserver, Targets: targets, Interval: time.Duration(p.IntervalMS) * time.Millisecond, Sync: p.Sync,
			Appender: learningStore{j, r.limiter}, Cursor: poll.NewKVCursors(r.kv.Bucket(pollCursors)), Logger: log.Named("msgserver-poll"),
		})
		if err != nil {
			return fail(fmt.Errorf("vendors.msgserver.poll: %w", err))
		}
	}
	r.disp = dispatch.New(journalAdapter{j}, dispatch.Options{Logger: log, Observer: r.metrics})
	r.plugins = reload.NewManager(reload.Options{
		Dirs:    pluginDirs(cfg),
		Loaders: r.hosts.loaders,
		Target:  r.disp,
		Resolve: func(src plugin.Source) (*plugin.Spec, error) {
			return plugin.Resolve(src, cfg.PluginDefaults, cfg.PluginSettings(src.Name))
		},
		Env:     r.env,
		Observe: func(name, result string) { r.metrics.Reloads.WithLabelValues(name, result).Inc() },
		Logger:  log,
	})
	vendors := map[string]receiver.Vendor{}
	for name, vc := range map[string]config.Vendor{
		"quntool": cfg.Vendors.Quntool.Vendor, "wework": cfg.Vendors.Wework, "wechat": cfg.Vendors.Wechat,
	} {
		norm, ok := reg.Normalizer(name)
		if !ok {
			continue
		}
		allow, err := receiver.ParseAllowList(vc.AllowIPs)
		if err != nil {
			return fail(fmt.Errorf("vendors.%s.allow_ips: %w", name, err))
		}
		vendors[name] = receiver.Vendor{Normalize: norm, Token: vc.CallbackToken, Allow: allow}
	}
	r.recv = receiver.New(receiver.Options{
		Vendors:      vendors,
		Store:        learningStore{j, r.limiter},
		MaxBodyBytes: cfg.Receiver.MaxBodyBytes,
		Logger:       log,
		Metrics:      r.metrics,
		Ready:        r.readyErr,
		Admin:        admin.New(r, cfg.Admin.Token).Mount("outbox", fasthttpadaptor.NewFastHTTPHandler(outbox.Handler(r.outbox))).Serve,
	})
	r.srv = &fasthttp.Server{
		Handler:            r.recv.Handler,
		Name:               "switchboard",
		MaxRequestBodySize: r.recv.ServerLimit(),
		ReadTimeout:        30 * time.Second,
		WriteTimeout:       30 * time.Second,
		IdleTimeout:        2 * time.Minute,
		Logger:             fasthttpLogger{log.Named("http")},
	}
	return r, nil
}

// hosts are the plugin hosts, by kind. The WASM host keeps its compiled
// modules in cacheDir ("" compiles in memory only). Close them after the
// plugins they loaded.
type hosts struct {
	loaders map[plugin.Kind]plugin.Loader
	wasm    *wasmhost.Loader
}

func newHosts(cacheDir string) (*hosts, error) {
	w, err := wasmhost.New(wasmhost.Options{CacheDir: cacheDir})
	if err != nil {
		return nil, err
	}
	return &hosts{loaders: map[plugin.Kind]plugin.Loader{plugin.JS: jshost.New(jshost.Options{}), plugin.WASM: w}, wasm: w}, nil
}

// Close releases the WASM compilation cache.
func (h *hosts) Close() error { return h.wasm.Close() }

// pluginDirs are the watched plugin folders, by kind.
func pluginDirs(cfg *config.Config) map[plugin.Kind]string {
	return map[plugin.Kind]string{plugin.JS: cfg.ScriptsDir, plugin.WASM: cfg.PluginsDir}
}

// pluginDir is the folder of one kind of plugin.
func pluginDir(cfg *config.Config, kind plugin.Kind) string { return pluginDirs(cfg)[kind] }

// env builds the host environment of one plugin version.
func (r *Runtime) env(spec *plugin.Spec) plugin.Env {
	env := plugin.Env{
		Spec:     spec,
		Log:      r.log.Named("plugin").With("plugin", spec.Name),
		Invoker:  plugin.Guard(spec.Name, spec.Grants, r.calls),
		Registry: r.reg,
	}
	if spec.Grants.Allows(plugin.PermKV) {
		env.KV = r.kv.Bucket(spec.Name)
	}
	return env
}

// callCounter is the innermost Invoker: the registry, counted.
func (r *Runtime) callCounter() bindings.Invoker {
	return bindings.InvokerFunc(func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		data, err := r.reg.Invoke(ctx, c)
		result := "ok"
		if err != nil {
			result = fmt.Sprint(bindings.Describe(c.Vendor, err).Code)
		}
		r.metrics.Calls.WithLabelValues(c.Vendor, c.Method, result).Inc()
		return data, err
	})
}

// Start loads the plugins, starts delivery and the watchers, and listens.
func (r *Runtime) Start(ctx context.Context) error {
	for _, dir := range []string{r.cfg.ScriptsDir, r.cfg.PluginsDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	// Sends a previous run stored and did not finish go out first.
	if err := r.outbox.Start(context.Background()); err != nil {
		return err
	}
	if err := r.plugins.SyncAll(ctx); err != nil {
		// Plugins that failed are reported; the others run.
		r.log.Warn("some plugins did not load", "error", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if !r.noWatch {
		for kind := range r.hosts.loaders {
			dir := pluginDir(r.cfg, kind)
			w, err := reload.Watch(wctx, dir, kind, 0, r.log, func(names []string) {
				_ = r.plugins.Reload(wctx, kind, names)
			})
			if err != nil {
				cancel()
				return err
			}
			r.watchers = append(r.watchers, w)
		}
	}
	ln := r.preLn
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", r.cfg.Listen); err != nil {
			cancel()
			return fmt.Errorf("listen on %s: %w", r.cfg.Listen, err)
		}
	}
	r.ln = ln
	if r.poller != nil {
		r.pollDone = make(chan struct{})
		go func() {
			defer close(r.pollDone)
			if err := r.poller.Run(wctx); err != nil && wctx.Err() == nil {
				r.log.Error("msgserver poller stopped", "error", err)
			}
		}()
	}
	r.served = make(chan error, 1)
	go func() { r.served <- r.srv.Serve(ln) }()
	go storage.RunGC(r.db, 5*time.Minute, r.gcStop)
	r.ready.Store(true)
	r.log.Info("switchboard running", "listen", ln.Addr().String(), "data_dir", r.cfg.DataDir,
		"scripts_dir", r.cfg.ScriptsDir, "plugins", len(r.disp.Plugins()))
	return nil
}

// Addr is the address the receiver listens on (after Start).
func (r *Runtime) Addr() string {
	if r.ln == nil {
		return ""
	}
	return r.ln.Addr().String()
}

// Stop shuts down in order, draining events in flight up to ctx.
func (r *Runtime) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() {
		r.ready.Store(false)
		var errs []error
		if r.ln != nil {
			if err := r.srv.ShutdownWithContext(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop listening: %w", err))
			}
		}
		if r.cancel != nil {
			r.cancel()
			for _, w := range r.watchers {
				<-w.Done()
			}
			if r.pollDone != nil {
				<-r.pollDone
			}
		}
		if err := r.disp.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
		close(r.gcStop)
		errs = append(errs, r.closeStore())
		r.stopErr = errors.Join(errs...)
		r.log.Info("switchboard stopped")
	})
	return r.stopErr
}

// closeStore closes, in order, whatever of the outbox, the plugin hosts,
// the vendor clients, the journal, the KV store and the database has been
// built.
func (r *Runtime) closeStore() error {
	var errs []error
	if r.outbox != nil {
		if err := r.outbox.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close outbox: %w", err))
		}
	}
	if r.hosts != nil {
		if err := r.hosts.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if r.vendors != nil {
		r.vendors.close()
	}
	if r.journal != nil {
		if err := r.journal.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close journal: %w", err))
		}
	}
	if r.kv != nil {
		if err := r.kv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close kv: %w", err))
		}
	}
	if r.db != nil {
		if err := r.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (r *Runtime) readyErr() error {
	if !r.ready.Load() {
		return receiver.ErrNotReady
	}
	return nil
}

// Registry is the bindings registry the runtime uses.
func (r *Runtime) Registry() *bindings.Registry { return r.reg }

// Metrics are the runtime's collectors.
func (r *Runtime) Metrics() *metrics.Metrics { return r.metrics }

// Plugins implements admin.Backend.
func (r *Runtime) Plugins() []reload.Status { return r.plugins.Status() }

// ReloadAll implements admin.Backend.
func (r *Runtime) ReloadAll(ctx context.Context) error { return r.plugins.SyncAll(ctx) }

// KV implements admin.Backend.
func (r *Runtime) KV() kv.Store { return r.kv }

// Rejected implements admin.Backend.
func (r *Runtime) Rejected(limit int) ([]admin.Rejected, error) {
	rs, err := r.journal.Rejected(limit)
	if err != nil {
		return nil, err
	}
	out := make([]admin.Rejected, len(rs))
	for i, x := range rs {
		out[i] = admin.Rejected{Vendor: x.Vendor, Remote: x.Remote, Reason: x.Reason, Received: x.Received, Body: string(x.Body)}
	}
	return out, nil
}

type fasthttpLogger struct{ l hclog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) { f.l.Debug(fmt.Sprintf(format, args...)) }

// journalAdapter presents the journal to the dispatcher.
type journalAdapter struct{ *journal.Journal }

func (a journalAdapter) Progress(name string) (dispatch.Progress, error) { return a.Consumer(name) }

// learningStore is the journal as the receiver's store: it lets the
// limiter learn each account's company from the events on their way in.
type learningStore struct {
	*journal.Journal
	limiter *limits.Limiter
}

func (s learningStore) Append(ctx context.Context, evs []*event.Event) ([]bool, error) {
	for _, ev := range evs {
		s.limiter.LearnEvent(ev)
	}
	return s.Journal.Append(ctx, evs)
}

// pollCursors is the KV namespace of the msgserver poller's cursors; '#'
// is not allowed in plugin names, so no plugin can take it.
const pollCursors = "#msgserver-poll"

// outboxMetrics counts what the outbox does.
type outboxMetrics struct{ m *metrics.Metrics }

func (o outboxMetrics) Sent(e outbox.Entry, recovered bool) {
	result := "sent"
	if recovered {
		result = "resent"
	}
	o.m.Outbox.WithLabelValues(e.Vendor, result).Inc()
}

func (o outboxMetrics) Retrying(e outbox.Entry, _ error, _ time.Duration) {
	o.m.Outbox.WithLabelValues(e.Vendor, "retry").Inc()
}

func (o outboxMetrics) Dead(e outbox.Entry, _ error) {
	o.m.Outbox.WithLabelValues(e.Vendor, "dead").Inc()
}

func (o outboxMetrics) Repeated(c bindings.Call, _, _ string) {
	o.m.Outbox.WithLabelValues(c.Vendor, "repeated").Inc()
}
