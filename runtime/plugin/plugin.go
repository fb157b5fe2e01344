// Package plugin holds what the JavaScript and WASM hosts share: where
// plugins live on disk (Source), their manifests and resolved settings
// (Spec), permissions (Grants), and the contract between a plugin host and
// the dispatcher (Loader, Handler, Env).
//
// Lifecycle of one plugin version, in order:
//  1. Discover finds the Source; Resolve reads the manifest and the
//     switchboard.yaml settings into a Spec.
//  2. A Loader compiles and initializes it (Load). A version that fails
//     here is never used; the previous version stays in service.
//  3. The dispatcher calls Wants and Handle, concurrently across
//     conversations, never concurrently within one.
//  4. When it is replaced or removed, the dispatcher stops giving it new
//     events, waits for the Handle calls in flight, then calls Close once.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/kv"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// Kind is the kind of plugin.
type Kind string

// Plugin kinds.
const (
	JS   Kind = "js"
	WASM Kind = "wasm"
)

// Errors a Handle or Load can return; callers test with errors.Is/As.
var (
	// ErrTimeout: the event's wall-time budget ran out (a `while(true){}`
	// was interrupted, or a promise never settled).
	ErrTimeout = errors.New("plugin: event deadline exceeded")
	// ErrClosed: Handle on a version already closed.
	ErrClosed = errors.New("plugin: closed")
	// ErrTooManyPending: more binding calls pending than the plugin's cap.
	ErrTooManyPending = errors.New("plugin: too many pending binding calls")
)

// LoadError is a version that failed to compile or initialize.
type LoadError struct {
	Plugin string
	Path   string
	Err    error
}

func (e *LoadError) Error() string { return fmt.Sprintf("plugin %s (%s): %v", e.Plugin, e.Path, e.Err) }
func (e *LoadError) Unwrap() error { return e.Err }

// HandlerError is an exception a handler threw, or a trap of a WASM guest.
type HandlerError struct {
	Plugin  string
	Message string
	Stack   string
}

func (e *HandlerError) Error() string {
	if e.Stack != "" {
		return fmt.Sprintf("plugin %s: %s\n%s", e.Plugin, e.Message, e.Stack)
	}
	return fmt.Sprintf("plugin %s: %s", e.Plugin, e.Message)
}

// Handler is one loaded, initialized plugin version.
type Handler interface {
	// Wants reports whether the version subscribes to ev: the patterns it
	// registered (JS on(), or the manifest's events for WASM), filtered by
	// the manifest's events and accounts. Safe for concurrent use.
	Wants(ev *event.Event) bool
	// Handle runs the plugin on ev and returns when it has finished, failed,
	// or ctx is done (then ErrTimeout). The dispatcher calls it concurrently
	// for events of different OrderKeys and never concurrently for one key.
	Handle(ctx context.Context, ev *event.Event) error
	// Close releases the version. Called once, after every Handle returned.
	Close() error
}

// Env is what the host gives a plugin version to work with.
type Env struct {
	Spec *Spec
	// Log is tagged with the plugin's name.
	Log hclog.Logger
	// KV is the plugin's own namespace; nil when "kv" is not granted.
	KV kv.Bucket
	// Invoker carries out binding calls. It is already wrapped with this
	// plugin's permission check (Guard) and the host's limits.
	Invoker bindings.Invoker
	// Registry describes the bindings (to build the JS objects) and maps
	// replies.
	Registry *bindings.Registry
}

// Loader builds versions of one kind of plugin. Safe for concurrent use.
type Loader interface {
	Kind() Kind
	// Load compiles and initializes a version. It returns a *LoadError
	// when the plugin does not compile or its initialization fails.
	Load(ctx context.Context, env Env) (Handler, error)
}

// Default limits.
const (
	DefaultTimeout    = 5 * time.Second
	DefaultMemoryMB   = 64
	DefaultMaxPending = 64
)
