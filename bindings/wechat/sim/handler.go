package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
)

// maxBodyBytes bounds a request body.
const maxBodyBytes = 1 << 20

// apiError is an error answer: an envelope with a non-zero code and, when
// status is set, that HTTP status (200 otherwise).
type apiError struct {
	code   int
	msg    string
	status int
	errors []fieldError
}

func (e *apiError) Error() string { return fmt.Sprintf("code %d: %s", e.code, e.msg) }

func fail(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// fieldError is one entry of a validation error's errors list.
type fieldError struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// invalid is the vendor's validation error for one field.
func invalid(field, msg, typ string) *apiError {
	return &apiError{code: CodeValidation, status: http.StatusUnprocessableEntity, msg: "Validation Error",
		errors: []fieldError{{Loc: []string{"body", field}, Msg: msg, Type: typ}}}
}

// request is one API call: its body and the simulator's time when it
// arrived. inst is the instance named by guid, for the endpoints that
// take one.
type request struct {
	f    fields
	now  time.Time
	inst *instance
}

// need says what an endpoint needs of its instance.
type need int

const (
	needInstance  need = iota // exists (stopped or not)
	needRunning               // exists and runs
	needLoggedOut             // runs, no account logged in
	needLoggedIn              // runs, an account logged in
)

// endpoint serves one path. Handlers run with Sim.mu held.
type endpoint struct {
	need   need
	handle func(s *Sim, r *request) (any, error)
}

// routes is every path the simulator implements.
func routes() map[string]endpoint {
	return map[string]endpoint{
		"/client/restore_client":     {needInstance, (*Sim).restoreClient},
		"/client/stop_client":        {needInstance, (*Sim).stopClient},
		"/client/set_notify_url":     {needInstance, (*Sim).setNotifyURL},
		"/client/set_bridge":         {needInstance, (*Sim).setBridge},
		"/client/set_proxy":          {needInstance, (*Sim).setProxy},
		"/client/update_client":      {needInstance, (*Sim).updateClient},
		"/client/get_client_status":  {needInstance, (*Sim).clientStatus},
		"/client/get_client_version": {needInstance, (*Sim).clientVersion},

		"/login/get_login_qrcode":   {needLoggedOut, (*Sim).getLoginQRCode},
		"/login/check_login_qrcode": {needRunning, (*Sim).checkLoginQRCode},
		"/login/push_login_url":     {needLoggedOut, (*Sim).pushLoginURL},
		"/login/verify_login_url":   {needLoggedOut, (*Sim).verifyLoginURL},

		"/user/get_profile": {needLoggedIn, (*Sim).getProfile},
		"/user/get_qrcode":  {needLoggedIn, (*Sim).getUserQRCode},
		"/user/logout":      {needLoggedIn, (*Sim).userLogout},

		"/contact/init_contact":                 {needLoggedIn, (*Sim).initContact},
		"/contact/modify_contact_top_flag":      {needLoggedIn, (*Sim).modifyTopFlag},
		"/contact/get_contact":                  {needLoggedIn, (*Sim).getContact},
		"/contact/batch_get_contact_brief_info": {needLoggedIn, (*Sim).briefInfo},
		"/contact/search_contact":               {needLoggedIn, (*Sim).searchContact},
		"/contact/add_friend":                   {needLoggedIn, (*Sim).addFriend},
		"/contact/verify_friend":                {needLoggedIn, (*Sim).verifyFriend},
		"/contact/modify_remark":                {needLoggedIn, (*Sim).modifyRemark},
		"/contact/del_friend":                   {needLoggedIn, (*Sim).delFriend},
		"/cdn/get_cdn_file":                     {needLoggedIn, (*Sim).getCDNFile},
		"/cdn/get_cdn_info":                     {needLoggedIn, (*Sim).getCDNInfo},
		"/msg/send_text":                        {needLoggedIn, sendEndpoint(kindText)},
		"/msg/send_room_at":                     {needLoggedIn, sendEndpoint(kindRoomAt)},
		"/msg/send_image":                       {needLoggedIn, sendEndpoint(kindImage)},
		"/msg/send_video":                       {needLoggedIn, sendEndpoint(kindVideo)},
		"/msg/send_file":                        {needLoggedIn, sendEndpoint(kindFile)},
		"/msg/send_voice":                       {needLoggedIn, sendEndpoint(kindVoice)},
		"/msg/send_emoji_url":                   {needLoggedIn, sendEndpoint(kindEmoji)},
		"/msg/send_location":                    {needLoggedIn, sendEndpoint(kindLocation)},
		"/msg/send_card":                        {needLoggedIn, sendEndpoint(kindCard)},
		"/msg/send_link_card":                   {needLoggedIn, sendEndpoint(kindLink)},
	}
}

func (s *Sim) routes() http.Handler {
	table := routes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeEnvelope(w, &apiError{code: CodeMethod, status: http.StatusMethodNotAllowed,
				msg: fmt.Sprintf("method %s is not allowed; every endpoint takes POST", r.Method)}, nil)
			return
		}
		f, err := readFields(r)
		var data any
		if err == nil {
			s.mu.Lock()
			data, err = s.serve(table, r.URL.Path, f)
			s.mu.Unlock()
		}
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				s.log.Error("request failed", "path", r.URL.Path, "error", err)
				ae = &apiError{code: http.StatusInternalServerError, status: http.StatusInternalServerError, msg: err.Error()}
			}
			s.log.Debug("request refused", "path", r.URL.Path, "code", ae.code, "message", ae.msg)
			writeEnvelope(w, ae, nil)
			return
		}
		s.log.Debug("request", "path", r.URL.Path)
		writeEnvelope(w, nil, data)
	})
}

// serve answers one request: it finds the route, the instance and its
// limit, then runs the handler. s.mu must be held.
func (s *Sim) serve(table map[string]endpoint, path string, f fields) (any, error) {
	now := s.now()
	ep, known := table[path]
	guid, guidErr := f.need("guid")
	var inst *instance
	if guidErr == nil {
		inst = s.st.instances[guid]
	}
	if !known {
		s.st.unhandled = append(s.st.unhandled, Request{Path: path, GUID: guid, Body: f.plain(), At: now})
		if n := len(s.st.unhandled); n > unhandledRecordLimit {
			s.st.unhandled = slices.Clone(s.st.unhandled[n-unhandledRecordLimit:])
		}
		if inst != nil {
			if err := s.count(inst, now); err != nil {
				return nil, err
			}
		}
		return nil, &apiError{code: CodeNoRoute, status: http.StatusNotFound, msg: "Not Found: " + path}
	}
	if guidErr != nil {
		return nil, guidErr
	}
	if inst == nil {
		return nil, fail(CodeNoInstance, "实例不存在: %s", guid)
	}
	if err := s.count(inst, now); err != nil {
		return nil, err
	}
	switch {
	case ep.need >= needRunning && inst.stopped:
		return nil, fail(CodeStopped, "实例已停止，请先恢复实例")
	case ep.need == needLoggedOut && inst.account != nil:
		return nil, fail(CodeLoggedIn, "实例已登录 %s", inst.account.WxID)
	case ep.need == needLoggedIn && inst.account == nil:
		return nil, fail(CodeNotLoggedIn, "实例未登录")
	}
	return ep.handle(s, &request{f: f, now: now, inst: inst})
}

// count applies the vendor's limit to one call of inst: refused while
// blocked; the call that goes over CallsPerMinute starts a block of
// BlockFor. s.mu must be held.
func (s *Sim) count(inst *instance, now time.Time) error {
	if s.opts.CallsPerMinute < 0 {
		return nil
	}
	if now.Before(inst.blockedUntil) {
		return blocked(inst.blockedUntil)
	}
	cut := 0
	for cut < len(inst.calls) && !inst.calls[cut].After(now.Add(-time.Minute)) {
		cut++
	}
	inst.calls = append(inst.calls[:0], inst.calls[cut:]...)
	if len(inst.calls) >= s.opts.CallsPerMinute {
		inst.blockedUntil = now.Add(s.opts.BlockFor)
		inst.calls = inst.calls[:0]
		s.log.Warn("instance blocked for over-calling", "guid", inst.guid, "until", inst.blockedUntil)
		return blocked(inst.blockedUntil)
	}
	inst.calls = append(inst.calls, now)
	return nil
}

func blocked(until time.Time) error {
	return &apiError{code: CodeBlocked, status: http.StatusTooManyRequests,
		msg: fmt.Sprintf("一分钟内调用次数超过限制，接口已限制调用，%s 解封", until.Format(time.RFC3339))}
}

// writeEnvelope answers {"code", "message", "data"}, or for a validation
// error {"code", "message", "errors"}.
func writeEnvelope(w http.ResponseWriter, e *apiError, data any) {
	status := http.StatusOK
	body := map[string]any{"code": CodeOK, "message": "success", "data": data}
	if e != nil {
		body = map[string]any{"code": e.code, "message": e.msg, "data": nil}
		if e.errors != nil {
			delete(body, "data")
			body["errors"] = e.errors
		}
		if e.status != 0 {
			status = e.status
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"code":500,"message":"cannot encode the answer","data":null}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fields are a request's JSON body, numbers as json.Number.
type fields map[string]any

// readFields reads the JSON object in the body; an empty body is an empty
// object.
func readFields(r *http.Request) (fields, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, &apiError{code: CodeValidation, status: http.StatusUnprocessableEntity, msg: "cannot read the body: " + err.Error()}
	}
	if len(raw) > maxBodyBytes {
		return nil, &apiError{code: http.StatusRequestEntityTooLarge, status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("body over %d bytes", maxBodyBytes)}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return fields{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, invalid("__root__", "the body is not valid JSON", "value_error.jsondecode")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("__root__", "the body must be a JSON object", "type_error.dict")
	}
	return fields(obj), nil
}

// str reads a field as text: strings as they are, numbers in decimal,
// missing or null as "".
func (f fields) str(name string) string {
	switch x := f[name].(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// need reads a required text field; blank is missing.
func (f fields) need(name string) (string, error) {
	switch f[name].(type) {
	case nil, string, json.Number:
	default:
		return "", invalid(name, "str type expected", "type_error.str")
	}
	s := strings.TrimSpace(f.str(name))
	if s == "" {
		return "", invalid(name, "field required", "value_error.missing")
	}
	return s, nil
}

// opt reads an optional text field.
func (f fields) opt(name string) (string, error) {
	if f[name] == nil {
		return "", nil
	}
	return f.need(name)
}

// list reads a required, non-empty list of strings.
func (f fields) list(name string) ([]string, error) {
	raw, ok := f[name].([]any)
	if !ok {
		if f[name] == nil {
			return nil, invalid(name, "field required", "value_error.missing")
		}
		return nil, invalid(name, "value is not a valid list", "type_error.list")
	}
	out := make([]string, 0, len(raw))
	for _, e := range raw {
		s, ok := e.(string)
		if !ok || strings.TrimSpace(s) == "" {
			return nil, invalid(name, "value is not a list of strings", "type_error.str")
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, invalid(name, "ensure this value has at least 1 items", "value_error.list.min_items")
	}
	return out, nil
}

// integer reads an optional whole number given as a number or as digits.
func (f fields) integer(name string, def int64) (int64, error) {
	if f[name] == nil {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(f.str(name)), 10, 64)
	if err != nil {
		return 0, invalid(name, "value is not a valid integer", "type_error.integer")
	}
	return n, nil
}

// float reads a required number given as a number or as decimal text.
func (f fields) float(name string) (float64, error) {
	if f[name] == nil {
		return 0, invalid(name, "field required", "value_error.missing")
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(f.str(name)), 64)
	if err != nil {
		return 0, invalid(name, "value is not a valid float", "type_error.float")
	}
	return n, nil
}

// boolean reads an optional true/false given as a JSON boolean or 0/1.
func (f fields) boolean(name string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(f.str(name))) {
	case "":
		return def, nil
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, invalid(name, "value could not be parsed to a boolean", "type_error.bool")
}

// plain copies the fields with numbers as int64 or float64.
func (f fields) plain() map[string]any { return simkit.Plain(f) }
