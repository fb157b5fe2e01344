package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestPlay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	guid := f.loggedIn(t)
	// A bot that answers every text with "pong: " and the text.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			var cb map[string]any
			select {
			case cb = <-f.recv.got:
			case <-done:
				return
			}
			d, _ := cb["data"].(map[string]any)
			if num(cb["notify_type"]) != NotifyNewMsg || d == nil {
				continue
			}
			body, _ := json.Marshal(map[string]any{"guid": guid, "to_username": d["from_user_name"], "content": "pong: " + d["content"].(string)})
			resp, err := http.Post(f.srv.URL+"/msg/send_text", "application/json", bytes.NewReader(body))
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	err := f.sim.Play(testContext(t), []Step{
		{Say: &Incoming{GUID: guid, From: "wxid_bob", Text: "one"}},
		{Expect: &Expect{To: "wxid_bob", Kind: "text", Contains: "pong: one"}},
		{Wait: time.Millisecond, Say: &Incoming{GUID: guid, From: "wxid_carol", Text: "two"}},
		{Expect: &Expect{GUID: guid, To: "wxid_carol", Contains: "two"}},
		{Post: &Post{GUID: guid, NotifyType: NotifyContactInfoChange, Data: map[string]any{"user_name": "wxid_bob"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = f.sim.Play(testContext(t), []Step{{Expect: &Expect{Contains: "never", Timeout: 20 * time.Millisecond}}})
	var ee *ExpectError
	if !errors.As(err, &ee) || !errors.Is(err, ErrExpectTimeout) || ee.Step != 0 {
		t.Errorf("unmet expectation: %v", err)
	}
	for _, bad := range [][]Step{{{}}, {{Wait: -1}}, {{Say: &Incoming{}, Expect: &Expect{}}}} {
		if err := f.sim.Play(testContext(t), bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("script %+v: %v", bad, err)
		}
	}
}
