package sim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// APIPrefix is where the API is served.
const APIPrefix = "/api/v1"

// maxBody bounds a request body.
const maxBody = 1 << 20

// apiError is an error answer: the vendor's code and message.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return fmt.Sprintf("code %d: %s", e.code, e.msg) }

func fail(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// endpoint answers one API call with its data, from the request's
// parameters, with s.mu held.
type endpoint func(p params) (any, *apiError)

// route is one API endpoint.
type route struct {
	method string
	path   string
	handle func(s *Sim) endpoint
	// badSignature is the code a refused signature gets: the vendor's sync
	// example answers 400, its error table says 401.
	badSignature int
}

func apiRoutes() []route {
	return []route{
		{http.MethodPost, "/chat-msg/sync", func(s *Sim) endpoint { return s.syncEndpoint }, CodeBadRequest},
		{http.MethodGet, "/chat-msg/sessions", func(s *Sim) endpoint { return s.sessions }, CodeUnauthorized},
		{http.MethodGet, "/chat-msg/session-msgs", func(s *Sim) endpoint { return s.sessionMsgs }, CodeUnauthorized},
		{http.MethodGet, "/chat-msg/search", func(s *Sim) endpoint { return s.search }, CodeUnauthorized},
	}
}

// Handler serves the API under /api/v1. It is safe for concurrent use.
func (s *Sim) Handler() http.Handler { return s.handler }

func (s *Sim) routes() http.Handler {
	byPath := map[string]route{}
	for _, r := range apiRoutes() {
		byPath[APIPrefix+r.path] = r
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.URL.Path]++
		s.mu.Unlock()
		rt, ok := byPath[r.URL.Path]
		switch {
		case !ok:
			writeEnvelope(w, fail(CodeNotFound, "接口不存在: %s", r.URL.Path), nil)
		case r.Method != rt.method:
			w.Header().Set("Allow", rt.method)
			writeEnvelope(w, fail(CodeBadRequest, "请求方法错误: %s 需要 %s", r.URL.Path, rt.method), nil)
		default:
			s.serve(w, r, rt)
		}
	})
}

// serve answers one call: closed, rate limit, parameters, signature,
// queued failures, then the endpoint itself.
func (s *Sim) serve(w http.ResponseWriter, r *http.Request, rt route) {
	p, perr := readParams(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	var data any
	err := func() *apiError {
		if s.closed {
			return fail(CodeInternal, "服务已关闭")
		}
		if !s.admit() {
			return fail(CodeTooManyRequests, "请求过于频繁，每秒最多 %d 次", s.opts.RequestsPerSecond)
		}
		if perr != nil {
			return perr
		}
		if !s.verify(p) {
			return fail(rt.badSignature, "签名验证失败")
		}
		if len(s.failures) > 0 {
			f := s.failures[0]
			s.failures = s.failures[1:]
			return fail(f.code, "%s", f.message)
		}
		var e *apiError
		data, e = rt.handle(s)(p)
		return e
	}()
	if err != nil {
		s.log.Debug("refused", "path", r.URL.Path, "code", err.code, "message", err.msg)
	}
	writeEnvelope(w, err, data)
}

// admit counts a request against the per-second limit. Called with s.mu
// held.
func (s *Sim) admit() bool {
	if s.opts.RequestsPerSecond < 0 {
		return true
	}
	now := s.now()
	cut := 0
	for cut < len(s.window) && now.Sub(s.window[cut]) >= time.Second {
		cut++
	}
	s.window = s.window[cut:]
	if len(s.window) >= s.opts.RequestsPerSecond {
		return false
	}
	s.window = append(s.window, now)
	return true
}

// writeEnvelope answers {code, message, data}. The HTTP status follows the
// code: 200 for success, the code itself where it is an HTTP status, 400
// for the vendor's own 1001-1006.
func writeEnvelope(w http.ResponseWriter, err *apiError, data any) {
	status, code, msg := http.StatusOK, CodeOK, "success"
	if err != nil {
		code, msg, data = err.code, err.msg, nil
		status = code
		if code < 400 || code > 599 {
			status = http.StatusBadRequest
		}
	} else if s, ok := data.(syncStarted); ok {
		msg, data = string(s), nil
	}
	b, _ := json.Marshal(map[string]any{"code": code, "message": msg, "data": data})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// syncStarted is the data of a sync: no data, and its own message.
type syncStarted string

// params are a request's parameters: the query of a GET, the JSON body's
// fields otherwise, each as the text that is signed.
type params map[string][]string

// readParams reads the parameters. A POST body must be a JSON object.
func readParams(r *http.Request) (params, *apiError) {
	if r.Method == http.MethodGet {
		return params(r.URL.Query()), nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, fail(CodeBadRequest, "请求体读取失败")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return nil, fail(CodeBadRequest, "请求体不是 JSON 对象")
	}
	p := params{}
	for k, v := range fields {
		switch x := v.(type) {
		case nil:
		case string:
			p[k] = []string{x}
		case json.Number:
			p[k] = []string{x.String()}
		case bool:
			p[k] = []string{strconv.FormatBool(x)}
		default:
			b, _ := json.Marshal(x)
			p[k] = []string{string(b)}
		}
	}
	return p, nil
}

// verify checks the signature: HMAC-SHA256 with the secret over the
// parameters other than signature, sorted by name, joined as
// key=value&key=value in the configured encoding, in hex.
func (s *Sim) verify(p params) bool {
	sig := p.get("signature")
	if sig == "" {
		return false
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		if k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		for _, v := range p[k] {
			if s.opts.Encoding == EncodingURL {
				k, v = url.QueryEscape(k), url.QueryEscape(v)
			}
			pairs = append(pairs, k+"="+v)
		}
	}
	mac := hmac.New(sha256.New, []byte(s.opts.Secret))
	mac.Write([]byte(strings.Join(pairs, "&")))
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(strings.ToLower(sig)))
}

func (p params) get(name string) string {
	if v := p[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// need reads required parameters: a missing or empty one is code 400.
func (p params) need(names ...string) ([]string, *apiError) {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimSpace(p.get(n))
		if out[i] == "" {
			return nil, fail(CodeBadRequest, "缺少参数 %s", n)
		}
	}
	return out, nil
}

// paging reads page (default 1) and page_size (default 20, at most 100);
// anything else is code 1006.
func (p params) paging() (page, size int, err *apiError) {
	page, size = 1, DefaultPageSize
	for _, f := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &page, 0}, {"page_size", &size, MaxPageSize}} {
		v := strings.TrimSpace(p.get(f.name))
		if v == "" {
			continue
		}
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || (f.max > 0 && n > f.max) {
			return 0, 0, fail(CodeInvalidPaging, "分页参数错误: %s=%s", f.name, v)
		}
		*f.dst = n
	}
	return page, size, nil
}

// archiveOf finds staff's archive in corp: 1001 for an unknown corp, 1002
// for an unknown staff member. Called with s.mu held.
func (s *Sim) archiveOf(corpID, staff string) (*corp, *archive, *apiError) {
	c, ok := s.corps[corpID]
	if !ok {
		return nil, nil, fail(CodeInvalidCorp, "企业ID无效: %s", corpID)
	}
	a, ok := c.staff[staff]
	if !ok {
		return nil, nil, fail(CodeInvalidStaff, "员工ID无效: %s", staff)
	}
	return c, a, nil
}

// pageOf cuts one page out of n items: the bounds of page (from 1) of size.
func pageOf(n, page, size int) (from, to int) {
	from = min((page-1)*size, n)
	return from, min(from+size, n)
}
