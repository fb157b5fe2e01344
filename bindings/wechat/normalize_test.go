package wechat

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// update rewrites the expected part of the golden files from the current
// output: go test ./bindings/wechat -run Golden -update
var update = flag.Bool("update", false, "rewrite the expected events of the golden files")

// Each golden file, testdata/callbacks/NOTIFYTYPE_CASE.txt, is a callback
// body, the separator line, and the events Normalize makes of it as a JSON
// array. The vendor's document names its notify and message types without
// giving payloads, so the bodies are built from WeChat's own message
// formats in the vendor's envelope. An event's "raw" is left out of the
// expected events when it is the body byte for byte (checked); a raw cut
// down to one item of a list is written out.
const separator = "\n----------\n"

type goldenFile struct {
	name, path     string
	body, expected []byte
}

func readGoldens(t *testing.T) []goldenFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "callbacks", "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden files in testdata/callbacks (%v)", err)
	}
	slices.Sort(paths)
	files := make([]goldenFile, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		body, expected, ok := bytes.Cut(b, []byte(separator))
		if !ok {
			t.Fatalf("%s lacks the separator line", p)
		}
		files[i] = goldenFile{strings.TrimSuffix(filepath.Base(p), ".txt"), p, body, expected}
	}
	return files
}

// asJSON is v marshalled, decoded back into generic values and indented:
// two values print alike exactly when they are equal as JSON.
func asJSON(t *testing.T, v any) (string, []any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic []any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(generic, "", "  ")
	return string(out), generic
}

func TestNormalizeGolden(t *testing.T) {
	t.Parallel()
	for _, g := range readGoldens(t) {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			evs, err := Normalize(g.body)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if len(evs) == 0 {
				t.Fatal("no events: a callback is never dropped")
			}
			_, generic := asJSON(t, evs)
			for i, ev := range evs {
				if ev.ID == "" || ev.Vendor != event.VendorWechat || ev.Received != 0 {
					t.Errorf("event %d: id %q, vendor %q, received %d", i, ev.ID, ev.Vendor, ev.Received)
				}
				if bytes.Equal(ev.Raw, g.body) {
					delete(generic[i].(map[string]any), "raw")
				}
			}
			got, _ := asJSON(t, generic)
			if *update {
				if err := os.WriteFile(g.path, []byte(string(g.body)+separator+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			var expected []any
			if err := json.Unmarshal(g.expected, &expected); err != nil {
				t.Fatalf("expected events of %s are not JSON: %v", g.path, err)
			}
			if want, _ := asJSON(t, expected); got != want {
				t.Errorf("events differ (-update accepts them)\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestGoldenCoverage checks that every row of the three tables (notify
// types, message types, app types) and every message kind has a golden
// file.
func TestGoldenCoverage(t *testing.T) {
	t.Parallel()
	notify, msgTypes, apps := map[int64]bool{}, map[int64]bool{}, map[int64]bool{}
	kinds, states := map[string]bool{}, map[string]bool{}
	for _, g := range readGoldens(t) {
		root, err := event.DecodeObject(g.body)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if nt, ok := event.Int(root, "notify_type"); ok {
			notify[nt] = true
		}
		items, _ := root["data"].([]any)
		if d, ok := root["data"].(map[string]any); ok {
			items = append(items, d)
		}
		for _, item := range items {
			if d, ok := item.(map[string]any); ok {
				if mt, ok := number(d, "msg_type"); ok {
					msgTypes[mt] = true
				}
			}
		}
		evs, err := Normalize(g.body)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		for _, ev := range evs {
			if at, ok := ev.Data["app_type"].(int64); ok {
				apps[at] = true
			}
			if ev.Message != nil {
				kinds[ev.Message.Kind] = true
			}
			if s, ok := ev.Data["state"].(string); ok {
				states[s] = true
			}
		}
	}
	for _, nt := range NotifyTypes() {
		if !notify[nt] {
			t.Errorf("notify type %d (%s) has no golden file", nt, NotifyTypeName(nt))
		}
	}
	for _, mt := range MessageTypes() {
		if !msgTypes[mt] {
			t.Errorf("message type %d (%s) has no golden file", mt, MessageTypeName(mt))
		}
	}
	for _, at := range AppTypes() {
		if !apps[at] {
			t.Errorf("app message type %d has no golden file", at)
		}
	}
	for _, k := range []string{event.KindText, event.KindImage, event.KindVoice, event.KindVideo, event.KindEmoticon,
		event.KindLocation, event.KindLink, event.KindFile, event.KindMiniProgram, event.KindVideoNum,
		event.KindRedPacket, event.KindRevoke, event.KindSystem, event.KindPersonCard, event.KindUnknown} {
		if !kinds[k] {
			t.Errorf("message kind %q has no golden file", k)
		}
	}
	for _, s := range []string{"waiting", "scanned", "confirmed", "failed", "refused", "need_verify", "unknown"} {
		if !states[s] {
			t.Errorf("login.qrcode state %q has no golden file", s)
		}
	}
}

// TestTablesMatchTheDocument checks the tables against the vendor's lists:
// every notify type 1001–1204 and 2006 and every message type it names.
func TestTablesMatchTheDocument(t *testing.T) {
	t.Parallel()
	wantNotify := []int64{1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1039, 1040, 1041,
		1042, 1043, 1044, 1045, 1046, 1047, 1048, 1200, 1201, 1202, 1203, 1204, 2006}
	if got := NotifyTypes(); !slices.Equal(got, wantNotify) {
		t.Errorf("NotifyTypes() = %v, want %v", got, wantNotify)
	}
	wantMsg := []int64{1, 3, 34, 37, 42, 43, 47, 48, 49, 51, 10000, 10002}
	if got := MessageTypes(); !slices.Equal(got, wantMsg) {
		t.Errorf("MessageTypes() = %v, want %v", got, wantMsg)
	}
	for _, at := range []int64{5, 6, 33, 51, 57} {
		if !slices.Contains(AppTypes(), at) {
			t.Errorf("app type %d of the document is not mapped", at)
		}
	}
	if NotifyTypeName(2006) != "SyncMsgFailed" || MessageTypeName(10002) != "WX_MSG_REVOKE" || NotifyTypeName(1) != "" || MessageTypeName(2) != "" {
		t.Errorf("names: %q %q %q %q", NotifyTypeName(2006), MessageTypeName(10002), NotifyTypeName(1), MessageTypeName(2))
	}
}

func TestNormalizeMalformed(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body string }{
		{"empty", ""},
		{"form encoded", "guid=g&notify_type=1010"},
		{"array", `[{"guid":"g","notify_type":1010}]`},
		{"string", `"1010"`},
		{"null", `null`},
		{"truncated", `{"guid":"g","notify_type":1011,"data":[{"msg_type":1`},
		{"trailing object", `{"notify_type":1001} {"notify_type":1005}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			evs, err := Normalize([]byte(c.body))
			if !errors.Is(err, event.ErrMalformed) {
				t.Fatalf("error = %v, want one wrapping event.ErrMalformed", err)
			}
			if evs != nil || !strings.HasPrefix(err.Error(), "wechat callback: ") {
				t.Errorf("events %v, error %q: want none and an error naming the callback", evs, err)
			}
		})
	}
}

func events(t *testing.T, body string) []*event.Event {
	t.Helper()
	evs, err := Normalize([]byte(body))
	if err != nil {
		t.Fatalf("Normalize(%.80s): %v", body, err)
	}
	return evs
}

func TestNormalizeUnknownKept(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body  string
		notifyType  any
		wantAccount string
	}{
		{"unlisted notify type", `{"guid":"g","notify_type":1049,"data":{"room_id":"1@chatroom"}}`, int64(1049), "g"},
		{"unlisted type with a list", `{"guid":"g","notify_type":3000,"data":[{"a":1},{"b":2}]}`, int64(3000), "g"},
		{"notify type as a word", `{"guid":"g","notify_type":"NewMsg","data":{"msg_type":1}}`, "NewMsg", "g"},
		{"no notify type", `{"guid":"h","data":{"msg_type":1}}`, nil, "h"},
		{"nothing", `{}`, nil, ""},
		{"empty message list", `{"guid":"g","notify_type":1011,"data":[]}`, int64(1011), "g"},
		{"message that is not an object", `{"guid":"g","notify_type":1010,"data":"hello"}`, int64(1010), "g"},
		{"message without data", `{"guid":"g","notify_type":1010}`, int64(1010), "g"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			evs := events(t, c.body)
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.Type != event.TypeUnknown || string(ev.Raw) != c.body || ev.Account != c.wantAccount {
				t.Errorf("type %q, raw %s, account %q: want unknown, the body, %q", ev.Type, ev.Raw, ev.Account, c.wantAccount)
			}
			if ev.Data["notify_type"] != c.notifyType {
				t.Errorf("data.notify_type = %#v, want %#v", ev.Data["notify_type"], c.notifyType)
			}
			if ev.ID != event.HashID(event.VendorWechat, []byte(c.body)) {
				t.Errorf("id %q is not the hash of the body", ev.ID)
			}
		})
	}
}

const batch = `{"guid":"G","notify_type":1011,"data":[
 {"msg_id":1,"new_msg_id":9000000000000000001,"from_user_name":"wxid_a","to_user_name":"wxid_me","msg_type":1,"content":"a","create_time":1762002100},
 {"msg_id":2,"new_msg_id":9000000000000000002,"from_user_name":"9@chatroom","to_user_name":"wxid_me","msg_type":1,"content":"wxid_b:\nb","create_time":1762002101},
 {"from_user_name":"wxid_a","to_user_name":"wxid_me","msg_type":1,"content":"c"},
 {"from_user_name":"wxid_a","to_user_name":"wxid_me","msg_type":1,"content":"d"}
]}`

// TestNormalizeListItems checks a 1011 list: one event per item with
// distinct, exact ids, and room messages read item by item. How Raw is
// cut down to each item is wework.Envelope's and tested there.
func TestNormalizeListItems(t *testing.T) {
	t.Parallel()
	evs := events(t, batch)
	wantIDs := []string{"wechat:G:1011:9000000000000000001/1", "wechat:G:1011:9000000000000000002/2", "", ""}
	if len(evs) != len(wantIDs) {
		t.Fatalf("%d events, want one per item (%d)", len(evs), len(wantIDs))
	}
	seen := map[string]bool{}
	for i, ev := range evs {
		if seen[ev.ID] || (wantIDs[i] != "" && ev.ID != wantIDs[i]) {
			t.Errorf("event %d: id %q, want %q, distinct from the others", i, ev.ID, wantIDs[i])
		}
		seen[ev.ID] = true
		if !bytes.Contains(ev.Raw, []byte(`"content":"`)) || bytes.Count(ev.Raw, []byte(`"msg_type"`)) != 1 {
			t.Errorf("event %d: raw %s does not hold its own item alone", i, ev.Raw)
		}
	}
	if c := evs[1].Conversation; c == nil || c.ID != "R:9@chatroom" || evs[1].Message.From.ID != "wxid_b" || evs[1].Message.Text != "b" {
		t.Errorf("room item: conversation %+v, message %+v", c, evs[1].Message)
	}
}

func TestStableIDs(t *testing.T) {
	t.Parallel()
	msg := `{"msg_id":1040356095,"new_msg_id":7773749793478223190,"from_user_name":"wxid_a","to_user_name":"wxid_me","msg_type":1,"content":"x","create_time":1705043418}`
	id := func(body string) string {
		t.Helper()
		return events(t, body)[0].ID
	}
	base := id(`{"guid":"G","notify_type":1010,"data":` + msg + `}`)
	if base != "wechat:G:1010:7773749793478223190/1040356095" {
		t.Fatalf("id = %q, want guid, notify type, new_msg_id and msg_id", base)
	}
	same := map[string]string{
		"delivered again": `{"guid":"G","notify_type":1010,"data":` + msg + `}`,
		"re-encoded":      "{\n \"notify_type\": \"1010\",\n \"guid\": \"G\",\n \"data\": " + strings.ReplaceAll(msg, ",", ", ") + "\n}",
	}
	for name, body := range same {
		if got := id(body); got != base {
			t.Errorf("%s: id %q, want %q", name, got, base)
		}
	}
	other := map[string]string{
		"in a batch":     `{"guid":"G","notify_type":1011,"data":[` + msg + `]}`,
		"other instance": `{"guid":"H","notify_type":1010,"data":` + msg + `}`,
		"other message":  `{"guid":"G","notify_type":1010,"data":` + strings.Replace(msg, "223190", "223191", 1) + `}`,
	}
	for name, body := range other {
		if got := id(body); got == base {
			t.Errorf("%s: id %q collides", name, got)
		}
	}
	contact := `{"guid":"G","notify_type":1040,"data":{"user_name":"wxid_a"}}`
	if a, b := id(contact), id(strings.Replace(contact, "wxid_a", "wxid_b", 1)); a == b || a != id(contact) {
		t.Errorf("contact notices: ids %q and %q; want stable and distinct", a, b)
	}
}

func TestNumbersAsStrings(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, numbers, strs string }{
		{"message", `{"guid":"G","notify_type":1010,"data":{"msg_id":5,"new_msg_id":7773749793478223190,"from_user_name":"a","to_user_name":"b","msg_type":1,"content":"x","create_time":1762000000}}`,
			`{"guid":"G","notify_type":"1010","data":{"msg_id":"5","new_msg_id":"7773749793478223190","from_user_name":"a","to_user_name":"b","msg_type":"1","content":"x","create_time":"1762000000"}}`},
		{"qr status", `{"guid":"G","notify_type":1002,"data":{"status":1}}`, `{"guid":"G","notify_type":"1002","data":{"status":"1"}}`},
		{"room notice", `{"guid":"G","notify_type":1046,"data":{"room_id":"1@chatroom","member_count":3,"member_list":[{"user_name":"a"}]}}`,
			`{"guid":"G","notify_type":"1046","data":{"room_id":"1@chatroom","member_count":"3","member_list":[{"user_name":"a"}]}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, b := events(t, c.numbers)[0], events(t, c.strs)[0]
			if a.Type == event.TypeUnknown {
				t.Fatalf("not mapped: %+v", a)
			}
			x, y := *a, *b
			x.Raw, y.Raw, x.ID, y.ID = nil, nil, "", ""
			gx, _ := asJSON(t, []any{x})
			gy, _ := asJSON(t, []any{y})
			if gx != gy {
				t.Errorf("strings give\n%s\nnumbers give\n%s", gy, gx)
			}
			if a.Message != nil && a.ID != b.ID {
				t.Errorf("message ids differ: %q, %q", a.ID, b.ID)
			}
		})
	}
}

func TestFieldSpellings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, object string
		names        []string
		want         string
	}{
		{"snake case", `{"from_user_name":"a"}`, []string{"from_user_name"}, "a"},
		{"camel case", `{"FromUserName":"a"}`, []string{"from_user_name"}, "a"},
		{"lower camel", `{"fromUserName":"a"}`, []string{"from_user_name"}, "a"},
		{"wrapped str", `{"from_user_name":{"str":"a"}}`, []string{"from_user_name"}, "a"},
		{"wrapped string", `{"FromUserName":{"string":"a"}}`, []string{"from_user_name"}, "a"},
		{"exact spelling first", `{"FromUserName":"b","from_user_name":"a"}`, []string{"from_user_name"}, "a"},
		{"first name first", `{"to":"b","to_user_name":"a"}`, []string{"to_user_name", "to"}, "a"},
		{"null skipped", `{"from_user_name":null,"from":"b"}`, []string{"from_user_name", "from"}, "b"},
		{"object not unwrapped", `{"from_user_name":{"str":"a","len":1}}`, []string{"from_user_name"}, ""},
		{"number", `{"NewMsgId":7773749793478223190}`, []string{"new_msg_id"}, "7773749793478223190"},
		{"absent", `{"x":"a"}`, []string{"from_user_name"}, ""},
	}
	for _, c := range cases {
		m, err := event.DecodeObject([]byte(c.object))
		if err != nil {
			t.Fatal(err)
		}
		if got := text(m, c.names...); got != c.want {
			t.Errorf("%s: text(%s, %q) = %q, want %q", c.name, c.object, c.names, got, c.want)
		}
	}
}

func TestSplitSender(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, sender, rest string }{
		{"wxid_a:\nhello", "wxid_a", "hello"},
		{"wxid_a:\n<msg><img/></msg>", "wxid_a", "<msg><img/></msg>"},
		{"wxid_a:\nline one:\nline two", "wxid_a", "line one:\nline two"},
		{"hello", "", "hello"},
		{":\nhello", "", ":\nhello"},
		{"note to self: remember:\nthis", "", "note to self: remember:\nthis"},
		{"<sysmsg>a:\nb</sysmsg>", "", "<sysmsg>a:\nb</sysmsg>"},
	}
	for _, c := range cases {
		if s, r := splitSender(c.in); s != c.sender || r != c.rest {
			t.Errorf("splitSender(%q) = %q, %q; want %q, %q", c.in, s, r, c.sender, c.rest)
		}
	}
}

func TestPushName(t *testing.T) {
	t.Parallel()
	cases := map[string]string{"朝夕。 : 在吗": "朝夕。", "a : b : c": "a", "朝夕。在群聊中@了你": "", "": ""}
	for in, want := range cases {
		if got := pushName(in); got != want {
			t.Errorf("pushName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseXML(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, path, want string
		attr                 string
	}{
		{"element text", "<msg><appmsg><title>hi</title></appmsg></msg>", "appmsg/title", "hi", ""},
		{"case of names", "<msg><finderFeed><objectId>7</objectId></finderFeed></msg>", "finderfeed/OBJECTID", "7", ""},
		{"cdata", "<msg><a><![CDATA[x & <y>]]></a></msg>", "a", "x & <y>", ""},
		{"html entity", "<msg><a>a&nbsp;b&amp;c</a></msg>", "a", "a\u00a0b&c", ""},
		{"attribute", `<msg><img length="12"/></msg>`, "img", "12", "length"},
		{"single quoted attribute", "<msg><op id='2'/></msg>", "op", "2", "id"},
		{"declaration first", "<?xml version=\"1.0\"?>\n<msg><a>1</a></msg>", "a", "1", ""},
		{"cut short", "<msg><a>1</a><b>2", "a", "1", ""},
		{"missing path", "<msg><a>1</a></msg>", "b/c", "", ""},
		{"second root ignored", "<msg><a>1</a></msg><msg><b>2</b></msg>", "b", "", ""},
		{"not xml", "hello <b>", "b", "", ""},
		{"garbage", "<<<>>>", "a", "", ""},
	}
	for _, c := range cases {
		n := parseXML(c.in)
		got := n.text(c.path)
		if c.attr != "" {
			got = n.find(c.path).attr(c.attr)
		}
		if got != c.want {
			t.Errorf("%s: read %q from %q = %q, want %q", c.name, c.path, c.in, got, c.want)
		}
	}
	deep := strings.Repeat("<a>", maxXMLDepth+10) + "x"
	n := parseXML(deep)
	depth := 0
	for ; n != nil && len(n.children) > 0; n = n.children[0] {
		depth++
	}
	if depth >= maxXMLDepth {
		t.Errorf("nesting of %d elements built %d levels, want fewer than %d", maxXMLDepth+10, depth, maxXMLDepth)
	}
	if parseXML("plain text") != nil || parseXML("") != nil {
		t.Error("text that is not XML parsed as XML")
	}
}

func TestMessageSelf(t *testing.T) {
	t.Parallel()
	const me, other, room = "wxid_me", "wxid_other", "5@chatroom"
	cases := []struct {
		name             string
		root, data       string // extra JSON fields
		from, to         string
		content          string
		wantSelf         bool
		wantConversation string
	}{
		{"received", "", "", other, me, "hi", false, "S:" + other},
		{"flagged sent", "", `"is_self":true,`, me, other, "hi", true, "S:" + other},
		{"flagged sent as 1", "", `"is_self":1,`, me, other, "hi", true, "S:" + other},
		{"flagged received as a string", "", `"is_self":"0",`, other, me, "hi", false, "S:" + other},
		{"account wxid in the callback", `"wxid":"` + me + `",`, "", me, other, "hi", true, "S:" + other},
		{"account wxid, received", `"wxid":"` + me + `",`, "", other, me, "hi", false, "S:" + other},
		{"account wxid in the message", "", `"self_wxid":"` + me + `",`, me, other, "hi", true, "S:" + other},
		{"written into a room", "", "", me, room, "hi", true, "R:" + room},
		{"received in a room", "", "", room, me, other + ":\nhi", false, "R:" + room},
		{"received in a WeCom room", "", "", "7@im.chatroom", me, other + ":\nhi", false, "R:7@im.chatroom"},
		{"own message echoed by the room", `"wxid":"` + me + `",`, "", room, me, me + ":\nhi", true, "R:" + room},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			content, _ := json.Marshal(c.content)
			body := `{` + c.root + `"guid":"G","notify_type":1010,"data":{` + c.data + `"new_msg_id":1,"msg_type":1,"from_user_name":"` + c.from + `","to_user_name":"` + c.to + `","content":` + string(content) + `}}`
			ev := events(t, body)[0]
			if ev.Message == nil || ev.Conversation == nil {
				t.Fatalf("no message or conversation: %+v", ev)
			}
			if ev.Message.Self != c.wantSelf || ev.Conversation.ID != c.wantConversation || ev.Message.Text != "hi" {
				t.Errorf("self %v, conversation %q, text %q; want %v, %q, \"hi\"", ev.Message.Self, ev.Conversation.ID, ev.Message.Text, c.wantSelf, c.wantConversation)
			}
		})
	}
}

// TestContentNotXML feeds every message type content that is not the XML
// WeChat sends for it: the event keeps its type and kind, with the fields
// it could not read left out.
func TestContentNotXML(t *testing.T) {
	t.Parallel()
	for _, mt := range MessageTypes() {
		for _, content := range []string{"plain words", "<msg><unclosed", "<<<>>>", ""} {
			body, _ := json.Marshal(map[string]any{"guid": "G", "notify_type": 1010, "data": map[string]any{
				"new_msg_id": 1, "msg_type": mt, "from_user_name": "wxid_a", "to_user_name": "wxid_b", "content": content}})
			evs, err := Normalize(body)
			if err != nil || len(evs) != 1 {
				t.Fatalf("type %d, content %q: %d events, %v", mt, content, len(evs), err)
			}
			ev, row := evs[0], messageTypes[mt]
			if ev.Type != row.typ {
				t.Errorf("type %d, content %q: event type %q, want %q", mt, content, ev.Type, row.typ)
			}
			if ev.Message == nil {
				continue
			}
			wantKind := row.kind
			if mt == 49 {
				wantKind = event.KindUnknown
			}
			if ev.Message.Kind != wantKind {
				t.Errorf("type %d, content %q: kind %q, want %q", mt, content, ev.Message.Kind, wantKind)
			}
			if ev.Message.File != nil {
				t.Errorf("type %d, content %q: file %+v from no file", mt, content, ev.Message.File)
			}
		}
	}
	// What plain text can say, it says.
	for mt, want := range map[int64]string{10000: "plain words", 10002: "plain words"} {
		b, _ := json.Marshal(map[string]any{"guid": "G", "notify_type": 1010, "data": map[string]any{"msg_type": mt, "from_user_name": "wxid_a", "content": "plain words"}})
		if got := events(t, string(b))[0].Message.Text; got != want {
			t.Errorf("type %d with plain content: text %q, want %q", mt, got, want)
		}
	}
	b, _ := json.Marshal(map[string]any{"guid": "G", "notify_type": 1010, "data": map[string]any{"msg_type": 37, "from_user_name": "fmessage", "content": "hello"}})
	if ev := events(t, string(b))[0]; ev.Data["message"] != "hello" {
		t.Errorf("friend request with plain content: data %v, want the content as its message", ev.Data)
	}
}

// TestNumbersInContent checks the numeric fields read from message XML:
// numbers become JSON numbers, anything else stays the vendor's string,
// and the event always marshals.
func TestNumbersInContent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, x, y string
		wantX      any
	}{
		{"coordinates", "22.54", "113.93", 22.54},
		{"integer", "22", "113", int64(22)},
		{"not a number", "NaN", "Inf", "NaN"},
		{"infinity", "+Inf", "-Infinity", "+Inf"},
		{"words", "north", "east", "north"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			content := `<msg><location x="` + c.x + `" y="` + c.y + `" label="a" poiname="b"/></msg>`
			b, _ := json.Marshal(map[string]any{"guid": "G", "notify_type": 1010, "data": map[string]any{"new_msg_id": 1, "msg_type": 48, "from_user_name": "wxid_a", "content": content}})
			ev := events(t, string(b))[0]
			loc, _ := ev.Data["location"].(map[string]any)
			if loc["latitude"] != c.wantX {
				t.Errorf("latitude = %#v, want %#v", loc["latitude"], c.wantX)
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Errorf("event does not marshal: %v", err)
			}
		})
	}
}
