package sim

import (
	"errors"
	"net/http"
	"testing"
)

func TestSay(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	s := newSim(t, rcv, Options{})
	in := seedOnline(t, s)
	if err := s.Say(ctxFor(t), Incoming{GUID: in.GUID, From: "1688857160788209", Text: "ping"}); err != nil {
		t.Fatal(err)
	}
	cb := rcv.next(t)
	items, _ := cb.Data.([]any)
	if cb.NotifyType != NotifyBatchSync || cb.GUID != in.GUID || len(items) != 1 {
		t.Fatalf("callback %+v", cb)
	}
	item := items[0].(map[string]any)
	if item["send_flag"] != 0.0 || item["sender"] != "1688857160788209" || item["receiver"] != me ||
		item["roomid"] != "0" || item["sender_name"] != "李四" || item["content"] != "ping" {
		t.Errorf("private item %v", item)
	}

	err := s.Say(ctxFor(t), Incoming{GUID: in.GUID, From: "7881302555910001", FromName: "张三", ConversationID: "R:13102691282047519",
		Text: "@郝永平 开会", AtList: []string{me}, NotifyType: NotifyNewMsg})
	if err != nil {
		t.Fatal(err)
	}
	cb = rcv.next(t)
	d := dataOf(cb)
	if cb.NotifyType != NotifyNewMsg || d["roomid"] != "13102691282047519" || d["receiver"] != "0" || d["sender_name"] != "张三" {
		t.Errorf("room message %+v", cb)
	}
	if at, _ := d["at_list"].([]any); len(at) != 1 || at[0] != me {
		t.Errorf("at_list %v", d["at_list"])
	}

	if err := s.AddContact(in.GUID, Contact{UserID: "7881300000000042", Name: "新朋友"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Say(ctxFor(t), Incoming{GUID: in.GUID, From: "7881300000000042", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	rcv.next(t)
	got, _ := s.Instance(in.GUID)
	if got.Sessions[len(got.Sessions)-1] != "S:7881300000000042" {
		t.Errorf("a new contact's conversation is not on the session list: %v", got.Sessions)
	}

	running, _ := s.Seed(Instance{})
	for name, tc := range map[string]struct {
		m  Incoming
		is error
	}{
		"unknown instance":   {Incoming{GUID: "x", From: "1"}, ErrUnknownInstance},
		"not online":         {Incoming{GUID: running.GUID, From: "1"}, ErrState},
		"no sender":          {Incoming{GUID: in.GUID}, ErrInvalid},
		"from itself":        {Incoming{GUID: in.GUID, From: me}, ErrInvalid},
		"not a contact":      {Incoming{GUID: in.GUID, From: "999"}, ErrUnknownContact},
		"unknown room":       {Incoming{GUID: in.GUID, From: "1", ConversationID: "R:1"}, ErrUnknownRoom},
		"not a member":       {Incoming{GUID: in.GUID, From: "999", ConversationID: "R:13102691282047519"}, ErrInvalid},
		"bad conversation":   {Incoming{GUID: in.GUID, From: "1688857160788209", ConversationID: "1"}, ErrInvalid},
		"other private chat": {Incoming{GUID: in.GUID, From: "1688857160788209", ConversationID: "S:2"}, ErrInvalid},
		"bad notify type":    {Incoming{GUID: in.GUID, From: "1688857160788209", NotifyType: 11002}, ErrInvalid},
	} {
		if err := s.Say(ctxFor(t), tc.m); !errors.Is(err, tc.is) {
			t.Errorf("%s: %v, want %v", name, err, tc.is)
		}
	}
}

func TestPostCallback(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	s := newSim(t, rcv, Options{})
	in := seedOnline(t, s)
	if err := s.PostCallback(ctxFor(t), in.GUID, 2131, map[string]any{"user_id": "7881"}); err != nil {
		t.Fatal(err)
	}
	if cb := rcv.next(t); cb.NotifyType != 2131 || dataOf(cb)["user_id"] != "7881" {
		t.Errorf("callback %+v", cb)
	}
	if err := s.PostCallback(ctxFor(t), "nope", 2131, nil); !errors.Is(err, ErrUnknownInstance) {
		t.Errorf("unknown instance: %v", err)
	}
	if err := s.PostCallback(ctxFor(t), in.GUID, 0, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("notify type 0: %v", err)
	}
}

func TestCallbackDelivery(t *testing.T) {
	t.Parallel()
	t.Run("retried after 5xx", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t, http.StatusServiceUnavailable, http.StatusInternalServerError)
		s := newSim(t, rcv, Options{})
		in := seedOnline(t, s)
		if err := s.PostCallback(ctxFor(t), in.GUID, 11001, map[string]any{}); err != nil {
			t.Fatal(err)
		}
		cbs := s.Callbacks()
		if len(cbs) != 1 || cbs[0].Attempts != 3 || !cbs[0].Delivered {
			t.Errorf("record %+v", cbs)
		}
		if st := s.CallbackStats(); st.Delivered != 1 || st.Failed != 0 || st.Queued != 0 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("4xx is final", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t, http.StatusBadRequest)
		s := newSim(t, rcv, Options{})
		in := seedOnline(t, s)
		err := s.PostCallback(ctxFor(t), in.GUID, 11001, map[string]any{})
		if !errors.Is(err, ErrCallback) {
			t.Fatalf("error %v, want ErrCallback", err)
		}
		if cbs := s.Callbacks(); cbs[0].Attempts != 1 || cbs[0].Err == "" {
			t.Errorf("record %+v", cbs[0])
		}
		if st := s.CallbackStats(); st.Failed != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("gives up after the retries", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t, 500, 500, 500)
		s := newSim(t, rcv, Options{CallbackRetries: 2})
		in := seedOnline(t, s)
		if err := s.PostCallback(ctxFor(t), in.GUID, 11001, nil); !errors.Is(err, ErrCallback) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("without a url callbacks are recorded", func(t *testing.T) {
		t.Parallel()
		s := newSim(t, nil, Options{})
		in := seedOnline(t, s)
		if err := s.PostCallback(ctxFor(t), in.GUID, 11001, nil); err != nil {
			t.Fatal(err)
		}
		if cbs := s.Callbacks(); len(cbs) != 1 || cbs[0].URL != "" || cbs[0].Attempts != 0 {
			t.Errorf("record %+v", cbs)
		}
	})
	t.Run("closed", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t)
		s := newSim(t, rcv, Options{})
		in := seedOnline(t, s)
		s.Close()
		s.Close()
		if err := s.PostCallback(ctxFor(t), in.GUID, 11001, nil); !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
		if a := post(t, s, "/client/get_client_status", map[string]any{"guid": in.GUID}); a.code() != 0 {
			t.Errorf("the API stops answering after Close: %d", a.code())
		}
	})
}

func TestReset(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil, Options{SendInterval: -1})
	in := seedOnline(t, s)
	ok(t, s, "/msg/send_text", map[string]any{"guid": in.GUID, "conversation_id": "S:1688857160788209", "content": "x"})
	s.Reset()
	if len(s.Instances()) != 0 || len(s.Sent()) != 0 || len(s.Callbacks()) != 0 || s.Violations() != 0 {
		t.Errorf("after Reset: %d instances, %d sends, %d callbacks", len(s.Instances()), len(s.Sent()), len(s.Callbacks()))
	}
	if _, err := s.Seed(Instance{GUID: in.GUID}); err != nil {
		t.Errorf("the guid is free again after Reset: %v", err)
	}
}
