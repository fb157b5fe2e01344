package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// echo answers every received text with "echo: " and it, as a plugin
// would, until ctx ends.
func echo(ctx context.Context, s *Sim, rcv *receiver) {
	for {
		select {
		case cb := <-rcv.bodies:
			<-rcv.paths
			items, _ := cb.Data.([]any)
			for _, it := range items {
				m := it.(map[string]any)
				if m["send_flag"] != 0.0 {
					continue
				}
				conv := "S:" + m["sender"].(string)
				if room := m["roomid"].(string); room != "0" {
					conv = "R:" + room
				}
				sendRaw(s, cb.GUID, conv, "echo: "+m["content"].(string))
			}
		case <-ctx.Done():
			return
		}
	}
}

// sendRaw sends a text through the handler from any goroutine.
func sendRaw(s *Sim, guid, conv, text string) {
	body, _ := json.Marshal(map[string]any{"guid": guid, "conversation_id": conv, "content": text})
	s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/msg/send_text", bytes.NewReader(body)))
}

func TestPlay(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	s := newSim(t, rcv, Options{SendInterval: -1})
	in := seedOnline(t, s)
	ctx, cancel := context.WithCancel(ctxFor(t))
	defer cancel()
	go echo(ctx, s, rcv)
	err := s.Play(ctxFor(t), []Step{
		{Say: &Incoming{GUID: in.GUID, From: "1688857160788209", Text: "ping"}},
		{Expect: &Expect{GUID: in.GUID, ConversationID: "S:1688857160788209", Kind: "text", Contains: "echo: ping"}},
		{Wait: time.Millisecond, Say: &Incoming{GUID: in.GUID, From: "7881302555910001", ConversationID: "R:13102691282047519", Text: "hi"}},
		{Expect: &Expect{ConversationID: "R:13102691282047519", Contains: "echo: hi"}},
		{Post: &Post{GUID: in.GUID, NotifyType: 11001, Data: map[string]any{}}},
		{Wait: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Sent()); n != 2 {
		t.Errorf("%d sends", n)
	}
}

func TestPlayErrors(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil, Options{SendInterval: -1})
	in := seedOnline(t, s)
	for name, script := range map[string][]Step{
		"two actions":   {{Say: &Incoming{}, Expect: &Expect{}}},
		"empty step":    {{}},
		"negative wait": {{Wait: -1}},
	} {
		if err := s.Play(ctxFor(t), script); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	ok(t, s, "/msg/send_text", map[string]any{"guid": in.GUID, "conversation_id": "S:1688857160788209", "content": "before"})
	err := s.Play(ctxFor(t), []Step{{Expect: &Expect{Contains: "before", Timeout: 30 * time.Millisecond}}})
	var ee *ExpectError
	if !errors.As(err, &ee) || !errors.Is(err, ErrExpectTimeout) || ee.Step != 0 {
		t.Fatalf("a send made before Play meets an expectation: %v", err)
	}
	go sendRaw(s, in.GUID, "S:1688857160788209", "other")
	err = s.Play(ctxFor(t), []Step{{Expect: &Expect{Kind: "room_at", Timeout: 100 * time.Millisecond}}})
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), `kind "room_at"`) || (len(ee.Seen) == 1 && ee.Seen[0].Content != "other") {
		t.Errorf("error %v", err)
	}
	if err := s.Play(ctxFor(t), []Step{{Say: &Incoming{GUID: "nope", From: "1"}}}); !errors.Is(err, ErrUnknownInstance) {
		t.Errorf("a failing Say: %v", err)
	}
	ctx, cancel := context.WithCancel(ctxFor(t))
	cancel()
	if err := s.Play(ctx, []Step{{Wait: time.Hour}}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}
