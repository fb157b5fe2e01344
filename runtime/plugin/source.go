package plugin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Source is where one plugin lives on disk.
type Source struct {
	Name string
	Kind Kind
	// Entry is the file the host loads: scripts/NAME.js,
	// scripts/NAME/index.js, plugins/NAME.wasm or plugins/NAME/plugin.wasm.
	Entry string
	// Dir is the plugin's own folder for folder plugins, "" for a single
	// file. JS require() resolves only inside it.
	Dir string
	// Manifest is the manifest path if one exists, else "".
	Manifest string
}

// Entry file names.
const (
	JSFolderEntry   = "index.js"
	WASMFolderEntry = "plugin.wasm"
	FolderManifest  = "manifest.json"
)

func entryFor(kind Kind) (ext, folderEntry string) {
	if kind == WASM {
		return ".wasm", WASMFolderEntry
	}
	return ".js", JSFolderEntry
}

// Discover lists the plugins of one kind in dir: NAME.js / NAME.wasm files
// and NAME/ folders holding index.js / plugin.wasm. Hidden files, editor
// backups and names that are not valid plugin names are skipped. A missing
// dir is an empty list. The result is sorted by name.
func Discover(dir string, kind Kind) ([]Source, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []Source
	for _, e := range entries {
		if src, ok := SourceAt(dir, e.Name(), kind); ok {
			out = append(out, src)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SourceAt returns the plugin whose top-level entry in dir is named base
// (a file or a folder), if it is one.
func SourceAt(dir, base string, kind Kind) (Source, bool) {
	ext, folderEntry := entryFor(kind)
	if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") || strings.HasSuffix(base, "~") {
		return Source{}, false
	}
	p := filepath.Join(dir, base)
	st, err := os.Stat(p)
	if err != nil {
		return Source{}, false
	}
	if st.IsDir() {
		entry := filepath.Join(p, folderEntry)
		if fi, err := os.Stat(entry); err != nil || fi.IsDir() || !ValidName(base) {
			return Source{}, false
		}
		src := Source{Name: base, Kind: kind, Entry: entry, Dir: p}
		if m := filepath.Join(p, FolderManifest); fileExists(m) {
			src.Manifest = m
		}
		return src, true
	}
	name, ok := strings.CutSuffix(base, ext)
	if !ok || !ValidName(name) {
		return Source{}, false
	}
	src := Source{Name: name, Kind: kind, Entry: p}
	if m := filepath.Join(dir, name+".json"); fileExists(m) {
		src.Manifest = m
	}
	return src, true
}

// NameFor maps a changed path below dir to the plugin name it belongs to
// (the first path element, less the extension), or "" if it belongs to no
// plugin of this kind. Used by the watcher to decide what to reload.
func NameFor(dir, path string, kind Kind) string {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return ""
	}
	first := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
	ext, _ := entryFor(kind)
	for _, suffix := range []string{ext, ".json"} {
		if n, ok := strings.CutSuffix(first, suffix); ok {
			first = n
			break
		}
	}
	if !ValidName(first) {
		return ""
	}
	return first
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Settings are a plugin's settings in switchboard.yaml (plugins.NAME, and
// plugin_defaults for the fields it has).
type Settings struct {
	Allow     []string       `koanf:"allow" json:"allow,omitempty"`
	Config    map[string]any `koanf:"config" json:"config,omitempty"`
	Disabled  bool           `koanf:"disabled" json:"disabled,omitempty"`
	TimeoutMS int            `koanf:"timeout_ms" json:"timeout_ms,omitempty"`
}

// Spec is a plugin resolved for loading: its source, manifest and
// settings combined.
type Spec struct {
	Source
	Manifest   *Manifest // nil when there is none
	Version    string
	Grants     Grants
	Events     []string // the manifest's events, or ["*"]
	Accounts   []string // the manifest's accounts, or ["*"]
	Timeout    time.Duration
	MemoryMB   int
	MaxPending int
	Retries    int
	Config     map[string]any // manifest config, overridden key by key by plugins.NAME.config
	Disabled   bool
}

// Resolve reads the source's manifest and combines it with the defaults
// and the plugin's own settings (own may be nil). Limits take the lower of
// manifest and config.
func Resolve(src Source, defaults Settings, own *Settings) (*Spec, error) {
	s := &Spec{Source: src, Events: []string{"*"}, Accounts: []string{"*"},
		Timeout: DefaultTimeout, MemoryMB: DefaultMemoryMB, MaxPending: DefaultMaxPending, Config: map[string]any{}}
	allow := defaults.Allow
	timeoutMS := defaults.TimeoutMS
	if own != nil {
		if own.Allow != nil {
			allow = own.Allow
		}
		if own.TimeoutMS > 0 {
			timeoutMS = own.TimeoutMS
		}
		s.Disabled = own.Disabled
	}
	var declared []string
	if src.Manifest != "" {
		m, err := ReadManifest(src.Manifest)
		if err != nil {
			return nil, &LoadError{Plugin: src.Name, Path: src.Manifest, Err: err}
		}
		if m.Name != "" && m.Name != src.Name {
			return nil, &LoadError{Plugin: src.Name, Path: src.Manifest,
				Err: fmt.Errorf("%w: name %q does not match the plugin's file name %q", ErrManifest, m.Name, src.Name)}
		}
		s.Manifest, s.Version = m, m.Version
		declared = m.Permissions
		if declared == nil {
			declared = []string{}
		}
		if len(m.Events) > 0 {
			s.Events = m.Events
		}
		if len(m.Accounts) > 0 {
			s.Accounts = m.Accounts
		}
		if m.Limits.TimeoutMS > 0 {
			s.Timeout = time.Duration(m.Limits.TimeoutMS) * time.Millisecond
		}
		if m.Limits.MemoryMB > 0 {
			s.MemoryMB = m.Limits.MemoryMB
		}
		if m.Limits.MaxPending > 0 {
			s.MaxPending = m.Limits.MaxPending
		}
		s.Retries = m.Retries
		for k, v := range m.Config {
			s.Config[k] = v
		}
	}
	if timeoutMS > 0 {
		if d := time.Duration(timeoutMS) * time.Millisecond; src.Manifest == "" || s.Manifest.Limits.TimeoutMS == 0 || d < s.Timeout {
			s.Timeout = d
		}
	}
	if own != nil {
		for k, v := range own.Config {
			s.Config[k] = v
		}
	}
	s.Grants = NewGrants(declared, allow)
	return s, nil
}

// WantsAccount reports whether the spec's accounts admit account.
func (s *Spec) WantsAccount(account string) bool {
	for _, a := range s.Accounts {
		if a == "*" || a == account {
			return true
		}
	}
	return false
}
