package wework

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
// output: go test ./bindings/wework -run Golden -update
var update = flag.Bool("update", false, "rewrite the expected events of the golden files")

// A golden file, testdata/callbacks/NAME.txt, holds a callback body as the
// vendor sends it, goldenSeparator, and the events Normalize must make of
// it as a JSON array. An event's "raw" is left out of the expected events
// when it is the body byte for byte (the test checks that it is); a raw cut
// down to one item of a list is written out.
const goldenSeparator = "\n----------\n"

// Files named seed_* hold the payloads of the vendor's documents, exactly
// as printed there; the others are built from the documents' field
// descriptions.
const seedPrefix = "seed_"

type golden struct {
	name     string
	path     string
	input    []byte
	expected []byte
}

func goldens(t *testing.T) []golden {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "callbacks", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden files in testdata/callbacks")
	}
	slices.Sort(paths)
	out := make([]golden, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		in, exp, ok := bytes.Cut(b, []byte(goldenSeparator))
		if !ok {
			t.Fatalf("%s: no separator %q", p, strings.TrimSpace(goldenSeparator))
		}
		out = append(out, golden{name: strings.TrimSuffix(filepath.Base(p), ".txt"), path: p, input: in, expected: exp})
	}
	return out
}

// rendered is the events as generic JSON, with "raw" dropped where it is
// the input untouched.
func rendered(t *testing.T, evs []*event.Event, input []byte) []any {
	t.Helper()
	b, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	for i, e := range out {
		if bytes.Equal(evs[i].Raw, input) {
			delete(e.(map[string]any), "raw")
		}
	}
	return out
}

func indent(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNormalizeGolden(t *testing.T) {
	t.Parallel()
	for _, g := range goldens(t) {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			evs, err := Normalize(g.input)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if len(evs) == 0 {
				t.Fatal("no events: a callback must never be dropped")
			}
			for i, ev := range evs {
				if ev.Received != 0 {
					t.Errorf("event %d: received = %d, the journal stamps it", i, ev.Received)
				}
				if ev.ID == "" || ev.Vendor != event.VendorWework || len(ev.Raw) == 0 {
					t.Errorf("event %d: id %q, vendor %q, %d bytes of raw", i, ev.ID, ev.Vendor, len(ev.Raw))
				}
			}
			got := rendered(t, evs, g.input)
			if *update {
				file := string(g.input) + goldenSeparator + indent(t, got) + "\n"
				if err := os.WriteFile(g.path, []byte(file), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			var want []any
			if err := json.Unmarshal(g.expected, &want); err != nil {
				t.Fatalf("expected events are not JSON: %v", err)
			}
			if g, w := indent(t, got), indent(t, want); g != w {
				t.Errorf("events differ (run with -update to accept)\n--- got\n%s\n--- want\n%s", g, w)
			}
		})
	}
}

// TestGoldenCoverage checks that every row of the mapping table, every QR
// code state and every message kind Normalize gives has a golden file.
func TestGoldenCoverage(t *testing.T) {
	t.Parallel()
	types := map[int64]bool{}
	states := map[string]bool{}
	kinds := map[string]bool{}
	for _, g := range goldens(t) {
		root, err := event.DecodeObject(g.input)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if nt, ok := event.Int(root, "notify_type"); ok {
			types[nt] = true
		}
		evs, err := Normalize(g.input)
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		for _, ev := range evs {
			if s, ok := ev.Data["state"].(string); ok {
				states[s] = true
			}
			if ev.Message != nil {
				kinds[ev.Message.Kind] = true
			}
		}
	}
	for _, nt := range NotifyTypes() {
		if !types[nt] {
			t.Errorf("notify type %d (%s) has no golden file", nt, NotifyTypeName(nt))
		}
	}
	for _, s := range []string{"waiting", "scanned", "confirmed", "failed", "refused", "need_verify", "unknown"} {
		if !states[s] {
			t.Errorf("QR code state %q has no golden file", s)
		}
	}
	for _, k := range []string{event.KindText, event.KindSystem, event.KindUnknown} {
		if !kinds[k] {
			t.Errorf("message kind %q has no golden file", k)
		}
	}
}

// seedDir is where the vendor's documents are. They live outside the
// module; the test that needs them is skipped where they are absent.
func seedDir() string {
	if dir := os.Getenv("SWITCHBOARD_SEEDS"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "..", "shared", "seeds")
}

// seedCallbacks returns every callback payload printed in the documents:
// each JSON object with a guid and a notify_type, as the exact text.
func seedCallbacks(doc string) []string {
	var out []string
	for i := 0; i < len(doc); i++ {
		if doc[i] != '{' {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(doc[i:]))
		var v map[string]any
		if dec.Decode(&v) != nil {
			continue
		}
		if _, ok := v["notify_type"]; !ok {
			continue
		}
		if _, ok := v["guid"]; !ok {
			continue
		}
		end := i + int(dec.InputOffset())
		out = append(out, doc[i:end])
		i = end - 1
	}
	return out
}

// TestGoldenSeedPayloads checks that the seed_* golden inputs are the
// documents' payloads exactly and that none of the payloads is left out.
func TestGoldenSeedPayloads(t *testing.T) {
	t.Parallel()
	docs, _ := filepath.Glob(filepath.Join(seedDir(), "00[01]_*.txt"))
	if len(docs) != 2 {
		t.Skipf("vendor documents 000 and 001 not found in %s (set SWITCHBOARD_SEEDS)", seedDir())
	}
	var payloads []string
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, seedCallbacks(string(b))...)
	}
	if len(payloads) != 2 {
		t.Errorf("found %d callback payloads in the documents, want 2 (11013 in 000, 11002 in 001)", len(payloads))
	}
	used := map[string]bool{}
	for _, g := range goldens(t) {
		if !strings.HasPrefix(g.name, seedPrefix) {
			continue
		}
		if !slices.Contains(payloads, string(g.input)) {
			t.Errorf("%s: input is not a payload of the documents", g.name)
		}
		used[string(g.input)] = true
	}
	for _, p := range payloads {
		if !used[p] {
			t.Errorf("payload %.60q has no seed_ golden file", p)
		}
	}
}

func TestSeedCallbacksExtraction(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"one payload in prose", `see {"guid":"g","notify_type":1,"data":{}} here`, []string{`{"guid":"g","notify_type":1,"data":{}}`}},
		{"not a callback", `{"error_code":0,"data":{"guid":"g"}}`, nil},
		{"python braces", `print(f"{x}") {"guid":"g","notify_type":2}`, []string{`{"guid":"g","notify_type":2}`}},
		{"two payloads", `{"guid":"a","notify_type":1} and {"guid":"b","notify_type":2}`, []string{`{"guid":"a","notify_type":1}`, `{"guid":"b","notify_type":2}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := seedCallbacks(c.doc); !slices.Equal(got, c.want) {
				t.Errorf("seedCallbacks = %q, want %q", got, c.want)
			}
		})
	}
}

func TestNormalizeMalformed(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body string }{
		{"empty", ""},
		{"not json", "notify_type=11013"},
		{"array", `[{"guid":"g","notify_type":11013}]`},
		{"string", `"11013"`},
		{"number", `11013`},
		{"null", `null`},
		{"truncated", `{"guid":"g","notify_type":11013,"data":[{`},
		{"two objects", `{"notify_type":11002} {"notify_type":11003}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			evs, err := Normalize([]byte(c.body))
			if !errors.Is(err, event.ErrMalformed) {
				t.Fatalf("error = %v, want one wrapping event.ErrMalformed", err)
			}
			if evs != nil {
				t.Errorf("events = %v, want none", evs)
			}
			if !strings.HasPrefix(err.Error(), "wework callback: ") {
				t.Errorf("error %q does not say what failed", err)
			}
		})
	}
}

func normalize(t *testing.T, body string) []*event.Event {
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
		name, body     string
		wantAccount    string
		wantNotifyType any
	}{
		{"unmapped notify type", `{"guid":"g1","notify_type":11011,"data":{"x":1}}`, "g1", int64(11011)},
		{"unmapped type with a list", `{"guid":"g1","notify_type":2132,"data":[{"a":1},{"b":2}]}`, "g1", int64(2132)},
		{"notify type as a word", `{"guid":"g1","notify_type":"login","data":{}}`, "g1", "login"},
		{"no notify type", `{"guid":"g2","data":{"status":0}}`, "g2", nil},
		{"empty object", `{}`, "", nil},
		{"message list empty", `{"guid":"g3","notify_type":11013,"data":[]}`, "g3", int64(11013)},
		{"message data a number", `{"guid":"g3","notify_type":11010,"data":5}`, "g3", int64(11010)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			evs := normalize(t, c.body)
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.Type != event.TypeUnknown {
				t.Errorf("type = %q, want unknown", ev.Type)
			}
			if string(ev.Raw) != c.body {
				t.Errorf("raw = %s, want the body untouched", ev.Raw)
			}
			if ev.Account != c.wantAccount {
				t.Errorf("account = %q, want %q", ev.Account, c.wantAccount)
			}
			if got := ev.Data["notify_type"]; got != c.wantNotifyType {
				t.Errorf("data.notify_type = %#v, want %#v", got, c.wantNotifyType)
			}
			if ev.ID != event.HashID(event.VendorWework, []byte(c.body)) {
				t.Errorf("id = %q, want the hash of the body", ev.ID)
			}
		})
	}
}

const batch = `{"guid":"G","notify_type":11013,"data":[
 {"seq":"1","id":"100","sender":"A","receiver":"ME","roomid":"0","sendtime":1753786800,"content_type":2,"content":"a","send_flag":0,"msg_type":2},
 {"seq":"2","id":"101","sender":"ME","receiver":"0","roomid":"R:77","sendtime":1753786801,"content_type":2,"content":"b","send_flag":1,"msg_type":2},
 {"sender":"A","receiver":"ME","roomid":"0","content_type":2,"content":"c"},
 {"sender":"A","receiver":"ME","roomid":"0","content_type":2,"content":"d"}
]}`

func TestNormalizeListItems(t *testing.T) {
	t.Parallel()
	evs := normalize(t, batch)
	if len(evs) != 4 {
		t.Fatalf("%d events, want one per item (4)", len(evs))
	}
	ids := map[string]bool{}
	for i, ev := range evs {
		if ids[ev.ID] {
			t.Errorf("event %d: id %q repeats an earlier item's", i, ev.ID)
		}
		ids[ev.ID] = true
		var raw struct {
			GUID       string            `json:"guid"`
			NotifyType int               `json:"notify_type"`
			Data       []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(ev.Raw, &raw); err != nil {
			t.Fatalf("event %d: raw is not JSON: %v", i, err)
		}
		if raw.GUID != "G" || raw.NotifyType != 11013 || len(raw.Data) != 1 {
			t.Errorf("event %d: raw = %s, want the callback with only its own item", i, ev.Raw)
			continue
		}
		var item map[string]any
		if err := json.Unmarshal(raw.Data[0], &item); err != nil {
			t.Fatal(err)
		}
		if item["content"] != ev.Message.Text {
			t.Errorf("event %d: raw item has content %v, the event's text is %q", i, item["content"], ev.Message.Text)
		}
	}
	wantIDs := []string{"wework:G:11013:100/1", "wework:G:11013:101/2"}
	for i, want := range wantIDs {
		if evs[i].ID != want {
			t.Errorf("event %d: id = %q, want %q", i, evs[i].ID, want)
		}
	}
	for i := 2; i < 4; i++ {
		if !strings.HasPrefix(evs[i].ID, "wework:h:") {
			t.Errorf("event %d without ids: id = %q, want a hash of its raw", i, evs[i].ID)
		}
	}
	if got := evs[1].Conversation; got == nil || got.ID != "R:77" || got.Kind != event.ConversationGroup {
		t.Errorf("room id that already has its prefix: conversation = %+v, want R:77 group", got)
	}
}

// TestStableIDs checks the dedupe keys: the same callback delivered again,
// even re-encoded, gets the same ids; the same message under another notify
// type, in another instance, or another message gets another.
func TestStableIDs(t *testing.T) {
	t.Parallel()
	msg := `{"seq":"14303419","id":"1000127","sender":"S1","receiver":"R1","roomid":"0","sendtime":1753785577,"content_type":2,"content":"x","send_flag":1,"msg_type":2}`
	idOf := func(body string) string {
		t.Helper()
		evs := normalize(t, body)
		if len(evs) != 1 {
			t.Fatalf("%d events, want 1", len(evs))
		}
		return evs[0].ID
	}
	base := idOf(`{"guid":"G","notify_type":11013,"data":[` + msg + `]}`)
	if base != "wework:G:11013:1000127/14303419" {
		t.Errorf("id = %q, want it built from guid, notify type, id and seq", base)
	}
	same := []struct{ name, body string }{
		{"again", `{"guid":"G","notify_type":11013,"data":[` + msg + `]}`},
		{"in another batch", `{"guid":"G","notify_type":11013,"data":[` + msg + `,{"id":"9","seq":"9","content_type":2}]}`},
		{"re-encoded", "{\n  \"data\": [" + strings.ReplaceAll(msg, ",", ", ") + "],\n  \"notify_type\": \"11013\",\n  \"guid\": \"G\"\n}"},
	}
	for _, c := range same {
		if got := normalize(t, c.body)[0].ID; got != base {
			t.Errorf("%s: id = %q, want %q", c.name, got, base)
		}
	}
	other := []struct{ name, body string }{
		{"other notify type", `{"guid":"G","notify_type":11010,"data":` + msg + `}`},
		{"other instance", `{"guid":"H","notify_type":11013,"data":[` + msg + `]}`},
		{"other message", `{"guid":"G","notify_type":11013,"data":[` + strings.Replace(msg, "1000127", "1000128", 1) + `]}`},
	}
	for _, c := range other {
		if got := idOf(c.body); got == base {
			t.Errorf("%s: id %q collides with the original's", c.name, got)
		}
	}
	// Events without vendor ids are keyed by their content.
	qr := `{"guid":"G","notify_type":11002,"data":{"status":1}}`
	if a, b := idOf(qr), idOf(qr); a != b {
		t.Errorf("QR status delivered twice: ids %q and %q", a, b)
	}
	if a, b := idOf(qr), idOf(strings.Replace(qr, `"status":1`, `"status":2`, 1)); a == b {
		t.Errorf("two QR statuses share id %q", a)
	}
}

// TestNumbersAsStrings checks that a callback whose numbers arrive as
// strings normalizes exactly as the one with numbers does.
func TestNumbersAsStrings(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, numbers, strs string }{
		{"message", `{"guid":"G","notify_type":11013,"data":[{"seq":14303419,"id":1000127,"sender":"S","receiver":"R","roomid":0,"sendtime":1753785577,"content_type":2,"content":"x","at_list":[1688,0],"send_flag":1,"msg_type":2}]}`,
			`{"guid":"G","notify_type":"11013","data":[{"seq":"14303419","id":"1000127","sender":"S","receiver":"R","roomid":"0","sendtime":"1753785577","content_type":"2","content":"x","at_list":["1688","0"],"send_flag":"1","msg_type":"2"}]}`},
		{"qr status", `{"guid":"G","notify_type":11002,"data":{"status":10}}`, `{"guid":"G","notify_type":"11002","data":{"status":"10"}}`},
		{"logout", `{"guid":"G","notify_type":11006,"data":{"error_code":-14}}`, `{"guid":"G","notify_type":"11006","data":{"error_code":"-14"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, b := normalize(t, c.numbers), normalize(t, c.strs)
			if len(a) != 1 || len(b) != 1 {
				t.Fatalf("%d and %d events, want 1 each", len(a), len(b))
			}
			if a[0].Type == event.TypeUnknown {
				t.Fatalf("not mapped: %+v", a[0])
			}
			x, y := *a[0], *b[0]
			x.Raw, y.Raw = nil, nil
			if x.ID != y.ID && !strings.HasPrefix(x.ID, "wework:h:") {
				t.Errorf("ids differ: %q and %q", x.ID, y.ID)
			}
			x.ID, y.ID = "", ""
			if g, w := indent(t, y), indent(t, x); g != w {
				t.Errorf("strings give\n%s\nnumbers give\n%s", g, w)
			}
		})
	}
}

func TestQRCodeState(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status int64
		want   string
	}{
		{0, "waiting"}, {1, "scanned"}, {2, "confirmed"}, {3, "failed"}, {4, "refused"},
		{10, "need_verify"}, {5, "unknown"}, {-1, "unknown"}, {11, "unknown"},
	}
	for _, c := range cases {
		if got := QRCodeState(c.status); got != c.want {
			t.Errorf("QRCodeState(%d) = %q, want %q", c.status, got, c.want)
		}
	}
}

func TestMessageKind(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                string
		msgType, content    int64
		hasMsgType, hasCont bool
		want                string
	}{
		{"text by both", 2, 2, true, true, event.KindText},
		{"system by msg_type", 1012, 2, true, true, event.KindSystem},
		{"system by content_type", 2, 2001, true, true, event.KindSystem},
		{"text by content_type alone", 0, 2, false, true, event.KindText},
		{"send endpoint's messagetype 0", 0, 2, true, true, event.KindText},
		{"text by msg_type alone", 2, 0, true, false, event.KindText},
		{"unlisted content type", 2, 101, true, true, event.KindUnknown},
		{"unlisted msg type alone", 7, 0, true, false, event.KindUnknown},
		{"no codes", 0, 0, false, false, event.KindUnknown},
	}
	for _, c := range cases {
		if got := messageKind(c.msgType, c.hasMsgType, c.content, c.hasCont); got != c.want {
			t.Errorf("%s: messageKind = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestNotifyTypesTable(t *testing.T) {
	t.Parallel()
	got := NotifyTypes()
	for _, nt := range []int64{11002, 11003, 11004, 11010, 11013, 2131, 1001} {
		if !slices.Contains(got, nt) {
			t.Errorf("documented notify type %d is not mapped", nt)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("NotifyTypes() = %v, not sorted", got)
	}
	if NotifyTypeName(11013) != "BatchNewMsg" || NotifyTypeName(42) != "" {
		t.Errorf("NotifyTypeName(11013) = %q, NotifyTypeName(42) = %q", NotifyTypeName(11013), NotifyTypeName(42))
	}
}

// TestRecordDecoding covers the base64 fields of the send endpoints'
// message records, with the record of the vendor's document.
func TestRecordDecoding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		decode func(string) string
		in     string
		want   string
	}{
		{"the document's sendername", decodedName, "6YOd5rC45bmz", "郝永平"},
		{"plain name", decodedName, "郝永平", "郝永平"},
		{"base64 of binary", decodedName, "AAEC", "AAEC"},
		{"empty name", decodedName, "", ""},
		{"the document's content", recordText, "ChgIABIUChLmtYvor5XkuIDmnaHmtojmga8=", "测试一条消息"},
		{"plain text", recordText, "测试一条消息", "测试一条消息"},
		{"base64 looking word", recordText, "abcd", "abcd"},
		{"truncated protobuf", recordText, "ChgIABIUChLmtYvor5Xk", "ChgIABIUChLmtYvor5Xk"},
		{"field number zero", recordText, "AgE=", "AgE="},
		{"no text field", recordText, "CAE=", "CAE="},
		{"fixed width fields before the text", recordText, "CQAAAAAAAAAAFQAAAAAaAmhp", "hi"},
	}
	for _, c := range cases {
		if got := c.decode(c.in); got != c.want {
			t.Errorf("%s: decoding %q = %q, want %q", c.name, c.in, got, c.want)
		}
	}
	// A message nested deeper than the walk goes is not read.
	deep := []byte("hi")
	for range maxProtobufDepth + 2 {
		deep = append([]byte{0x0a, byte(len(deep))}, deep...)
	}
	if text, ok := protobufText(deep, 0); ok {
		t.Errorf("protobufText of a message nested %d deep = %q, want none", maxProtobufDepth+2, text)
	}
}

func TestDecodeEnvelope(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		guid       string
		notifyType int64
		numeric    bool
		text       string
	}{
		{"number", `{"guid":"g","notify_type":11013}`, "g", 11013, true, "11013"},
		{"numeric string", `{"guid":"g","notify_type":" 1010 "}`, "g", 1010, true, " 1010 "},
		{"word", `{"guid":"g","notify_type":"login"}`, "g", 0, false, "login"},
		{"absent", `{"data":{}}`, "", 0, false, ""},
		{"guid as a number", `{"guid":42,"notify_type":1}`, "42", 1, true, "1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env, err := DecodeEnvelope([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if env.GUID != c.guid || env.NotifyType != c.notifyType || env.Numeric != c.numeric || env.NotifyText != c.text || string(env.Body) != c.body {
				t.Errorf("envelope %+v, want guid %q, notify type %d (numeric %v, text %q)", env, c.guid, c.notifyType, c.numeric, c.text)
			}
		})
	}
	if _, err := DecodeEnvelope([]byte(`[1]`)); !errors.Is(err, event.ErrMalformed) {
		t.Errorf("a list: error %v, want event.ErrMalformed", err)
	}
}

func TestEnvelopeItems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		each       bool
		// want is, per item, whether it has a data object and its raw
		// ("=" for the body untouched).
		wantData []bool
		wantRaw  []string
	}{
		{"object", `{"guid":"g","data":{"a":1}}`, false, []bool{true}, []string{"="}},
		{"object, each", `{"guid":"g","data":{"a":1}}`, true, []bool{true}, []string{"="}},
		{"list, not each", `{"guid":"g","data":[{"a":1},{"a":2}]}`, false, []bool{false}, []string{"="}},
		{"list of one", `{"guid":"g","data":[{"a":1}]}`, true, []bool{true}, []string{"="}},
		{"list of two", `{"guid":"g","x":[1],"data":[{"a":1}, {"a":2}]}`, true, []bool{true, true},
			[]string{`{"data":[{"a":1}],"guid":"g","x":[1]}`, `{"data":[{"a":2}],"guid":"g","x":[1]}`}},
		{"element not an object", `{"guid":"g","data":[{"a":1},"b"]}`, true, []bool{true, false},
			[]string{`{"data":[{"a":1}],"guid":"g"}`, `{"data":["b"],"guid":"g"}`}},
		{"empty list", `{"guid":"g","data":[]}`, true, []bool{false}, []string{"="}},
		{"no data", `{"guid":"g"}`, true, []bool{false}, []string{"="}},
		{"data a string", `{"guid":"g","data":"x"}`, false, []bool{false}, []string{"="}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env, err := DecodeEnvelope([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			items, err := env.Items(c.each)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != len(c.wantData) {
				t.Fatalf("%d items, want %d", len(items), len(c.wantData))
			}
			for i, it := range items {
				want := c.wantRaw[i]
				if want == "=" {
					want = c.body
				}
				if (it.Data != nil) != c.wantData[i] || string(it.Raw) != want {
					t.Errorf("item %d: data %v, raw %s; want data %v, raw %s", i, it.Data, it.Raw, c.wantData[i], want)
				}
			}
		})
	}
}

func TestEnvelopeEvents(t *testing.T) {
	t.Parallel()
	env, err := DecodeEnvelope([]byte(`{"guid":"g","notify_type":7,"data":[{"a":1},5]}`))
	if err != nil {
		t.Fatal(err)
	}
	var filled []map[string]any
	fill := func(d map[string]any, ev *event.Event) {
		filled = append(filled, d)
		ev.Type = "mapped"
	}
	evs, err := env.Events("v", true, fill)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || len(filled) != 1 || evs[0].Type != "mapped" || evs[1].Type != event.TypeUnknown {
		t.Fatalf("each: %d events (%+v), fill called %d times; want the object mapped and the 5 not", len(evs), evs, len(filled))
	}
	for _, ev := range evs {
		if ev.Vendor != "v" || ev.Account != "g" || ev.Data["notify_type"] != int64(7) || ev.ID != event.HashID("v", ev.Raw) {
			t.Errorf("common fields of %+v", ev)
		}
	}
	filled = nil
	if evs, _ := env.Events("v", false, fill); len(evs) != 1 || len(filled) != 1 || len(filled[0]) != 0 {
		t.Errorf("not each: %d events, fill got %v; want one event filled from an empty object", len(evs), filled)
	}
	if evs, _ := env.Events("v", true, nil); len(evs) != 2 || evs[0].Type != event.TypeUnknown {
		t.Errorf("nil fill: %+v, want every event unmapped", evs)
	}
}

func TestDescribeCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		msgType, contentType int64
		hasMsg, hasContent   bool
		want                 string
	}{
		{2, 101, true, true, "[content_type 101]"},
		{7, 0, true, false, "[msg_type 7]"},
		{0, 0, false, false, "[message]"},
	}
	for _, c := range cases {
		if got := describeCodes(c.msgType, c.hasMsg, c.contentType, c.hasContent); got != c.want {
			t.Errorf("describeCodes(%d, %v, %d, %v) = %q, want %q", c.msgType, c.hasMsg, c.contentType, c.hasContent, got, c.want)
		}
	}
}
