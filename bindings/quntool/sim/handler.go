package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
)

// APIPrefix is where the openAPI is served.
const APIPrefix = "/gnapi/open"

// maxBodyBytes bounds a JSON request body; uploads have maxUploadBytes.
const maxBodyBytes = 1 << 20

// apiError is an error answer: an envelope with a non-zero code, or for
// status != 0 that HTTP status as well.
type apiError struct {
	code   int
	msg    string
	status int
}

func (e *apiError) Error() string { return fmt.Sprintf("code %d: %s", e.code, e.msg) }

func fail(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// request is one API call: its fields under lower-cased names and the
// simulator's time when it arrived.
type request struct {
	http *http.Request
	f    fields
	now  time.Time
}

// endpoint serves one method and path. Handlers run with Sim.mu held.
type endpoint func(s *Sim, r *request) (any, error)

type route struct {
	method, path string
	handle       endpoint
}

// apiRoutes is every endpoint of the vendor's document. Paths are matched
// without regard to case, as the vendor's server does.
func apiRoutes() []route {
	return []route{
		{http.MethodPost, "/container/verify", (*Sim).containerVerify},
		{http.MethodPost, "/container/create", (*Sim).containerCreate},
		{http.MethodPost, "/container/stop", (*Sim).containerStop},
		{http.MethodPost, "/container/start", (*Sim).containerStart},
		{http.MethodPost, "/container/remove", (*Sim).containerRemove},
		{http.MethodPost, "/container/restart", (*Sim).containerRestart},
		{http.MethodGet, "/container/memory", (*Sim).containerMemory},
		{http.MethodGet, "/inner/user/wx/list", (*Sim).accountList},
		{http.MethodGet, "/inner/user/list", (*Sim).userList},

		{http.MethodGet, "/contact/external/list", (*Sim).contactExternalList},
		{http.MethodGet, "/contact/extendinfo", (*Sim).contactExtendInfo},
		{http.MethodGet, "/contact/inner/list", (*Sim).contactInnerList},
		{http.MethodPut, "/contact/remark", (*Sim).contactRemark},
		{http.MethodPut, "/contact/desc", (*Sim).contactDesc},
		{http.MethodPut, "/contact/phone", (*Sim).contactPhone},
		{http.MethodPost, "/contact/remove", (*Sim).contactRemove},
		{http.MethodPost, "/contact/external/query", (*Sim).contactExternalQuery},
		{http.MethodGet, "/contact/search", (*Sim).contactSearch},
		{http.MethodPost, "/contact/search/add", (*Sim).contactSearchAdd},

		{http.MethodPost, "/contact/externalUserId", (*Sim).toExternalUserID},
		{http.MethodPost, "/contact/externalUserIdFromDb", (*Sim).toExternalUserIDFromDB},
		{http.MethodPost, "/contact/contactUserId", (*Sim).toContactUserID},
		{http.MethodPost, "/contact/contactUserIdFromDb", (*Sim).toContactUserIDFromDB},
		{http.MethodPost, "/group/externalRoomId", (*Sim).toExternalRoomID},
		{http.MethodPost, "/group/RoomId", (*Sim).toRoomID},
		{http.MethodGet, "/contact/relation", (*Sim).contactRelation},
		{http.MethodPost, "/contact/relation/sync", (*Sim).contactRelationSync},

		{http.MethodPost, "/msg/text", sendEndpoint(kindText)},
		{http.MethodPost, "/msg/roomAt", sendEndpoint(kindRoomAt)},
		{http.MethodPost, "/msg/image", sendEndpoint(kindImage)},
		{http.MethodPost, "/msg/file", sendEndpoint(kindFile)},
		{http.MethodPost, "/msg/gif", sendEndpoint(kindGIF)},
		{http.MethodPost, "/msg/video", sendEndpoint(kindVideo)},
		{http.MethodPost, "/msg/voice", sendEndpoint(kindVoice)},
		{http.MethodPost, "/msg/personCard", sendEndpoint(kindPersonCard)},
		{http.MethodPost, "/msg/link", sendEndpoint(kindLink)},
		{http.MethodPost, "/msg/miniProgram", sendEndpoint(kindMiniProgram)},
		{http.MethodPost, "/msg/videoNum", sendEndpoint(kindVideoNum)},
		{http.MethodPost, "/msg/quote", sendEndpoint(kindQuote)},
		{http.MethodPost, "/miniProgram/send", sendEndpoint(kindMiniProgramByID)},
		{http.MethodPost, "/videonum/send", sendEndpoint(kindVideoNumByID)},
		{http.MethodGet, "/miniprogram/list", (*Sim).miniProgramList},
		{http.MethodGet, "/videonum/list", (*Sim).videoNumList},

		{http.MethodPost, "/group", (*Sim).groupCreate},
		{http.MethodGet, "/group/list", (*Sim).groupList},
		{http.MethodPut, "/group/name", (*Sim).groupRename},
		{http.MethodGet, "/group/member/list", (*Sim).groupMemberList},
		{http.MethodPost, "/group/member", (*Sim).groupMemberAdd},
		{http.MethodDelete, "/group/member", (*Sim).groupMemberRemove},
		{http.MethodPost, "/group/member/contact", (*Sim).groupMemberContact},
		{http.MethodPost, "/group/notice", (*Sim).groupNotice},

		{http.MethodGet, "/label/all", (*Sim).labelAll},
		{http.MethodPost, "/label/contact/setlabel", (*Sim).labelSet},
		{http.MethodGet, "/label/contact/labels", (*Sim).labelOfContact},
		{http.MethodPost, "/label/contact/search", (*Sim).labelSearch},
		{http.MethodGet, "/label/contacts", (*Sim).labelContacts},

		{http.MethodPost, "/file/upload", (*Sim).fileUpload},
		{http.MethodPost, "/batchmsg/confirm", (*Sim).batchConfirm},
	}
}

// Handler serves the openAPI under /gnapi/open, and under /gnapi/files
// (and /gnapi/Files) the files the simulator holds: uploads and login QR
// codes. It is safe for concurrent use.
func (s *Sim) Handler() http.Handler { return s.handler }

func (s *Sim) routes() http.Handler {
	table := map[string]map[string]endpoint{}
	for _, rt := range apiRoutes() {
		p := strings.ToLower(rt.path)
		if table[p] == nil {
			table[p] = map[string]endpoint{}
		}
		table[p][rt.method] = rt.handle
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lower := strings.ToLower(r.URL.Path)
		if strings.HasPrefix(lower, "/gnapi/files/") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			s.serveFile(w, r)
			return
		}
		rest, ok := strings.CutPrefix(lower, strings.ToLower(APIPrefix))
		if !ok || rest == "" {
			http.NotFound(w, r)
			return
		}
		if !s.authorized(r) {
			s.log.Warn("request refused: apikey missing or wrong", "path", r.URL.Path)
			writeEnvelope(w, http.StatusUnauthorized, CodeUnauthorized, "apikey is missing or invalid", nil)
			return
		}
		methods := table[strings.TrimRight(rest, "/")]
		if methods == nil {
			http.NotFound(w, r)
			return
		}
		handle := methods[r.Method]
		if handle == nil {
			allowed := make([]string, 0, len(methods))
			for m := range methods {
				allowed = append(allowed, m)
			}
			slices.Sort(allowed)
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeEnvelope(w, http.StatusMethodNotAllowed, http.StatusMethodNotAllowed,
				fmt.Sprintf("method %s is not allowed; use %s", r.Method, strings.Join(allowed, " or ")), nil)
			return
		}
		s.serve(w, r, handle)
	})
}

func (s *Sim) authorized(r *http.Request) bool {
	if s.opts.APIKey == "" {
		return true
	}
	got := r.Header.Get("apikey")
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.APIKey)) == 1
}

func (s *Sim) serve(w http.ResponseWriter, r *http.Request, handle endpoint) {
	var f fields
	var err error
	if isMultipart(r) {
		f, err = readUpload(w, r)
	} else {
		f, err = readFields(r)
	}
	var data any
	if err == nil {
		s.mu.Lock()
		data, err = handle(s, &request{http: r, f: f, now: s.now()})
		s.mu.Unlock()
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.Error("request failed", "path", r.URL.Path, "error", err)
			writeEnvelope(w, http.StatusInternalServerError, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", ae.code, "msg", ae.msg)
		status := ae.status
		if status == 0 {
			status = http.StatusOK
		}
		writeEnvelope(w, status, ae.code, ae.msg, nil)
		return
	}
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path)
	writeEnvelope(w, http.StatusOK, CodeOK, "", data)
}

// writeEnvelope answers the vendor's {"msg","code","data"}.
func writeEnvelope(w http.ResponseWriter, status, code int, msg string, data any) {
	body, err := json.Marshal(struct {
		Msg  string `json:"msg"`
		Code int    `json:"code"`
		Data any    `json:"data"`
	}{msg, code, data})
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"msg":"cannot encode the answer","code":500,"data":null}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return strings.HasPrefix(mt, "multipart/")
}

// fields are a request's fields under lower-cased names: the vendor
// matches names without regard to case ("WxId", "wxId" and "Wxid" are one
// field), and its own examples mix them.
type fields map[string]any

// readFields reads the query string and, for methods with a body, the JSON
// object in the body (whose fields win over the query's).
func readFields(r *http.Request) (fields, error) {
	f := fields{}
	for k, vs := range r.URL.Query() {
		name := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(k, "[]"), "]"))
		if i := strings.IndexByte(name, '['); i > 0 { // hostName[0]=a
			name = name[:i]
		}
		var list []string
		if prev, ok := f[name].([]string); ok {
			list = prev
		}
		f[name] = append(list, vs...)
	}
	for k, v := range f {
		if list := v.([]string); len(list) == 1 {
			f[k] = list[0]
		}
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Body == nil {
		return f, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fail(CodeBadRequest, "cannot read the body: %v", err)
	}
	if len(raw) > maxBodyBytes {
		return nil, &apiError{code: http.StatusRequestEntityTooLarge, status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("body over %d bytes", maxBodyBytes)}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return f, nil
	}
	body, err := decodeFields(raw, "the body")
	if err != nil {
		return nil, err
	}
	for k, v := range body {
		f[k] = v
	}
	return f, nil
}

// decodeFields decodes one JSON object (numbers as json.Number) into
// fields; what names what raw is, for the error.
func decodeFields(raw []byte, what string) (fields, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fail(CodeBadRequest, "%s is not valid JSON: %v", what, err)
	}
	if dec.More() {
		return nil, fail(CodeBadRequest, "%s has data after its JSON object", what)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fail(CodeBadRequest, "%s must be a JSON object", what)
	}
	return foldObject(obj)
}

// foldObject lower-cases the names of obj and of the objects inside it. A
// name given twice in different cases is ambiguous and refused.
func foldObject(obj map[string]any) (fields, error) {
	out := make(fields, len(obj))
	spelled := make(map[string]string, len(obj))
	for k, v := range obj {
		name := strings.ToLower(k)
		if prev, dup := spelled[name]; dup {
			pair := []string{prev, k}
			slices.Sort(pair)
			return nil, fail(CodeBadRequest, "field %q is given twice, as %q and %q (names are case-insensitive)", name, pair[0], pair[1])
		}
		spelled[name] = k
		folded, err := foldValue(v)
		if err != nil {
			return nil, err
		}
		out[name] = folded
	}
	return out, nil
}

func foldValue(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		f, err := foldObject(x)
		return map[string]any(f), err
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = foldValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

// str reads a field as text: strings as they are, numbers in decimal,
// booleans as true/false, missing or null as "".
func (f fields) str(name string) string { return text(f[strings.ToLower(name)]) }

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []string:
		return strings.Join(x, ",")
	}
	return ""
}

// need reads a required text field; blank is missing.
func (f fields) need(name string) (string, error) {
	v := f[strings.ToLower(name)]
	switch v.(type) {
	case nil, string, json.Number, bool, []string:
	default:
		return "", fail(CodeBadRequest, "%s must be a string", name)
	}
	s := strings.TrimSpace(text(v))
	if s == "" {
		return "", fail(CodeBadRequest, "%s is required", name)
	}
	return s, nil
}

// list reads a list of ids: a JSON array, or text with the ids separated
// by commas (as memberWxIds is documented), or a repeated query parameter.
func (f fields) list(name string) ([]string, error) {
	var raw []string
	switch x := f[strings.ToLower(name)].(type) {
	case nil:
		return nil, nil
	case []any:
		for _, e := range x {
			s := text(e)
			if s == "" && e != nil {
				return nil, fail(CodeBadRequest, "%s must be a list of strings", name)
			}
			raw = append(raw, s)
		}
	case []string:
		raw = x
	case string, json.Number:
		raw = []string{text(x)}
	default:
		return nil, fail(CodeBadRequest, "%s must be a list of strings", name)
	}
	var out []string
	for _, s := range raw {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out, nil
}

// needList reads a required, non-empty list.
func (f fields) needList(name string) ([]string, error) {
	l, err := f.list(name)
	if err == nil && len(l) == 0 {
		err = fail(CodeBadRequest, "%s is required (a list of ids)", name)
	}
	return l, err
}

// integer reads a whole number given as a number or as digits.
func (f fields) integer(name string) (n int64, present bool, err error) {
	v, ok := f[strings.ToLower(name)]
	if !ok || v == nil {
		return 0, false, nil
	}
	s := strings.TrimSpace(text(v))
	n, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return 0, true, fail(CodeBadRequest, "%s must be a whole number, not %q", name, s)
	}
	return n, true, nil
}

// boolean reads true/false given as a JSON boolean, text or 0/1.
func (f fields) boolean(name string, def bool) (bool, error) {
	v, ok := f[strings.ToLower(name)]
	if !ok || v == nil {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(text(v))) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	case "":
		return def, nil
	}
	return false, fail(CodeBadRequest, "%s must be true or false", name)
}

// objects reads a list of objects (ContactInfos).
func (f fields) objects(name string) ([]fields, error) {
	v, ok := f[strings.ToLower(name)]
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fail(CodeBadRequest, "%s must be a list of objects", name)
	}
	out := make([]fields, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fail(CodeBadRequest, "%s must be a list of objects", name)
		}
		out = append(out, fields(m))
	}
	return out, nil
}

// plain copies the fields for Sent.Args: numbers become int64 or float64.
func (f fields) plain() map[string]any { return simkit.Plain(f) }
