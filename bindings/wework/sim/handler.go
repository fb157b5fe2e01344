package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBodyBytes bounds a request body.
const maxBodyBytes = 1 << 20

// apiError is an error answer: an envelope with a non-zero error_code.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return fmt.Sprintf("error_code %d: %s", e.code, e.msg) }

func fail(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// request is one API call: its decoded body and the simulator's time when
// it arrived.
type request struct {
	f   map[string]any
	now time.Time
}

// endpoint serves one path. Handlers run with Sim.mu held and answer the
// envelope's data; the deliveries they queue are not waited for.
type endpoint func(s *Sim, r *request) (any, error)

type route struct {
	methods []string
	path    string
	handle  endpoint
	// bare answers {"data": ...} without error_code, as /client/all_clients does.
	bare bool
}

var postOnly = []string{http.MethodPost}

// apiRoutes is every endpoint of the vendor's documents.
func apiRoutes() []route {
	return []route{
		{methods: postOnly, path: "/client/create_client", handle: (*Sim).createClient},
		// The vendor documents a GET; the demo tries several methods, and the
		// simulator takes both.
		{methods: []string{http.MethodGet, http.MethodPost}, path: "/client/all_clients", handle: (*Sim).allClients, bare: true},
		{methods: postOnly, path: "/client/get_client_status", handle: (*Sim).clientStatus},
		{methods: postOnly, path: "/client/remove_client", handle: (*Sim).removeClient},
		{methods: postOnly, path: "/client/set_notify_url", handle: (*Sim).setNotifyURL},
		{methods: postOnly, path: "/client/set_bridge", handle: (*Sim).setBridge},
		{methods: postOnly, path: "/login/get_login_qrcode", handle: (*Sim).loginQRCode},
		{methods: postOnly, path: "/login/verify_login_qrcode", handle: (*Sim).verifyLogin},
		{methods: postOnly, path: "/session/get_session_list", handle: (*Sim).sessionList},
		{methods: postOnly, path: "/msg/send_text", handle: (*Sim).sendText},
		{methods: postOnly, path: "/msg/send_room_at", handle: (*Sim).sendRoomAt},
		{methods: postOnly, path: "/msg/send_image", handle: (*Sim).sendImage},
	}
}

// Paths lists the API paths the simulator serves.
func Paths() []string {
	var out []string
	for _, rt := range apiRoutes() {
		out = append(out, rt.path)
	}
	return out
}

// Handler serves the API. It is safe for concurrent use.
func (s *Sim) Handler() http.Handler { return s.handler }

func (s *Sim) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range apiRoutes() {
		mux.HandleFunc(rt.path, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, rt) })
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error_code": CodeBadRequest,
			"error_message": "no such endpoint: " + r.URL.Path, "data": map[string]any{}})
	})
	return mux
}

func (s *Sim) serve(w http.ResponseWriter, r *http.Request, rt route) {
	allowed := false
	for _, m := range rt.methods {
		allowed = allowed || r.Method == m
	}
	if !allowed {
		w.Header().Set("Allow", strings.Join(rt.methods, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error_code": CodeBadRequest,
			"error_message": fmt.Sprintf("%s takes %s", rt.path, strings.Join(rt.methods, " or ")), "data": map[string]any{}})
		return
	}
	f, err := readBody(r)
	var data any
	if err == nil {
		s.mu.Lock()
		data, err = rt.handle(s, &request{f: f, now: s.now()})
		s.mu.Unlock()
	}
	if err != nil {
		ae, ok := err.(*apiError)
		if !ok {
			ae = &apiError{code: CodeBadRequest, msg: err.Error()}
		}
		s.log.Debug("request refused", "path", rt.path, "code", ae.code, "message", ae.msg)
		writeJSON(w, http.StatusOK, map[string]any{"error_code": ae.code, "error_message": ae.msg, "data": map[string]any{}})
		return
	}
	if rt.bare {
		writeJSON(w, http.StatusOK, map[string]any{"data": data})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"error_code": CodeOK, "error_message": "ok", "data": data})
}

// readBody decodes a JSON object body; an empty body is an empty object.
func readBody(r *http.Request) (map[string]any, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fail(CodeBadRequest, "read body: %v", err)
	}
	if len(b) > maxBodyBytes {
		return nil, fail(CodeBadRequest, "body over %d bytes", maxBodyBytes)
	}
	f := map[string]any{}
	if len(bytes.TrimSpace(b)) == 0 {
		return f, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil || f == nil {
		return nil, fail(CodeBadRequest, "the body is not a JSON object")
	}
	return f, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// str reads a string field; numbers are accepted as their text.
func (r *request) str(name string) (string, bool, error) {
	v, ok := r.f[name]
	if !ok || v == nil {
		return "", false, nil
	}
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true, nil
	case json.Number:
		return x.String(), true, nil
	}
	return "", true, fail(CodeBadRequest, "%s must be a string", name)
}

// need reads a required, non-empty string field.
func (r *request) need(name string) (string, error) {
	s, ok, err := r.str(name)
	switch {
	case err != nil:
		return "", err
	case !ok || s == "":
		return "", fail(CodeBadRequest, "%s is required", name)
	}
	return s, nil
}

// integer reads an optional integer field (a number or a numeric string).
func (r *request) integer(name string, def int64) (int64, error) {
	s, ok, err := r.str(name)
	if err != nil || !ok || s == "" {
		return def, err
	}
	n, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return 0, fail(CodeBadRequest, "%s must be an integer, got %q", name, s)
	}
	return n, nil
}

// instance reads guid and finds its instance.
func (s *Sim) instance(r *request) (*instance, error) {
	guid, err := r.need("guid")
	if err != nil {
		return nil, err
	}
	in := s.st.get(guid)
	if in == nil {
		return nil, fail(CodeNotFound, "guid %s is not an instance of this server", guid)
	}
	return in, nil
}

// online reads guid and finds its instance, which must be logged in.
func (s *Sim) online(r *request) (*instance, error) {
	in, err := s.instance(r)
	if err != nil {
		return nil, err
	}
	if in.status != StatusOnline {
		return nil, fail(CodeState, "instance %s is not online (status %d): log in first", in.guid, in.status)
	}
	return in, nil
}
