package event

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	text := &Event{Type: TypeMessage, Message: &Message{Kind: KindText}}
	img := &Event{Type: TypeMessage, Message: &Message{Kind: KindImage}}
	room := &Event{Type: TypeRoomMemberAdded}
	sys := &Event{Type: TypeSystemReady}
	cases := []struct {
		pattern string
		ev      *Event
		want    bool
	}{
		{"*", text, true},
		{"message", text, true},
		{"message", img, true},
		{"message.text", text, true},
		{"message.text", img, false},
		{"message.*", img, true},
		{"room.*", room, true},
		{"room.*", text, false},
		{"room", room, true},
		{"room.member_added", room, true},
		{"room.member", room, false},
		{"system.*", sys, true},
		{"mess", text, false},
	}
	for _, c := range cases {
		if got := Match(c.pattern, c.ev); got != c.want {
			t.Errorf("Match(%q, %s) = %v, want %v", c.pattern, c.ev.Topic(), got, c.want)
		}
	}
}

func TestValidPattern(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"*": true, "message.text": true, "room.*": true, "": false,
		"room.": false, "*.text": false, "ro*m": false, "a..b": false,
	} {
		if got := ValidPattern(p); got != want {
			t.Errorf("ValidPattern(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestDecodeObject(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "nope", "[1,2]", `"s"`, `{"a":1} {"b":2}`, `{"a":`} {
		if _, err := DecodeObject([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeObject(%q) error = %v, want ErrMalformed", bad, err)
		}
	}
	m, err := DecodeObject([]byte(`{"send_time":"1686708146","n":1686708431,"f":1.5,"b":true,"l":["1",2]}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := Int(m, "send_time"); !ok || v != 1686708146 {
		t.Errorf("Int(string) = %d %v", v, ok)
	}
	if v, ok := Int(m, "n"); !ok || v != 1686708431 {
		t.Errorf("Int(number) = %d %v", v, ok)
	}
	if Str(m, "n") != "1686708431" || Str(m, "b") != "true" || Str(m, "missing") != "" {
		t.Errorf("Str conversions wrong: %q %q", Str(m, "n"), Str(m, "b"))
	}
	if got := Strs(m, "l"); len(got) != 2 || got[1] != "2" {
		t.Errorf("Strs = %v", got)
	}
}

func TestEventJSONFieldNames(t *testing.T) {
	t.Parallel()
	ev := &Event{ID: "x", Type: TypeMessage, Vendor: VendorQuntool, Account: "a", Time: 1, Received: 2,
		Conversation: &Conversation{ID: "S:1_2", Kind: ConversationPrivate},
		Message:      &Message{ID: "m", Kind: KindText, Text: "hi", From: &Party{ID: "1", Name: "n"}, Self: true},
		Raw:          json.RawMessage(`{}`), Seq: 9}
	b, _ := json.Marshal(ev)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"id", "type", "vendor", "account", "time", "received", "conversation", "message", "raw"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %q missing from %s", k, b)
		}
	}
	if _, ok := m["Seq"]; ok {
		t.Errorf("Seq leaked into JSON: %s", b)
	}
	if ev.OrderKey() != "quntool|a|S:1_2" {
		t.Errorf("OrderKey = %q", ev.OrderKey())
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	if StableID("quntool", "", "") != "" {
		t.Error("StableID with no parts should be empty")
	}
	if got := StableID("quntool", "w", "", "text_msg", "m1"); got != "quntool:w:text_msg:m1" {
		t.Errorf("StableID = %q", got)
	}
	a, b := HashID("wework", []byte("a")), HashID("wework", []byte("b"))
	if a == b || a != HashID("wework", []byte("a")) {
		t.Error("HashID not stable or not distinct")
	}
	if Millis(1686708146) != 1686708146000 || Millis(1686708147954) != 1686708147954 {
		t.Error("Millis")
	}
}
