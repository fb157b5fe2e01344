// Package bindings is the spine of every vendor API Switchboard speaks: each
// endpoint is described exactly once, as an Endpoint in a Registry, and
// everything else is derived from that table: the JavaScript objects, the
// WASM host call, permission names, rate-limit classes, the TypeScript
// declarations and the binding reference in docs/.
//
// Lifecycle: vendor packages (bindings/quntool, bindings/wework, ...) declare
// their endpoint tables as package data; the runtime builds one Registry at
// start-up with Add, after which the Registry is read-only and safe for
// concurrent use by any number of goroutines.
package bindings

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// Type is a parameter's type, as the vendor documents it.
type Type string

// Parameter types.
const (
	String  Type = "string"
	Int     Type = "int"
	Bool    Type = "bool"
	Strings Type = "string[]"
	Ints    Type = "int[]"
	Object  Type = "object"
	Array   Type = "array"
	Any     Type = "any"
	File    Type = "file" // multipart upload: bytes (base64 in JSON) or a local file the host may read
)

// Where a parameter travels.
const (
	InBody  = "body"  // JSON body (POST, PUT, DELETE)
	InQuery = "query" // URL query string (GET)
	InForm  = "form"  // multipart form field
)

// Param is one documented request parameter.
type Param struct {
	Name     string
	Type     Type
	Required bool
	In       string // InBody, InQuery or InForm; empty means InQuery for GET, else InBody
	Doc      string
}

// Class says how the host paces and routes a call.
type Class int

const (
	// Query is a read or a management call: limited by the vendor's call
	// limits only.
	Query Class = iota
	// Send delivers a message to a conversation: paced by the per-account
	// send interval and per-corp hourly cap, and routed through the outbox.
	Send
)

// Endpoint describes one vendor API endpoint. Endpoints are plain data.
type Endpoint struct {
	Vendor string // "quntool"
	// Name is the dotted name below the vendor object, derived from the
	// path in camelCase ("msg.text", "group.member.add").
	Name   string
	Method string // GET, POST, PUT, DELETE
	Path   string // relative to the vendor's base_url: "/msg/text"
	Doc    string
	Params []Param
	// Result is the TypeScript type of the vendor's data ("any" if empty).
	Result string
	Class  Class
	// AccountParam names the parameter that carries the account the call
	// acts for (quntool "wxId", wework "guid"); used for limit keys.
	AccountParam string
	// AccountIn, when set, names an object parameter that carries
	// AccountParam when the arguments do not (wechat.call's body).
	AccountIn string
	// Positional makes the JS function take its parameters positionally,
	// in Params order, instead of as one object (wechat.call(path, body)).
	Positional bool
}

// Permission is the permission name that grants this endpoint:
// "vendor.name" ("quntool.msg.text").
func (e *Endpoint) Permission() string { return e.Vendor + "." + e.Name }

// Param returns the named parameter, matched case-insensitively.
func (e *Endpoint) Param(name string) (Param, bool) {
	for _, p := range e.Params {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return Param{}, false
}

// Where reports where parameter p travels for this endpoint.
func (e *Endpoint) Where(p Param) string {
	if p.In != "" {
		return p.In
	}
	if e.Method == "GET" {
		return InQuery
	}
	return InBody
}

// Account returns the account a call with args acts for, or "".
func (e *Endpoint) Account(args map[string]any) string {
	if e.AccountParam == "" {
		return ""
	}
	v, ok := Arg(args, e.AccountParam)
	if !ok && e.AccountIn != "" {
		if in, _ := Arg(args, e.AccountIn); in != nil {
			if m, isMap := in.(map[string]any); isMap {
				v, _ = Arg(m, e.AccountParam)
			}
		}
	}
	return event.Str(map[string]any{"v": v}, "v")
}

// Arg looks a parameter up in args case-insensitively (vendor field names
// are case-insensitive and the seeds mix cases).
func Arg(args map[string]any, name string) (any, bool) {
	if v, ok := args[name]; ok {
		return v, true
	}
	for k, v := range args {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// Client performs the HTTP (or MQTT) exchange for one vendor. It returns the
// vendor's "data" on success, and a *VendorError for a vendor error code.
// Implementations are safe for concurrent use.
type Client interface {
	Do(ctx context.Context, ep *Endpoint, args map[string]any) (json.RawMessage, error)
}

// ReplyFunc maps ev.reply(content) to a binding call in the event's own
// conversation, through the event's own account. content has exactly one of
// the keys text, image, file, video, voice, link, ... (see Reply).
type ReplyFunc func(ev *event.Event, content map[string]any) (Call, error)

// Vendor is everything the registry knows of one vendor.
type Vendor struct {
	Name      string
	Doc       string
	Endpoints []Endpoint
	Client    Client           // nil for description-only use (docs, typings, check)
	Reply     ReplyFunc        // nil if the vendor cannot reply (msgserver)
	Normalize event.Normalizer // nil if the vendor pushes no callbacks
}

// Registry holds every vendor and endpoint. Build it with Add before use;
// after that it is read-only and safe for concurrent use.
type Registry struct {
	vendors   map[string]*Vendor
	endpoints map[string]*Endpoint // by Permission()
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{vendors: map[string]*Vendor{}, endpoints: map[string]*Endpoint{}}
}

// Add registers a vendor and its endpoints. It fails on a duplicate vendor
// or endpoint name, an endpoint of another vendor, or a name that cannot be
// a JS property path.
func (r *Registry) Add(v Vendor) error {
	if v.Name == "" {
		return fmt.Errorf("bindings: vendor without a name")
	}
	if _, dup := r.vendors[v.Name]; dup {
		return fmt.Errorf("bindings: vendor %q added twice", v.Name)
	}
	vv := v
	vv.Endpoints = make([]Endpoint, len(v.Endpoints))
	copy(vv.Endpoints, v.Endpoints)
	for i := range vv.Endpoints {
		ep := &vv.Endpoints[i]
		if ep.Vendor == "" {
			ep.Vendor = v.Name
		}
		if ep.Vendor != v.Name {
			return fmt.Errorf("bindings: endpoint %s listed under vendor %s", ep.Permission(), v.Name)
		}
		if err := validName(ep.Name); err != nil {
			return fmt.Errorf("bindings: endpoint %s %s: %w", ep.Method, ep.Path, err)
		}
		if _, dup := r.endpoints[ep.Permission()]; dup {
			return fmt.Errorf("bindings: endpoint %s defined twice", ep.Permission())
		}
		r.endpoints[ep.Permission()] = ep
	}
	// A name may not be both a function and a namespace ("msg" and "msg.text").
	for name := range r.endpoints {
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			if _, clash := r.endpoints[name[:i]]; clash && strings.Count(name[:i], ".") > 0 {
				return fmt.Errorf("bindings: %s is both an endpoint and a namespace of %s", name[:i], name)
			}
		}
	}
	r.vendors[v.Name] = &vv
	return nil
}

func validName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	for _, seg := range strings.Split(name, ".") {
		if seg == "" {
			return fmt.Errorf("name %q has an empty segment", name)
		}
		for i, c := range seg {
			ok := c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
			if !ok {
				return fmt.Errorf("name %q is not a JS identifier path", name)
			}
		}
	}
	return nil
}

// Vendor returns a registered vendor.
func (r *Registry) Vendor(name string) (*Vendor, bool) {
	v, ok := r.vendors[name]
	return v, ok
}

// Vendors returns the registered vendor names, sorted.
func (r *Registry) Vendors() []string {
	out := make([]string, 0, len(r.vendors))
	for n := range r.vendors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup finds an endpoint by vendor and dotted name.
func (r *Registry) Lookup(vendor, name string) (*Endpoint, error) {
	if _, ok := r.vendors[vendor]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownVendor, vendor)
	}
	ep, ok := r.endpoints[vendor+"."+name]
	if !ok {
		return nil, fmt.Errorf("%w: %s.%s", ErrUnknownMethod, vendor, name)
	}
	return ep, nil
}

// Endpoints returns every endpoint, sorted by permission name.
func (r *Registry) Endpoints() []*Endpoint {
	out := make([]*Endpoint, 0, len(r.endpoints))
	for _, ep := range r.endpoints {
		out = append(out, ep)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Permission() < out[j].Permission() })
	return out
}

// Normalizer returns the vendor's callback normalizer.
func (r *Registry) Normalizer(vendor string) (event.Normalizer, bool) {
	v, ok := r.vendors[vendor]
	if !ok || v.Normalize == nil {
		return nil, false
	}
	return v.Normalize, true
}

// Reply maps ev.reply(content) to a call through the event's own vendor.
func (r *Registry) Reply(ev *event.Event, content map[string]any) (Call, error) {
	v, ok := r.vendors[ev.Vendor]
	if !ok || v.Reply == nil {
		return Call{}, fmt.Errorf("%w: vendor %q cannot reply", ErrUnsupported, ev.Vendor)
	}
	c, err := v.Reply(ev, content)
	if err != nil {
		return Call{}, err
	}
	c.Vendor = ev.Vendor
	return c, nil
}
