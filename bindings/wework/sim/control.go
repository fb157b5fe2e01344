package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// DefaultAutoScanDelay is how long after a QR code is issued
// Options.AutoScan scans it, when AutoScanDelay is zero.
const DefaultAutoScanDelay = time.Second

// Control serves the simulator's driving methods over HTTP, for people
// and scripts outside the process (the simulator cluster mounts it beside
// the API). Bodies are JSON with snake_case fields; answers are JSON,
// {"ok": false, "error": "..."} on failure.
//
//	POST /say        {guid, from, from_name, conversation_id, text, at_list, notify_type}  Say
//	POST /scan       {guid, user_id, name, verify, refuse, fail}  ScanQR; answers {status, verify_code}
//	POST /logout     {guid}                                     Logout
//	POST /instances  {guid, user_id, name, contacts: [{user_id, name, no_external_permission}], rooms: [{id, name, owner, members, admins}]}  Seed
//	GET  /instances                                             Instances
//	GET  /sent                                                  Sent
//
// The handler is safe for concurrent use.
func (s *Sim) Control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /say", control(func(ctx context.Context, in struct {
		GUID           string   `json:"guid"`
		From           string   `json:"from"`
		FromName       string   `json:"from_name"`
		ConversationID string   `json:"conversation_id"`
		Text           string   `json:"text"`
		AtList         []string `json:"at_list"`
		NotifyType     int      `json:"notify_type"`
	}) (any, error) {
		return map[string]any{"ok": true}, s.Say(ctx, Incoming{GUID: in.GUID, From: in.From, FromName: in.FromName,
			ConversationID: in.ConversationID, Text: in.Text, AtList: in.AtList, NotifyType: in.NotifyType})
	}))
	mux.HandleFunc("POST /scan", control(func(ctx context.Context, in struct {
		GUID   string `json:"guid"`
		UserID string `json:"user_id"`
		Name   string `json:"name"`
		Verify bool   `json:"verify"`
		Refuse bool   `json:"refuse"`
		Fail   bool   `json:"fail"`
	}) (any, error) {
		login, err := s.ScanQR(ctx, in.GUID, Scan{User: User{UserID: in.UserID, Name: in.Name},
			Verify: in.Verify, Refuse: in.Refuse, Fail: in.Fail})
		return map[string]any{"ok": err == nil, "status": login.Status, "verify_code": login.VerifyCode}, err
	}))
	mux.HandleFunc("POST /logout", control(func(ctx context.Context, in struct {
		GUID string `json:"guid"`
	}) (any, error) {
		return map[string]any{"ok": true}, s.Logout(ctx, in.GUID)
	}))
	mux.HandleFunc("POST /instances", control(func(_ context.Context, in struct {
		GUID     string `json:"guid"`
		UserID   string `json:"user_id"`
		Name     string `json:"name"`
		Contacts []struct {
			UserID               string `json:"user_id"`
			Name                 string `json:"name"`
			NoExternalPermission bool   `json:"no_external_permission"`
		} `json:"contacts"`
		Rooms []struct {
			ID      string   `json:"id"`
			Name    string   `json:"name"`
			Owner   string   `json:"owner"`
			Members []string `json:"members"`
			Admins  []string `json:"admins"`
		} `json:"rooms"`
	}) (any, error) {
		seed := Instance{GUID: in.GUID}
		if in.UserID != "" {
			seed.User = &User{UserID: in.UserID, Name: in.Name}
		}
		for _, c := range in.Contacts {
			seed.Contacts = append(seed.Contacts, Contact{UserID: c.UserID, Name: c.Name, NoExternalPermission: c.NoExternalPermission})
		}
		for _, r := range in.Rooms {
			seed.Rooms = append(seed.Rooms, Room{ID: r.ID, Name: r.Name, Owner: r.Owner, Members: r.Members, Admins: r.Admins})
		}
		return s.Seed(seed)
	}))
	mux.HandleFunc("GET /instances", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Instances())
	})
	mux.HandleFunc("GET /sent", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Sent())
	})
	return mux
}

// control adapts a driving method taking a JSON body of type T.
func control[T any](fn func(ctx context.Context, in T) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in T
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "the body must be a JSON object: " + err.Error()})
			return
		}
		out, err := fn(r.Context(), in)
		if err != nil {
			writeJSON(w, controlStatus(err), map[string]any{"ok": false, "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// controlStatus is the HTTP status of a driving method's error.
func controlStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownInstance), errors.Is(err, ErrUnknownContact), errors.Is(err, ErrUnknownRoom):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrExists), errors.Is(err, ErrState), errors.Is(err, ErrQRExpired):
		return http.StatusConflict
	case errors.Is(err, ErrCallback), errors.Is(err, ErrClosed):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// autoScan scans the QR code of instance guid after the configured delay,
// as Options.AutoScan says, unless the login moved on meanwhile. It runs on
// its own goroutine; its failures are logged.
func (s *Sim) autoScan(guid, key string) {
	scan := *s.opts.AutoScan
	time.AfterFunc(s.opts.AutoScanDelay, func() {
		s.mu.Lock()
		in := s.st.get(guid)
		current := in != nil && in.login != nil && in.login.key == key && in.login.status == QRWaiting
		s.mu.Unlock()
		if !current {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.CallbackTimeout*time.Duration(s.opts.CallbackRetries+2))
		defer cancel()
		login, err := s.ScanQR(ctx, guid, scan)
		if err != nil {
			s.log.Warn("automatic QR scan failed", "guid", guid, "error", err)
			return
		}
		if login.VerifyCode != "" {
			s.log.Info(fmt.Sprintf("automatic QR scan of %s needs the verify code %s", guid, login.VerifyCode))
		}
	})
}
