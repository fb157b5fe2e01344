package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// MountPath is where the admin API serves the outbox.
const MountPath = "/admin/outbox"

// ListPage is the admin API's answer to a listing.
type ListPage struct {
	Entries []Entry `json:"entries"`
}

// Handler serves the outbox's admin API, as JSON:
//
//	GET  /?state=pending|dead[&limit=N]  ListPage (state pending by default; limit 1000 by default)
//	GET  /stats                          Stats
//	POST /retry/{id}                     the retried Entry
//	POST /drop/{id}                      {"dropped": id}
//
// Paths are relative to where it is mounted; a MountPath prefix is
// accepted too, so it works mounted with or without http.StripPrefix.
// Errors are {"error": message} with 400 (bad id, state or limit), 404
// (no such entry), 405, 503 (outbox closed) or 500. Access control is the
// mounting server's. The handler is safe for concurrent use.
func Handler(o *Outbox) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.Trim(strings.TrimPrefix(r.URL.Path, MountPath), "/")
		verb, id, _ := strings.Cut(path, "/")
		switch {
		case path == "" || path == "stats":
			if r.Method != http.MethodGet {
				methodNotAllowed(w, http.MethodGet)
				return
			}
			if path == "stats" {
				st, err := o.Stats()
				respond(w, st, err)
				return
			}
			listHandler(o, w, r)
		case (verb == "retry" || verb == "drop") && id != "" && !strings.Contains(id, "/"):
			if r.Method != http.MethodPost {
				methodNotAllowed(w, http.MethodPost)
				return
			}
			if verb == "retry" {
				e, err := o.Retry(id)
				respond(w, e, err)
				return
			}
			respond(w, map[string]string{"dropped": id}, o.Drop(id))
		default:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("outbox: no such path %q", r.URL.Path)})
		}
	})
}

// DefaultListLimit bounds a listing without a limit.
const DefaultListLimit = 1000

func listHandler(o *Outbox, w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state, err := ParseState(q.Get("state"))
	if err != nil {
		respond(w, nil, err)
		return
	}
	limit := DefaultListLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			respond(w, nil, fmt.Errorf("%w: limit %q: want a positive number", ErrBadRequest, s))
			return
		}
		limit = n
	}
	entries, err := o.List(state, limit)
	respond(w, ListPage{Entries: entries}, err)
}

func respond(w http.ResponseWriter, v any, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrBadRequest):
		status = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrClosed):
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "outbox: method not allowed, use " + allow})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
