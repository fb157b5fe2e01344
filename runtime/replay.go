package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	badgerkv "github.com/switchboard-dev/switchboard/kv/badger"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// ReadEvents reads JSON lines: each line is an event (SPEC §3: it has
// "type" and "vendor"), or, when vendor is not empty, a raw callback body
// of that vendor, normalized as the receiver would. Blank lines and lines
// starting with # or // are skipped. Errors name the line.
func ReadEvents(r io.Reader, reg *bindings.Registry, vendor string) ([]*event.Event, error) {
	var norm event.Normalizer
	if vendor != "" {
		n, ok := reg.Normalizer(vendor)
		if !ok {
			return nil, fmt.Errorf("vendor %q has no callbacks to normalize", vendor)
		}
		norm = n
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var out []*event.Event
	for line := 1; sc.Scan(); line++ {
		b := trimLine(sc.Bytes())
		if len(b) == 0 || b[0] == '#' || (len(b) > 1 && b[0] == '/' && b[1] == '/') {
			continue
		}
		if norm != nil {
			evs, err := norm(append([]byte(nil), b...))
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			out = append(out, evs...)
			continue
		}
		var ev event.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			return nil, fmt.Errorf("line %d: not an event: %w", line, err)
		}
		if ev.Type == "" || ev.Vendor == "" {
			return nil, fmt.Errorf("line %d: an event needs \"type\" and \"vendor\" (for raw callbacks, name their vendor)", line)
		}
		if ev.ID == "" {
			ev.ID = event.HashID(ev.Vendor, b)
		}
		if len(ev.Raw) == 0 {
			ev.Raw = json.RawMessage("{}")
		}
		out = append(out, &ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

func trimLine(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// ReplayResult is what one plugin did with one event.
type ReplayResult struct {
	Event  *event.Event
	Plugin string
	Took   time.Duration
	Err    error
	// Calls are the binding calls it made (ev.reply included), checked
	// against the endpoint table and the plugin's permissions.
	Calls []ReplayCall
}

// ReplayCall is one faked binding call.
type ReplayCall struct {
	Call bindings.Call
	Err  error // a refused call: permission, arguments
}

// Replay feeds events, in order, to the plugins of cfg's scripts_dir (only
// the one named only, when not empty) with the bindings faked: every call
// is checked (permission, endpoint, arguments) and recorded, and a checked
// call answers {}. KV lives in a throwaway in-memory store, so replays
// never touch data_dir. report gets each result as it happens.
func Replay(ctx context.Context, cfg *config.Config, events []*event.Event, only string, log hclog.Logger, report func(ReplayResult)) error {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	reg, err := Registry(cfg, nil)
	if err != nil {
		return err
	}
	db, err := storage.Open("", storage.Options{InMemory: true})
	if err != nil {
		return err
	}
	defer db.Close()
	store := badgerkv.New(db)
	defer store.Close()

	type loaded struct {
		name string
		h    plugin.Handler
		rec  *recorder
	}
	var plugins []loaded
	defer func() {
		for _, p := range plugins {
			_ = p.h.Close()
		}
	}()
	h, err := newHosts("")
	if err != nil {
		return err
	}
	defer h.Close()
	for kind, loader := range h.loaders {
		srcs, err := plugin.Discover(pluginDir(cfg, kind), kind)
		if err != nil {
			return err
		}
		for _, src := range srcs {
			if only != "" && src.Name != only {
				continue
			}
			spec, err := plugin.Resolve(src, cfg.PluginDefaults, cfg.PluginSettings(src.Name))
			if err != nil {
				return err
			}
			rec := &recorder{next: plugin.Guard(spec.Name, spec.Grants, fakeBindings(reg))}
			env := plugin.Env{Spec: spec, Log: log.Named("plugin").With("plugin", spec.Name), Registry: reg, Invoker: rec}
			if spec.Grants.Allows(plugin.PermKV) {
				env.KV = store.Bucket(spec.Name)
			}
			h, err := loader.Load(ctx, env)
			if err != nil {
				return err
			}
			plugins = append(plugins, loaded{name: spec.Name, h: h, rec: rec})
		}
	}
	if len(plugins) == 0 {
		if only != "" {
			return fmt.Errorf("no plugin named %q in %s or %s", only, cfg.ScriptsDir, cfg.PluginsDir)
		}
		return fmt.Errorf("no plugins in %s or %s", cfg.ScriptsDir, cfg.PluginsDir)
	}
	for _, ev := range events {
		for _, p := range plugins {
			if !p.h.Wants(ev) {
				continue
			}
			p.rec.reset()
			start := time.Now()
			err := p.h.Handle(ctx, ev)
			report(ReplayResult{Event: ev, Plugin: p.name, Took: time.Since(start), Err: err, Calls: p.rec.take()})
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// fakeBindings checks a call against its endpoint and answers {}.
func fakeBindings(reg *bindings.Registry) bindings.Invoker {
	return bindings.InvokerFunc(func(_ context.Context, c bindings.Call) (json.RawMessage, error) {
		ep, err := reg.Lookup(c.Vendor, c.Method)
		if err != nil {
			return nil, err
		}
		if err := ep.Check(c.Args); err != nil {
			return nil, err
		}
		return json.RawMessage("{}"), nil
	})
}

// recorder records every call a plugin makes, and how it ended, in front
// of the permission check and the faked bindings.
type recorder struct {
	next  bindings.Invoker
	mu    sync.Mutex
	calls []ReplayCall
}

func (r *recorder) Invoke(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
	data, err := r.next.Invoke(ctx, c)
	r.mu.Lock()
	r.calls = append(r.calls, ReplayCall{Call: c, Err: err})
	r.mu.Unlock()
	return data, err
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

func (r *recorder) take() []ReplayCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// ErrReplayFailed is returned by the replay command when a handler failed.
var ErrReplayFailed = errors.New("some handlers failed")
