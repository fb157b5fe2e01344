package plugin

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/switchboard-dev/switchboard/bindings"
)

// PermKV is the permission that grants the plugin's key-value namespace.
const PermKV = "kv"

// ValidPermission reports whether p is a well-formed permission pattern:
// "*", "kv", a vendor ("quntool"), a dotted endpoint name
// ("quntool.msg.text") or a prefix with a trailing ".*" ("quntool.msg.*").
func ValidPermission(p string) bool {
	if p == "*" {
		return true
	}
	segs := strings.Split(p, ".")
	for i, s := range segs {
		if s == "" {
			return false
		}
		if s == "*" && i == len(segs)-1 && i > 0 {
			continue
		}
		for _, c := range s {
			if !(c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// PermMatch reports whether pattern grants perm. "*" grants everything;
// "quntool" and "quntool.*" grant every quntool endpoint; "quntool.msg.*"
// every endpoint below msg; otherwise names must be equal.
func PermMatch(pattern, perm string) bool {
	if pattern == "*" || pattern == perm {
		return true
	}
	prefix := strings.TrimSuffix(pattern, ".*")
	return strings.HasPrefix(perm, prefix+".")
}

// Grants is the set of permissions a plugin holds: what its manifest
// declares intersected with what switchboard.yaml allows it. The zero value
// grants nothing. Grants is immutable and safe for concurrent use.
type Grants struct {
	declared []string // nil: no manifest, take allowed as is
	allowed  []string
}

// NewGrants builds the grants. declared is nil for a plugin without a
// manifest (it then gets exactly what the config allows).
func NewGrants(declared, allowed []string) Grants {
	return Grants{declared: declared, allowed: allowed}
}

// Allows reports whether perm is granted.
func (g Grants) Allows(perm string) bool {
	return anyMatch(g.allowed, perm) && (g.declared == nil || anyMatch(g.declared, perm))
}

func anyMatch(patterns []string, perm string) bool {
	for _, p := range patterns {
		if PermMatch(p, perm) {
			return true
		}
	}
	return false
}

// Guard wraps next so that every call is checked against the plugin's
// grants and stamped with its name. A call that is not granted fails with
// a *bindings.PermissionError and is never sent.
func Guard(name string, g Grants, next bindings.Invoker) bindings.Invoker {
	return bindings.InvokerFunc(func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		c.Plugin = name
		if perm := c.String(); !g.Allows(perm) {
			return nil, &bindings.PermissionError{Plugin: name, Permission: perm}
		}
		return next.Invoke(ctx, c)
	})
}
