package pdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeEventMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"text message", benchEvent},
		{"escapes and unicode", `{"id":"a\"b","type":"message","message":{"kind":"text","text":"line1\nline2\t\u00e9\ud83d\udc4b \\ \/","self":true,"mentions":["x","y"],"from":null},"time":1,"received":2}`},
		{"file and data", `{"id":"f","type":"message","vendor":"wework","message":{"kind":"file","text":"[file]","file":{"url":"https://x/y","name":"y.pdf","size":12345}},"data":{"status":2,"list":[1,{"a":null}]},"raw":[true,false,null,-1.5e3]}`},
		{"no conversation", `{"id":"l","type":"login","conversation":null,"message":null,"data":{},"raw":{}}`},
		{"unknown fields skipped", `{"id":"u","extra":{"deep":[[[]]]},"type":"unknown","time":1700000000000}`},
		{"empty object", `{}`},
		{"white space", " \n{ \"id\" : \"w\" , \"time\" : 5 }\t  "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeEvent([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var want Event
			if err := json.Unmarshal([]byte(tc.in), &want); err != nil {
				t.Fatal(err)
			}
			// encoding/json keeps raw values byte for byte too; compact both.
			for _, p := range []*json.RawMessage{&want.Data, &want.Raw, &got.Data, &got.Raw} {
				if len(*p) > 0 {
					var b bytes.Buffer
					if err := json.Compact(&b, *p); err != nil {
						t.Fatal(err)
					}
					*p = json.RawMessage(b.String())
				}
			}
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("DecodeEvent:\n got %+v\nwant %+v", got, &want)
			}
		})
	}
}

func TestDecodeEventRejectsBadJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `[]`, `{"id":}`, `{"id":"x"`, `{"id":"x"} x`, `{"time":"soon"}`,
		`{"message":{"self":1}}`, `{"id":"a` + "\x01" + `"}`, `{"id":"\q"}`, `{"id":"\u12"}`, `{"raw":tru}`, `{"time":1.5}`} {
		if _, err := DecodeEvent([]byte(in)); !errors.Is(err, errSyntax) {
			t.Errorf("DecodeEvent(%q) = %v, want a syntax error", in, err)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "q\"b\\s/", "ctl\x00\x01\x1f\n\r\t", "é你好👋", "bad\xffutf8", "sep\u2028\u2029", "<html>&"} {
		got := string(appendString(nil, s))
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("appendString(%q) = %s: not JSON: %v", s, got, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("appendString(%q) decodes to %q, want %q", s, back, want)
		}
	}
}

func TestAppendValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"scalars", map[string]any{"b": true, "i": 3, "i64": int64(-4), "u": uint32(5), "s": "x", "n": nil}, `{"b":true,"i":3,"i64":-4,"n":null,"s":"x","u":5}`},
		{"nested and fallback", map[string]any{"m": map[string]any{"z": 1, "a": []int{1, 2}}, "f": 1.5}, `{"f":1.5,"m":{"a":[1,2],"z":1}}`},
		{"raw", json.RawMessage(`{"a":1}`), `{"a":1}`},
		{"nil map", map[string]any(nil), `null`},
	}
	for _, tc := range tests {
		got, err := appendValue(nil, tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	if _, err := appendValue(nil, json.RawMessage(`{bad`)); err == nil {
		t.Errorf("invalid raw JSON accepted")
	}
	if _, err := appendValue(nil, map[string]any{"c": make(chan int)}); err == nil {
		t.Errorf("a channel was encoded")
	}
}

func TestAnswerDecoding(t *testing.T) {
	t.Parallel()
	fields, err := decodeAnswer([]byte(`{"data":{"msgId":"1"},"error":null}   `))
	if err != nil || string(fields.value("data")) != `{"msgId":"1"}` || answerError(fields) != nil {
		t.Fatalf("fields %v, err %v", fields, err)
	}
	fields, err = decodeAnswer([]byte(`{"error":{"vendor":"quntool","code":-7,"message":"busy"}}`))
	if err != nil {
		t.Fatal(err)
	}
	e := answerError(fields)
	if e == nil || e.Vendor != "quntool" || e.Code != -7.0 || e.Message != "busy" || !strings.Contains(e.Error(), "busy") {
		t.Errorf("error = %+v", e)
	}
	if _, err := decodeAnswer([]byte(`{"data":`)); err == nil {
		t.Errorf("truncated answer accepted")
	}
}

func TestActionKind(t *testing.T) {
	t.Parallel()
	img, err := ReplyContent(map[string]any{"image": "u"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		a    Action
		want string
	}{
		{"reply text", ReplyText("hi"), "reply"},
		{"reply content", img, "reply"},
		{"call", Action{Call: &CallRequest{}}, "call"},
		{"kv_set", Action{KVSet: &KVRequest{}}, "kv_set"},
		{"log", Action{Log: &LogRecord{}}, "log"},
		{"none", Action{}, ""},
		{"two", Action{Call: &CallRequest{}, Log: &LogRecord{}}, ""},
	}
	for _, tc := range tests {
		if got := tc.a.Kind(); got != tc.want {
			t.Errorf("%s: Kind() = %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, err := ReplyContent(map[string]any{"x": func() {}}); err == nil {
		t.Errorf("ReplyContent accepted a function")
	}
}

func TestEncodeOutputMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	by := int64(-3)
	img, err := ReplyContent(map[string]any{"image": "https://x/a.png"})
	if err != nil {
		t.Fatal(err)
	}
	actions := []Action{
		ReplyText("hi \"there\"\n"),
		img,
		{Call: &CallRequest{Binding: "quntool", Method: "msg.text", Args: map[string]any{"wxId": "w", "n": 1, "l": []string{"a"}}}},
		{Call: &CallRequest{Binding: "quntool", Method: "contact.list"}},
		{KVSet: &KVRequest{Key: "k", Value: json.RawMessage(`{"a":[1,2]}`), TTL: json.RawMessage(`"1h"`)}},
		{KVDelete: &KVRequest{Key: "gone"}},
		{KVIncr: &KVRequest{Key: "n", By: &by}},
		{Log: &LogRecord{Level: "warn", Msg: "m", Fields: map[string]any{"x": 1.5}}},
		{Log: &LogRecord{Msg: "no fields"}},
	}
	got, err := EncodeOutput(actions)
	if err != nil {
		t.Fatal(err)
	}
	var fromUs, fromStd Output
	if err := json.Unmarshal(got, &fromUs); err != nil {
		t.Fatalf("EncodeOutput wrote invalid JSON %s: %v", got, err)
	}
	std, err := json.Marshal(Output{Actions: actions})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(std, &fromStd); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromUs)
	b, _ := json.Marshal(fromStd)
	if !bytes.Equal(a, b) {
		t.Errorf("EncodeOutput:\n%s\nencoding/json:\n%s", a, b)
	}
	if _, err := EncodeOutput([]Action{{}}); err == nil {
		t.Errorf("an empty action was encoded")
	}
	if _, err := EncodeOutput([]Action{{KVSet: &KVRequest{Key: "k", Value: json.RawMessage(`{bad`)}}}); err == nil {
		t.Errorf("an invalid value was encoded")
	}
}

// TestScannerStringsAtEveryPosition puts a quote, an escape or a control
// character at every position of the eight-byte words the scanner reads
// at once.
func TestScannerStringsAtEveryPosition(t *testing.T) {
	t.Parallel()
	for _, special := range []string{`\"`, `\\`, `\n`, `\u00e9`, "é", "\x01"} {
		for n := 0; n < 20; n++ {
			text := strings.Repeat("a", n) + special + strings.Repeat("b", 20-n)
			in := `{"text":"` + text + `"}`
			var want map[string]string
			wantErr := json.Unmarshal([]byte(in), &want)
			s := newScanner([]byte(in))
			k, ok := s.first()
			got := s.str()
			_, more := s.next()
			err := s.end()
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%q: err %v, encoding/json %v", in, err, wantErr)
			}
			if err == nil && (!ok || k != "text" || more || got != want["text"]) {
				t.Errorf("%q: key %q (%v), value %q, want %q", in, k, ok, got, want["text"])
			}
		}
	}
}

func TestAppendObjectSortsKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
	}{{"one", 1}, {"a few", 5}, {"as many as sorted in place", 8}, {"more", 30}}
	for _, tc := range tests {
		m := map[string]any{}
		for i := 0; i < tc.n; i++ {
			m[string(rune('z'-i%26))+strings.Repeat("k", i/26)] = i
		}
		got, err := appendObject(nil, m)
		want, _ := json.Marshal(m) // encoding/json sorts map keys
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %s (%v), want %s", tc.name, got, err, want)
		}
	}
}

func TestAppendKeyvals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, want string
		keyvals    []any
	}{
		{"none", `{}`, nil},
		{"common types", `{"n":7,"i":-3,"s":"a\"b","b":true}`, []any{"n", int64(7), "i", -3, "s", "a\"b", "b", true}},
		{"map value", `{"m":{"a":"x","z":1}}`, []any{"m", map[string]any{"z": 1, "a": "x"}}},
		{"key not a string", `{"42":"v"}`, []any{42, "v"}},
		{"odd count", `{"k":1,"EXTRA_VALUE_AT_END":"left"}`, []any{"k", 1, "left"}},
		{"unencodable value", `{"f":"(1+2i)"}`, []any{"f", complex(1, 2)}},
	}
	for _, tc := range tests {
		got := string(appendKeyvals([]byte("x"), tc.keyvals))
		if got != "x"+tc.want {
			t.Errorf("%s: %s, want x%s", tc.name, got, tc.want)
		}
		if !json.Valid([]byte(got[1:])) {
			t.Errorf("%s: %s is not JSON", tc.name, got[1:])
		}
	}
}

func TestPadWords(t *testing.T) {
	t.Parallel()
	for n := 0; n < 20; n++ {
		in := strings.Repeat("a", n)
		got := string(padWords([]byte(in)))
		if len(got)%8 != 0 || len(got)-n >= 8 || strings.TrimRight(got, " ") != in {
			t.Errorf("padWords(%d bytes) = %q", n, got)
		}
	}
}

// TestAppendStringEveryLengthAndPosition puts each byte that needs
// escaping, or is not ASCII, at every position of strings of every
// length around the eight-byte words appendString checks at once, after
// a prefix already in the buffer.
func TestAppendStringEveryLengthAndPosition(t *testing.T) {
	t.Parallel()
	for _, special := range []string{"", `"`, `\`, "\n", "\x1f", "é", "\xff", "\u2028"} {
		for n := 0; n < 20; n++ {
			for at := 0; at <= n; at++ {
				s := strings.Repeat("a", at) + special + strings.Repeat("b", n-at)
				got := appendString([]byte("p"), s)
				var back string
				if len(got) == 0 || got[0] != 'p' || json.Unmarshal(got[1:], &back) != nil || back != strings.ToValidUTF8(s, "\ufffd") {
					t.Fatalf("appendString(%q) = %s, which is not p and the JSON string", s, got)
				}
				if special == "" && string(got) != `p"`+s+`"` {
					t.Fatalf("appendString(%q) = %s, want it as it is", s, got)
				}
			}
		}
	}
}
