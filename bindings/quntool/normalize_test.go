package quntool

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// one normalizes body and returns its single event.
func one(t *testing.T, body string) *event.Event {
	t.Helper()
	evs, err := Normalize([]byte(body))
	if err != nil {
		t.Fatalf("Normalize(%.80s): %v", body, err)
	}
	if len(evs) != 1 {
		t.Fatalf("Normalize(%.80s) = %d events, want 1", body, len(evs))
	}
	return evs[0]
}

func goldenInput(t *testing.T, name string) []byte {
	t.Helper()
	return readGolden(t, filepath.Join("testdata", "callbacks", name+".txt")).input
}

func TestNormalizeMalformed(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body string }{
		{"empty", ""},
		{"not json", "type=text_msg"},
		{"array", `[{"type":"text_msg"}]`},
		{"string", `"text_msg"`},
		{"null", `null`},
		{"truncated", `{"type":"text_msg","data":{`},
		{"two objects", `{"type":"a"} {"type":"b"}`},
		{"with comments", `{"type":"text_msg",//comment` + "\n}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			evs, err := Normalize([]byte(c.body))
			if !errors.Is(err, event.ErrMalformed) {
				t.Fatalf("error = %v, want event.ErrMalformed", err)
			}
			if evs != nil {
				t.Errorf("events = %v, want none", evs)
			}
			if !strings.HasPrefix(err.Error(), "quntool callback: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
		})
	}
}

func TestNormalizeUnknownKeptRaw(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body       string
		wantVendorType   string
		wantConversation string
		wantAccount      string
	}{
		{"unmapped type", `{"msgId":"m1","source":"h1","wxid":"w1","timestamp":1686708147954,"type":"revoke_msg","data":{"conversation_id":"R:99","server_id":"7"}}`,
			"revoke_msg", "R:99", "w1"},
		{"room notice of a new kind", `{"msgId":"m2","wxid":"w1","type":"notify_type_room_dismiss","data":{"room_conversation_id":"R:5"}}`,
			"notify_type_room_dismiss", "R:5", "w1"},
		{"no type", `{"msgId":"m3","source":"h2","data":{}}`, "", "", "h2"},
		{"type not a string", `{"msgId":"m4","wxid":"w1","type":{"x":1}}`, "", "", "w1"},
		{"nothing at all", `{}`, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := one(t, c.body)
			if ev.Type != event.TypeUnknown {
				t.Errorf("type = %q, want unknown", ev.Type)
			}
			if string(ev.Raw) != c.body {
				t.Errorf("raw = %s, want the body untouched", ev.Raw)
			}
			if ev.Vendor != Name || ev.Account != c.wantAccount {
				t.Errorf("vendor, account = %q, %q", ev.Vendor, ev.Account)
			}
			if got, _ := ev.Data["vendor_type"].(string); got != c.wantVendorType {
				t.Errorf("data.vendor_type = %q, want %q", got, c.wantVendorType)
			}
			gotConv := ""
			if ev.Conversation != nil {
				gotConv = ev.Conversation.ID
			}
			if gotConv != c.wantConversation {
				t.Errorf("conversation = %q, want %q", gotConv, c.wantConversation)
			}
			if ev.ID == "" {
				t.Error("empty id")
			}
		})
	}
}

func TestNormalizeUnexpectedFieldTypes(t *testing.T) {
	t.Parallel()
	// Fields of types the document never shows must not fail the callback.
	body := `{"msgId":7,"wxid":1688000000000001,"type":"text_msg","sendMsgId":{"a":1},"data":{
		"send_time":{"x":1},"sender":1688000000000001,"receiver":[1],"content":["x"],"at_list":"all",
		"conversation_id":"S:7881000000000002_1688000000000001","server_id":12,"error_code":"-1000999",
		"isOpenApi":"yes","member_list":[1,"x",{"user_id":5}],"future_field":{"deep":[null]}}}`
	ev := one(t, body)
	if ev.Type != event.TypeMessage || ev.Message.Kind != event.KindText {
		t.Fatalf("topic = %s", ev.Topic())
	}
	if ev.Account != "1688000000000001" || !ev.Message.Self || ev.Message.ID != "12" {
		t.Errorf("account %q, self %v, id %q", ev.Account, ev.Message.Self, ev.Message.ID)
	}
	if ev.Conversation.ID != "S:1688000000000001_7881000000000002" {
		t.Errorf("reversed private id not put in order: %q", ev.Conversation.ID)
	}
	if ev.Data["error_code"] != int64(-1000999) {
		t.Errorf("error_code = %#v, want int64 -1000999", ev.Data["error_code"])
	}
	if _, ok := ev.Data["open_api"]; ok {
		t.Error("open_api set from a non-boolean")
	}
	if ev.Time != 0 {
		t.Errorf("time = %d from an object send_time and no timestamp", ev.Time)
	}
	if ev.ID != "quntool:1688000000000001:text_msg:7:12" {
		t.Errorf("id = %q", ev.ID)
	}

	for _, data := range []string{`null`, `"text"`, `[1,2]`, `5`} {
		ev := one(t, `{"msgId":"m","wxid":"w","type":"user_offline","data":`+data+`}`)
		if ev.Type != event.TypeLogout || ev.Data["reason"] != "offline" {
			t.Errorf("data %s: type %q data %v", data, ev.Type, ev.Data)
		}
	}
}

func TestNormalizeSendTime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		sendTime string
		want     int64
	}{
		{"string seconds", `"1686708146"`, 1686708146000},
		{"number seconds", `1686708431`, 1686708431000},
		{"string with spaces", `" 1686708146 "`, 1686708146000},
		{"milliseconds", `1686708146123`, 1686708146123},
		{"not a number falls back to timestamp", `"soon"`, 1686708147954},
		{"zero falls back to timestamp", `0`, 1686708147954},
		{"null falls back to timestamp", `null`, 1686708147954},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := one(t, `{"msgId":"m","wxid":"w","timestamp":1686708147954,"type":"text_msg","data":{"send_time":`+c.sendTime+`,"server_id":"1"}}`)
			if ev.Time != c.want {
				t.Errorf("time = %d, want %d", ev.Time, c.want)
			}
		})
	}
	// A timestamp sent as a string (the document lists it as one).
	if ev := one(t, `{"msgId":"m","wxid":"w","timestamp":"1686725114075","type":"user_offline"}`); ev.Time != 1686725114075 {
		t.Errorf("string timestamp: time = %d", ev.Time)
	}
}

func TestNormalizeIDs(t *testing.T) {
	t.Parallel()
	id := func(body []byte) string { t.Helper(); return one(t, string(body)).ID }

	// The document's examples reuse one msgId for callbacks of different types.
	for _, pair := range [][2]string{{"qrcode_status_msg", "safe_validate"}, {"chat_gray_msg", "batch_msg_confirm"}} {
		a, b := goldenInput(t, pair[0]), goldenInput(t, pair[1])
		var ma, mb map[string]any
		_ = json.Unmarshal(a, &ma)
		_ = json.Unmarshal(b, &mb)
		if ma["msgId"] != mb["msgId"] {
			t.Fatalf("%s and %s no longer share a msgId", pair[0], pair[1])
		}
		if id(a) == id(b) {
			t.Errorf("%s and %s share the id %s", pair[0], pair[1], id(a))
		}
	}

	// A re-delivery is the same callback, however it is formatted.
	text := goldenInput(t, "text_msg.received")
	var m map[string]any
	if err := json.Unmarshal(text, &m); err != nil {
		t.Fatal(err)
	}
	m["timestamp"] = 1686708999999 // delivered again later
	again, _ := json.Marshal(m)
	if id(text) != id(text) || id(text) != id(again) {
		t.Errorf("re-delivery changed the id: %s, %s", id(text), id(again))
	}

	// Every seed payload has its own id.
	seen := map[string]string{}
	for _, path := range goldenFiles(t) {
		ev := one(t, string(readGolden(t, path).input))
		if prev, dup := seen[ev.ID]; dup {
			t.Errorf("%s and %s share the id %s", prev, path, ev.ID)
		}
		seen[ev.ID] = path
	}

	// Without vendor ids: a hash of the body, distinct per body, stable per body.
	a := []byte(`{"wxid":"w","type":"user_offline","timestamp":1}`)
	b := []byte(`{"wxid":"w","type":"user_offline","timestamp":2}`)
	if id(a) != event.HashID(Name, a) || id(a) == id(b) || id(a) != id(a) {
		t.Errorf("hash ids: %s %s", id(a), id(b))
	}
	// A message that has only a server id still gets a stable vendor id.
	if got := id([]byte(`{"wxid":"w","type":"text_msg","data":{"server_id":"42"}}`)); got != "quntool:w:text_msg:42" {
		t.Errorf("server-id only: %s", got)
	}
}

func TestQRCodeState(t *testing.T) {
	t.Parallel()
	want := map[int64]string{
		0: QRWaiting, 1: QRScanned, 2: QRConfirmed, 3: QRFailed, 4: QRRefused, 5: QRScanned,
		6: QRConfirmed, 7: QRFailed, 8: QRRefused, 9: QRConfirmed, 10: QRNeedVerify,
		11: QRUnknown, -1: QRUnknown,
	}
	for code, state := range want {
		if got := QRCodeState(code); got != state {
			t.Errorf("QRCodeState(%d) = %q, want %q", code, got, state)
		}
	}
	cases := []struct {
		name, status, wantState string
		wantStatus              any
	}{
		{"number", `2`, QRConfirmed, int64(2)},
		{"string", `"10"`, QRNeedVerify, int64(10)},
		{"missing", `null`, QRUnknown, nil},
	}
	for _, c := range cases {
		ev := one(t, `{"msgId":"q","source":"host1","wxid":"","type":"qrcode_status_msg","data":{"status":`+c.status+`,"qrcode_key":"K","vid":"1688000000000009"}}`)
		if ev.Data["state"] != c.wantState || ev.Data["status"] != c.wantStatus {
			t.Errorf("%s: state %v status %#v", c.name, ev.Data["state"], ev.Data["status"])
		}
		if ev.Account != "1688000000000009" || ev.Data["hostname"] != "host1" || ev.Data["qrcode_key"] != "K" {
			t.Errorf("%s: account %q data %v", c.name, ev.Account, ev.Data)
		}
	}
}

func TestNormalizeAccount(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body, want string }{
		{"wxid", `{"wxid":"w","source":"s","type":"user_login","data":{"vid":"v"}}`, "w"},
		{"qrcode without wxid uses vid", `{"wxid":"","source":"s","type":"qrcode_status_msg","data":{"vid":"v"}}`, "v"},
		{"then the container", `{"wxid":null,"source":"s","type":"qrcode_status_msg","data":{}}`, "s"},
	}
	for _, c := range cases {
		if got := one(t, c.body).Account; got != c.want {
			t.Errorf("%s: account = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestNormalizeMessageDetails(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, data   string
		wantSelf     bool
		wantMentions []string
		wantText     string
	}{
		{"received", `"sender":"7881","receiver":"w","content":"hi"`, false, nil, "hi"},
		{"sent by the account", `"sender":"w","receiver":"7881","content":"yo"`, true, nil, "yo"},
		{"sent, no sender but a sending user", `"sendUserId":"apps-1","content":"x"`, true, nil, "x"},
		{"mention ids", `"sender":"7881","at_list":["1688a",1688]`, false, []string{"1688a", "1688"}, ""},
		{"mention objects", `"sender":"7881","at_list":[{"user_id":"1688b"},{"id":"c"},{"name":"no id"}]`, false, []string{"1688b", "c"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := one(t, `{"msgId":"m","wxid":"w","type":"text_msg","data":{"conversation_id":"R:1",`+c.data+`}}`)
			if ev.Message.Self != c.wantSelf {
				t.Errorf("self = %v, want %v", ev.Message.Self, c.wantSelf)
			}
			if !reflect.DeepEqual(ev.Message.Mentions, c.wantMentions) {
				t.Errorf("mentions = %#v, want %#v", ev.Message.Mentions, c.wantMentions)
			}
			if ev.Message.Text != c.wantText {
				t.Errorf("text = %q, want %q", ev.Message.Text, c.wantText)
			}
			if ev.Conversation.Kind != event.ConversationGroup {
				t.Errorf("conversation kind = %q", ev.Conversation.Kind)
			}
		})
	}
}

func TestNormalizeRoomRefinements(t *testing.T) {
	t.Parallel()
	const me = "1688000000000001"
	cases := []struct {
		name, typ, data, want string
	}{
		{"someone removed", "notify_type_room_del_member", `"op_user_id":"` + me + `","member_list":[{"user_id":"7881","name":"a"}]`, event.TypeRoomMemberRemoved},
		{"account removed", "notify_type_room_del_member", `"op_user_id":"1688x","member_list":[{"user_id":"` + me + `"}]`, event.TypeRoomRemovedMe},
		{"account added by someone", "notify_type_room_add_member", `"op_user_id":"1688x","member_list":[{"user_id":"` + me + `"}]`, event.TypeRoomJoined},
		{"account adds someone", "notify_type_room_add_member", `"op_user_id":"` + me + `","member_list":[{"user_id":"7881"}]`, event.TypeRoomMemberAdded},
		{"member quits", "notify_type_room_member_quit", `"op_user_id":"7881","op_user_name":"a"`, event.TypeRoomMemberQuit},
		{"account quits", "notify_type_room_member_quit", `"op_user_id":"` + me + `"`, event.TypeRoomLeft},
		{"new room", "notify_type_room_create", `"op_user_id":"` + me + `","member_list":[]`, event.TypeRoomCreated},
		{"renamed", "room_name_changed", `"op_user_id":"7881","room_name":"n"`, event.TypeRoomRenamed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := one(t, `{"msgId":"m","wxid":"`+me+`","type":"`+c.typ+`","data":{"room_conversation_id":"R:55",`+c.data+`}}`)
			if ev.Type != c.want {
				t.Errorf("type = %q, want %q", ev.Type, c.want)
			}
			if ev.Conversation == nil || ev.Conversation.ID != "R:55" || ev.Data["room_id"] != "R:55" {
				t.Errorf("conversation %+v, room_id %v", ev.Conversation, ev.Data["room_id"])
			}
		})
	}
}

// TestNormalizeDataHasPlainValues guards the hosts: every number in Data is
// an int64 or a float64, never a json.Number (which JS would see as a string).
func TestNormalizeDataHasPlainValues(t *testing.T) {
	t.Parallel()
	var check func(path string, v any)
	check = func(path string, v any) {
		switch x := v.(type) {
		case json.Number:
			t.Errorf("%s is a json.Number", path)
		case map[string]any:
			for k, e := range x {
				check(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				check(path+"[]", e)
			}
		}
	}
	for _, path := range goldenFiles(t) {
		ev := one(t, string(readGolden(t, path).input))
		check(filepath.Base(path)+":data", ev.Data)
	}
}

func TestCallbackTypesComplete(t *testing.T) {
	t.Parallel()
	for _, typ := range CallbackTypes() {
		h := callbackTypes[typ]
		if h.fill == nil || h.typ == "" {
			t.Errorf("%s: incomplete mapping %+v", typ, h)
		}
		if (h.typ == event.TypeMessage) != (h.kind != "") {
			t.Errorf("%s: kind %q for type %q", typ, h.kind, h.typ)
		}
	}
}
