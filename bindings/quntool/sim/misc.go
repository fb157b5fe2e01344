package sim

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode"
)

// maxUploadBytes bounds a /file/upload file (the vendor's media limits are
// lower: 50 MB videos, 5 MB GIFs).
const maxUploadBytes = 100 << 20

// upload is the file part of a /file/upload form.
type upload struct {
	name, contentType string
	data              []byte
}

// readUpload reads a multipart form before the state is locked: its
// fields under lower-cased names, file parts as *upload.
func readUpload(w http.ResponseWriter, r *http.Request) (fields, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes+1<<20)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apiError{code: http.StatusRequestEntityTooLarge, status: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("upload over %d bytes", maxUploadBytes)}
		}
		return nil, fail(CodeBadRequest, "the body is not a multipart form: %v", err)
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	f := fields{}
	for k, vs := range r.MultipartForm.Value {
		if len(vs) > 0 {
			f[strings.ToLower(k)] = vs[0]
		}
	}
	for k, parts := range r.MultipartForm.File {
		if len(parts) == 0 {
			continue
		}
		part := parts[0]
		if part.Size > maxUploadBytes {
			return nil, &apiError{code: http.StatusRequestEntityTooLarge, status: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("upload over %d bytes", maxUploadBytes)}
		}
		file, err := part.Open()
		if err != nil {
			return nil, fail(CodeBadRequest, "cannot read the uploaded file: %v", err)
		}
		data, err := io.ReadAll(file)
		_ = file.Close()
		if err != nil {
			return nil, fail(CodeBadRequest, "cannot read the uploaded file: %v", err)
		}
		f[strings.ToLower(k)] = &upload{name: part.Filename, contentType: part.Header.Get("Content-Type"), data: data}
	}
	return f, nil
}

// fileUpload keeps the form's file and answers its path on this server.
func (s *Sim) fileUpload(r *request) (any, error) {
	if !isMultipart(r.http) {
		return nil, fail(CodeBadRequest, "upload the file as multipart/form-data, in a part named file")
	}
	up, ok := r.f["file"].(*upload)
	switch {
	case !ok:
		return nil, fail(CodeBadRequest, "file is required: a form-data file part named file")
	case len(up.data) == 0:
		return nil, fail(CodeBadRequest, "the uploaded file is empty")
	}
	name := cleanName(up.name)
	sum := md5.Sum(up.data)
	p := fmt.Sprintf("/gnapi/Files/%s/%s/%s", r.now.In(chinaTime).Format("20060102"), hex.EncodeToString(sum[:]), name)
	ct := up.contentType
	if ct == "" || ct == "application/octet-stream" {
		ct = mime.TypeByExtension(path.Ext(name))
	}
	s.storeFile(&storedFile{path: p, name: name, contentType: ct, data: up.data})
	s.log.Info("file uploaded", "path", p, "bytes", len(up.data))
	return p, nil
}

// cleanName keeps the last element of an uploaded file's name, without
// control characters.
func cleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ReplaceAll(name, `\`, "/"))
	name = path.Base(name)
	if name == "." || name == "/" || name == ".." || name == "" {
		return "file"
	}
	return name
}

// storeFile keeps f for serveFile and sends. s.mu must be held.
func (s *Sim) storeFile(f *storedFile) { s.st.files[strings.ToLower(f.path)] = f }

// serveFile answers a file under /gnapi/files: an upload or a login QR
// code. Paths match without regard to case.
func (s *Sim) serveFile(w http.ResponseWriter, r *http.Request) {
	p, err := url.PathUnescape(r.URL.EscapedPath())
	if err != nil {
		p = r.URL.Path
	}
	s.mu.Lock()
	f := s.st.files[strings.ToLower(p)]
	s.mu.Unlock()
	if f == nil {
		http.NotFound(w, r)
		return
	}
	if f.contentType != "" {
		w.Header().Set("Content-Type", f.contentType)
	}
	http.ServeContent(w, r, f.name, s.now(), bytes.NewReader(f.data))
}

// AddMiniProgram saves a mini program for /miniprogram/list and
// /miniProgram/send and answers its id (the next free one when ID is 0).
func (s *Sim) AddMiniProgram(m MiniProgram) (int64, error) {
	if m.Username == "" || m.AppID == "" || m.Title == "" {
		return 0, fmt.Errorf("add mini program: %w: Username, AppID and Title are required", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := addSaved(&s.st.minis, m, func(m *MiniProgram) *int64 { return &m.ID })
	if err != nil {
		return 0, fmt.Errorf("add mini program: %w", err)
	}
	return id, nil
}

// AddVideoNum saves a Channels video for /videonum/list and /videonum/send
// and answers its id (the next free one when ID is 0).
func (s *Sim) AddVideoNum(v VideoNum) (int64, error) {
	if v.URL == "" {
		return 0, fmt.Errorf("add video: %w: URL is required", ErrInvalid)
	}
	if v.FeedType == 0 {
		v.FeedType = 4
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := addSaved(&s.st.videos, v, func(v *VideoNum) *int64 { return &v.ID })
	if err != nil {
		return 0, fmt.Errorf("add video: %w", err)
	}
	return id, nil
}

// addSaved appends item to list under its own id, or for id 0 one more
// than the largest there; id points at an item's id.
func addSaved[T any](list *[]T, item T, id func(*T) *int64) (int64, error) {
	want := *id(&item)
	if want < 0 {
		return 0, fmt.Errorf("%w: id %d is negative", ErrInvalid, want)
	}
	var top int64
	for i := range *list {
		have := *id(&(*list)[i])
		if have == want {
			return 0, fmt.Errorf("%w: id %d", ErrExists, want)
		}
		top = max(top, have)
	}
	if want == 0 {
		*id(&item) = top + 1
	}
	*list = append(*list, item)
	return *id(&item), nil
}

func (s *Sim) miniProgramList(*request) (any, error) {
	return append([]MiniProgram{}, s.st.minis...), nil
}

func (s *Sim) videoNumList(*request) (any, error) {
	return append([]VideoNum{}, s.st.videos...), nil
}

// PostBatchConfirm posts a batch_msg_confirm callback to account (online):
// the company's admin asks it to send a batch message to customers. It
// stays pending until /batchmsg/confirm.
func (s *Sim) PostBatchConfirm(ctx context.Context, account, title string) error {
	s.mu.Lock()
	a := s.st.accounts.get(account)
	switch {
	case a == nil:
		s.mu.Unlock()
		return fmt.Errorf("post batch confirmation: %w: %q", ErrUnknownAccount, account)
	case !s.st.online(a):
		s.mu.Unlock()
		return fmt.Errorf("post batch confirmation: %w: %s is not online", ErrState, account)
	}
	now := s.now()
	msgID := randomDigits("1107", 14)
	schema := "wxwork://jump?target=jump_to_tool&toolid=10167007&msg_id=" + msgID + "&send_type=0&conversation_type=0"
	card, err := json.Marshal(map[string]any{
		"main_title": map[string]any{"title": title},
		"button_list": []any{map[string]any{"title": "发送", "is_link": true,
			"interaction": map[string]any{"type": 1002, "schema_desc": map[string]any{
				"pc_schema_url": schema, "mobile_schema_url": schema}}}},
	})
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("post batch confirmation: %w", err)
	}
	s.st.batches[a.wxid]++
	d := s.accountCallback(a, "batch_msg_confirm", map[string]any{
		"appinfo":  "KHGSC_" + a.wxid + "_" + msgID + "_n",
		"content":  string(card),
		"sendtime": now.Unix(),
		"title":    title,
	}, "")
	s.mu.Unlock()
	if err := s.cb.Wait(ctx, d); err != nil {
		return fmt.Errorf("post batch confirmation: %w", err)
	}
	return nil
}

// PendingBatches counts account's batch messages not yet confirmed.
func (s *Sim) PendingBatches(account string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.batches[account]
}

// batchConfirm confirms every pending batch message of the account.
func (s *Sim) batchConfirm(r *request) (any, error) {
	a, err := s.account(r, online)
	if err != nil {
		return nil, err
	}
	if n := s.st.batches[a.wxid]; n > 0 {
		s.log.Info("batch messages confirmed", "account", a.wxid, "count", n)
	}
	delete(s.st.batches, a.wxid)
	return nil, nil
}
