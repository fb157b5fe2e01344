package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	badgerkv "github.com/switchboard-dev/switchboard/kv/badger"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// ErrNotDuringCheck refuses binding calls made while a plugin is checked.
var ErrNotDuringCheck = errors.New("binding calls are not made during a check")

// CheckResult is the verdict on one plugin or manifest.
type CheckResult struct {
	Name   string
	Path   string
	Detail string // extra facts for a plugin that passed
	Err    error
}

// Checker compiles and initializes plugins the way the runtime does,
// against a throwaway in-memory store, without sending anything. It is
// what `switchboard check` runs. Not safe for concurrent use.
type Checker struct {
	cfg   *config.Config
	reg   *bindings.Registry
	db    *badger.DB
	kv    *badgerkv.Store
	hosts *hosts
}

// NewChecker builds a Checker for cfg. Close it after use.
func NewChecker(cfg *config.Config) (*Checker, error) {
	reg, err := Registry(cfg, nil)
	if err != nil {
		return nil, err
	}
	db, err := storage.Open("", storage.Options{InMemory: true})
	if err != nil {
		return nil, err
	}
	h, err := newHosts("")
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Checker{cfg: cfg, reg: reg, db: db, kv: badgerkv.New(db), hosts: h}, nil
}

// Close releases the throwaway store and the plugin hosts.
func (c *Checker) Close() error { return errors.Join(c.hosts.Close(), c.kv.Close(), c.db.Close()) }

// Check checks one path: a plugin file or folder, a manifest, or a folder
// of plugins.
func (c *Checker) Check(ctx context.Context, path string) []CheckResult {
	path = filepath.Clean(path)
	st, err := os.Stat(path)
	if err != nil {
		return []CheckResult{{Name: filepath.Base(path), Path: path, Err: err}}
	}
	dir, base := filepath.Dir(path), filepath.Base(path)
	if !st.IsDir() && strings.HasSuffix(base, ".json") {
		// A manifest next to its plugin, or inside a folder plugin.
		if src, ok := c.sourceOf(dir, strings.TrimSuffix(base, ".json")); ok && base != plugin.FolderManifest {
			return []CheckResult{c.checkSource(ctx, src)}
		}
		if base == plugin.FolderManifest {
			if src, ok := c.sourceOf(filepath.Dir(dir), filepath.Base(dir)); ok {
				return []CheckResult{c.checkSource(ctx, src)}
			}
		}
		_, err := plugin.ReadManifest(path)
		return []CheckResult{{Name: strings.TrimSuffix(base, ".json"), Path: path, Detail: " manifest", Err: err}}
	}
	if src, ok := c.sourceOf(dir, base); ok {
		return []CheckResult{c.checkSource(ctx, src)}
	}
	if st.IsDir() {
		var out []CheckResult
		for kind := range c.hosts.loaders {
			srcs, err := plugin.Discover(path, kind)
			if err != nil {
				out = append(out, CheckResult{Name: base, Path: path, Err: err})
			}
			for _, src := range srcs {
				out = append(out, c.checkSource(ctx, src))
			}
		}
		if len(out) == 0 {
			out = append(out, CheckResult{Name: base, Path: path, Err: errors.New("no plugins in this folder")})
		}
		return out
	}
	return []CheckResult{{Name: base, Path: path, Err: errors.New("not a plugin: want NAME.js, a folder with index.js, or a manifest")}}
}

func (c *Checker) sourceOf(dir, base string) (plugin.Source, bool) {
	for kind := range c.hosts.loaders {
		for _, b := range []string{base, base + ".js", base + ".wasm"} {
			if src, ok := plugin.SourceAt(dir, b, kind); ok {
				return src, true
			}
		}
	}
	return plugin.Source{}, false
}

func (c *Checker) checkSource(ctx context.Context, src plugin.Source) CheckResult {
	res := CheckResult{Name: src.Name, Path: src.Entry}
	spec, err := plugin.Resolve(src, c.cfg.PluginDefaults, c.cfg.PluginSettings(src.Name))
	if err != nil {
		res.Err = err
		return res
	}
	env := plugin.Env{
		Spec:     spec,
		Log:      hclog.NewNullLogger(),
		Registry: c.reg,
		Invoker: plugin.Guard(spec.Name, spec.Grants, bindings.InvokerFunc(func(context.Context, bindings.Call) (json.RawMessage, error) {
			return nil, ErrNotDuringCheck
		})),
	}
	if spec.Grants.Allows(plugin.PermKV) {
		env.KV = c.kv.Bucket(spec.Name)
	}
	h, err := c.hosts.loaders[src.Kind].Load(ctx, env)
	if err != nil {
		res.Err = err
		return res
	}
	_ = h.Close()
	if spec.Manifest != nil {
		res.Detail = fmt.Sprintf(" version %s, events %v", spec.Version, spec.Events)
	}
	return res
}
