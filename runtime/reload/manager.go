package reload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// Target is where loaded versions go: the dispatcher.
type Target interface {
	Set(name string, spec *plugin.Spec, h plugin.Handler) error
	Remove(ctx context.Context, name string) error
}

// Status is what the Manager knows of one plugin, for logs, the admin API
// and `switchboard check`.
type Status struct {
	Name    string      `json:"name"`
	Kind    plugin.Kind `json:"kind"`
	Path    string      `json:"path"`
	Version string      `json:"version,omitempty"`
	// Running: a version is serving events (possibly an older one, when
	// Error is set).
	Running  bool      `json:"running"`
	Disabled bool      `json:"disabled,omitempty"`
	LoadedAt time.Time `json:"loaded_at,omitempty"`
	// Error is the last load failure; empty when the newest files loaded.
	Error string `json:"error,omitempty"`
}

// Options configure a Manager.
type Options struct {
	Dirs    map[plugin.Kind]string
	Loaders map[plugin.Kind]plugin.Loader
	Target  Target
	// Resolve turns a Source into a Spec (manifest and switchboard.yaml).
	Resolve func(src plugin.Source) (*plugin.Spec, error)
	// Env builds the host environment of a version.
	Env func(spec *plugin.Spec) plugin.Env
	// Observe, if set, is told of every load: result is "ok", "failed" or "removed".
	Observe func(name, result string)
	Logger  hclog.Logger
	// LoadTimeout bounds compiling and initializing one version (default 30 s).
	LoadTimeout time.Duration
}

// Manager loads, swaps and unloads plugins. Loads are serialized: one
// plugin at a time, so a burst of saves never builds two versions of one
// plugin at once. Safe for concurrent use.
type Manager struct {
	o   Options
	log hclog.Logger

	mu     sync.Mutex // serializes Sync and Reload
	smu    sync.RWMutex
	status map[string]*Status
}

// NewManager returns a Manager with nothing loaded.
func NewManager(o Options) *Manager {
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return &Manager{o: o, log: o.Logger.Named("plugins"), status: map[string]*Status{}}
}

// SyncAll reconciles every kind with its folder: loads what is new or
// changed, unloads what is gone. It returns the load errors joined (the
// plugins that loaded are running regardless).
func (m *Manager) SyncAll(ctx context.Context) error {
	var errs []error
	for _, kind := range m.kinds() {
		errs = append(errs, m.Reload(ctx, kind, []string{All}))
	}
	return errors.Join(errs...)
}

func (m *Manager) kinds() []plugin.Kind {
	var out []plugin.Kind
	for k := range m.o.Loaders {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Reload brings the named plugins of kind in step with the disk (All: the
// whole folder). It is what the Watcher's onChange calls.
func (m *Manager) Reload(ctx context.Context, kind plugin.Kind, names []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir := m.o.Dirs[kind]
	want := map[string]bool{}
	for _, n := range names {
		if n != All {
			want[n] = true
			continue
		}
		srcs, err := plugin.Discover(dir, kind)
		if err != nil {
			return err
		}
		for _, s := range srcs {
			want[s.Name] = true
		}
		m.smu.RLock()
		for n, st := range m.status {
			if st.Kind == kind {
				want[n] = true // to notice it is gone
			}
		}
		m.smu.RUnlock()
	}
	sorted := make([]string, 0, len(want))
	for n := range want {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var errs []error
	for _, name := range sorted {
		if err := m.one(ctx, kind, dir, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// one loads, swaps or unloads a single plugin.
func (m *Manager) one(ctx context.Context, kind plugin.Kind, dir, name string) error {
	src, found := findSource(dir, name, kind)
	m.smu.RLock()
	prev := m.status[name]
	m.smu.RUnlock()
	if prev != nil && prev.Kind != kind {
		if found {
			err := fmt.Errorf("plugin name %q is already used by the %s plugin %s", name, prev.Kind, prev.Path)
			m.log.Error("plugin not loaded", "plugin", name, "path", src.Entry, "error", err)
			return err
		}
		return nil // the other kind's plugin of that name is not ours to touch
	}
	if !found {
		if prev == nil {
			return nil
		}
		return m.unload(ctx, name, "removed from disk")
	}
	spec, err := m.o.Resolve(src)
	if err != nil {
		return m.failed(name, src, err)
	}
	if spec.Disabled {
		if prev != nil && prev.Running {
			if err := m.unload(ctx, name, "disabled in the configuration"); err != nil {
				return err
			}
		}
		m.set(&Status{Name: name, Kind: kind, Path: src.Entry, Version: spec.Version, Disabled: true})
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, m.o.LoadTimeout)
	defer cancel()
	start := time.Now()
	h, err := m.o.Loaders[kind].Load(lctx, m.o.Env(spec))
	if err != nil {
		return m.failed(name, src, err)
	}
	if err := m.o.Target.Set(name, spec, h); err != nil {
		_ = h.Close()
		return m.failed(name, src, err)
	}
	m.set(&Status{Name: name, Kind: kind, Path: src.Entry, Version: spec.Version, Running: true, LoadedAt: time.Now()})
	if m.o.Observe != nil {
		m.o.Observe(name, "ok")
	}
	verb := "loaded"
	if prev != nil && prev.Running {
		verb = "reloaded"
	}
	m.log.Info("plugin "+verb, "plugin", name, "kind", kind, "path", src.Entry, "version", spec.Version, "took", time.Since(start).Round(time.Microsecond))
	return nil
}

func findSource(dir, name string, kind plugin.Kind) (plugin.Source, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return plugin.Source{}, false
	}
	// A folder plugin wins over a file of the same name, as Discover does.
	var file plugin.Source
	var haveFile bool
	for _, e := range entries {
		src, ok := plugin.SourceAt(dir, e.Name(), kind)
		if !ok || src.Name != name {
			continue
		}
		if src.Dir != "" {
			return src, true
		}
		file, haveFile = src, true
	}
	return file, haveFile
}

// failed records a load failure; the previous version, if any, keeps running.
func (m *Manager) failed(name string, src plugin.Source, err error) error {
	m.smu.Lock()
	st := m.status[name]
	if st == nil {
		st = &Status{Name: name, Kind: src.Kind}
		m.status[name] = st
	}
	st.Path = src.Entry
	st.Error = err.Error()
	running := st.Running
	m.smu.Unlock()
	if m.o.Observe != nil {
		m.o.Observe(name, "failed")
	}
	if running {
		m.log.Error("plugin failed to load; the previous version keeps running", "plugin", name, "path", src.Entry, "error", err)
	} else {
		m.log.Error("plugin failed to load", "plugin", name, "path", src.Entry, "error", err)
	}
	return fmt.Errorf("plugin %s: %w", name, err)
}

func (m *Manager) unload(ctx context.Context, name, why string) error {
	err := m.o.Target.Remove(ctx, name)
	m.smu.Lock()
	delete(m.status, name)
	m.smu.Unlock()
	if m.o.Observe != nil {
		m.o.Observe(name, "removed")
	}
	m.log.Info("plugin unloaded", "plugin", name, "reason", why)
	return err
}

func (m *Manager) set(st *Status) {
	m.smu.Lock()
	m.status[st.Name] = st
	m.smu.Unlock()
}

// Status lists every known plugin, sorted by name.
func (m *Manager) Status() []Status {
	m.smu.RLock()
	defer m.smu.RUnlock()
	out := make([]Status, 0, len(m.status))
	for _, st := range m.status {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
