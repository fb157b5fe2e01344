// Package admin is the runtime's admin API, served under /admin/ on the
// receiver's listener: plugin status, reloads, rejected callbacks, and the
// KV store of a running process (what `switchboard kv` uses when the store
// is locked by the runtime).
//
// Access: requests from a loopback address are allowed; others must carry
// "Authorization: Bearer <admin.token>", and are refused when no token is
// configured. The handler is safe for concurrent use.
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-dev/switchboard/kv"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
	"github.com/switchboard-dev/switchboard/runtime/reload"
)

// Rejected is one callback the receiver refused and kept.
type Rejected struct {
	Vendor   string `json:"vendor"`
	Remote   string `json:"remote"`
	Reason   string `json:"reason"`
	Received int64  `json:"received"`
	Body     string `json:"body"`
}

// Backend is what the admin API reads and acts on.
type Backend interface {
	Plugins() []reload.Status
	ReloadAll(ctx context.Context) error
	Rejected(limit int) ([]Rejected, error)
	KV() kv.Store
}

// Handler serves /admin/.
type Handler struct {
	b      Backend
	token  string
	mounts map[string]fasthttp.RequestHandler
}

// Mount serves /admin/{name} and everything under it with fn, behind the
// same authorization. Call it before serving; not safe concurrently with
// Serve.
func (h *Handler) Mount(name string, fn fasthttp.RequestHandler) *Handler {
	if h.mounts == nil {
		h.mounts = map[string]fasthttp.RequestHandler{}
	}
	h.mounts[name] = fn
	return h
}

// New returns the admin handler. token may be empty (loopback only).
func New(b Backend, token string) *Handler { return &Handler{b: b, token: token} }

// Serve is the fasthttp handler.
func (h *Handler) Serve(ctx *fasthttp.RequestCtx) {
	if !h.authorized(ctx) {
		reply(ctx, fasthttp.StatusUnauthorized, map[string]any{"error": "admin API: loopback only, or Authorization: Bearer <admin.token>"})
		return
	}
	path := strings.TrimPrefix(string(ctx.Path()), "/admin/")
	method := string(ctx.Method())
	switch {
	case path == "plugins" && method == "GET":
		reply(ctx, 200, map[string]any{"plugins": h.b.Plugins()})
	case path == "reload" && method == "POST":
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := h.b.ReloadAll(c)
		out := map[string]any{"plugins": h.b.Plugins()}
		if err != nil {
			out["error"] = err.Error()
		}
		reply(ctx, 200, out)
	case path == "rejected" && method == "GET":
		limit := intArg(ctx, "limit", 50)
		rs, err := h.b.Rejected(limit)
		if err != nil {
			reply(ctx, 500, map[string]any{"error": err.Error()})
			return
		}
		reply(ctx, 200, map[string]any{"rejected": rs})
	case strings.HasPrefix(path, "kv/"):
		h.kv(ctx, strings.TrimPrefix(path, "kv/"), method)
	case h.mounts[strings.SplitN(path, "/", 2)[0]] != nil:
		h.mounts[strings.SplitN(path, "/", 2)[0]](ctx)
	default:
		reply(ctx, 404, map[string]any{"error": "no such admin endpoint: " + method + " /admin/" + path})
	}
}

func (h *Handler) authorized(ctx *fasthttp.RequestCtx) bool {
	if h.token != "" {
		auth := string(ctx.Request.Header.Peek("Authorization"))
		if got, ok := strings.CutPrefix(auth, "Bearer "); ok && subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) == 1 {
			return true
		}
	}
	return ctx.RemoteIP().IsLoopback()
}

// kv serves /admin/kv/{plugin}[/{key}]: GET lists (no key) or reads,
// PUT sets (JSON body, ?ttl=seconds), DELETE deletes.
func (h *Handler) kv(ctx *fasthttp.RequestCtx, rest, method string) {
	ns, rawKey, hasKey := strings.Cut(rest, "/")
	if !plugin.ValidName(ns) {
		reply(ctx, 400, map[string]any{"error": "bad plugin name " + strconv.Quote(ns)})
		return
	}
	key, err := url.PathUnescape(rawKey)
	if err != nil {
		reply(ctx, 400, map[string]any{"error": "bad key: " + err.Error()})
		return
	}
	b := h.b.KV().Bucket(ns)
	switch {
	case !hasKey && method == "GET":
		items, next, err := b.List(string(ctx.QueryArgs().Peek("prefix")), intArg(ctx, "limit", 100), string(ctx.QueryArgs().Peek("cursor")))
		if err != nil {
			kvError(ctx, err)
			return
		}
		reply(ctx, 200, map[string]any{"items": items, "cursor": next})
	case hasKey && method == "GET":
		v, err := b.Get(key)
		if err != nil {
			kvError(ctx, err)
			return
		}
		reply(ctx, 200, map[string]any{"key": key, "value": v})
	case hasKey && method == "PUT":
		ttl := time.Duration(intArg(ctx, "ttl", 0)) * time.Second
		if err := b.Set(key, json.RawMessage(append([]byte(nil), ctx.PostBody()...)), ttl); err != nil {
			kvError(ctx, err)
			return
		}
		reply(ctx, 200, map[string]any{"key": key, "ok": true})
	case hasKey && method == "DELETE":
		if err := b.Delete(key); err != nil {
			kvError(ctx, err)
			return
		}
		reply(ctx, 200, map[string]any{"key": key, "ok": true})
	default:
		reply(ctx, 405, map[string]any{"error": "use GET, PUT or DELETE on /admin/kv/{plugin}/{key}, GET on /admin/kv/{plugin}"})
	}
}

func kvError(ctx *fasthttp.RequestCtx, err error) {
	status := 500
	switch {
	case errors.Is(err, kv.ErrNotFound):
		status = 404
	case errors.Is(err, kv.ErrInvalidKey), errors.Is(err, kv.ErrInvalidJSON), errors.Is(err, kv.ErrTooLarge), errors.Is(err, kv.ErrNotNumber):
		status = 400
	}
	reply(ctx, status, map[string]any{"error": err.Error()})
}

func intArg(ctx *fasthttp.RequestCtx, name string, def int) int {
	if v, err := ctx.QueryArgs().GetUint(name); err == nil {
		return v
	}
	return def
}

func reply(ctx *fasthttp.RequestCtx, status int, v any) {
	b, _ := json.Marshal(v)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
