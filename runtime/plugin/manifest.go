package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// Manifest is a plugin's optional NAME.json (or manifest.json in its
// folder), SPEC §8.
type Manifest struct {
	Name        string         `json:"name"`
	Version     string         `json:"version"`
	Description string         `json:"description,omitempty"`
	Events      []string       `json:"events"`
	Permissions []string       `json:"permissions"`
	Accounts    []string       `json:"accounts"`
	Limits      Limits         `json:"limits"`
	Retries     int            `json:"retries"`
	Config      map[string]any `json:"config"`
}

// Limits per event (the config may lower them).
type Limits struct {
	TimeoutMS  int `json:"timeout_ms"`
	MemoryMB   int `json:"memory_mb"`
	MaxPending int `json:"max_pending"`
}

// ErrManifest marks every manifest problem.
var ErrManifest = errors.New("invalid manifest")

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

// ValidName reports whether name can name a plugin.
func ValidName(name string) bool { return nameRE.MatchString(name) && !strings.HasSuffix(name, ".") }

// ParseManifest decodes and validates a manifest. Unknown fields are
// errors, so a typo ("permisions") is not silently ignored.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrManifest)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ReadManifest reads and parses a manifest file.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Validate checks names, patterns, permissions and limits.
func (m *Manifest) Validate() error {
	if m.Name != "" && !ValidName(m.Name) {
		return fmt.Errorf("%w: name %q: letters, digits, '_', '-', '.' only", ErrManifest, m.Name)
	}
	for _, p := range m.Events {
		if !event.ValidPattern(p) {
			return fmt.Errorf("%w: events: bad pattern %q", ErrManifest, p)
		}
	}
	for _, p := range m.Permissions {
		if !ValidPermission(p) {
			return fmt.Errorf("%w: permissions: bad permission %q", ErrManifest, p)
		}
	}
	for _, a := range m.Accounts {
		if strings.TrimSpace(a) == "" {
			return fmt.Errorf("%w: accounts: empty account", ErrManifest)
		}
	}
	switch {
	case m.Limits.TimeoutMS < 0 || m.Limits.TimeoutMS > 600_000:
		return fmt.Errorf("%w: limits.timeout_ms must be 0..600000, got %d", ErrManifest, m.Limits.TimeoutMS)
	case m.Limits.MemoryMB < 0 || m.Limits.MemoryMB > 4096:
		return fmt.Errorf("%w: limits.memory_mb must be 0..4096, got %d", ErrManifest, m.Limits.MemoryMB)
	case m.Limits.MaxPending < 0 || m.Limits.MaxPending > 10_000:
		return fmt.Errorf("%w: limits.max_pending must be 0..10000, got %d", ErrManifest, m.Limits.MaxPending)
	case m.Retries < 0 || m.Retries > 100:
		return fmt.Errorf("%w: retries must be 0..100, got %d", ErrManifest, m.Retries)
	}
	return nil
}
