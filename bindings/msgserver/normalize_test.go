package msgserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// update rewrites the expected part of the golden files from the current
// output: go test ./bindings/msgserver -run Golden -update
var update = flag.Bool("update", false, "rewrite golden files from the current output")

// A golden file, testdata/messages/NAME.txt: a "staff: ID" line, one
// archived message as the vendor's document shows it (the seed's examples,
// and for the other documented types a message built from the document's
// attachment table), the separator, and the event NormalizeMessage must
// produce. "raw" is left out of the expected event: it is checked to be
// the input.
const goldenSeparator = "\n----------\n"

func TestNormalizeGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "messages", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	kinds := map[string]bool{}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			in, expected, found := bytes.Cut(b, []byte(goldenSeparator))
			header, input, ok := bytes.Cut(in, []byte("\n"))
			staff, hasStaff := strings.CutPrefix(string(header), "staff: ")
			if !ok || !hasStaff {
				t.Fatalf("%s: first line must be \"staff: ID\"", path)
			}
			input = bytes.TrimSpace(input)
			ev, err := NormalizeMessage(input, staff)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ev.Raw, input) {
				t.Errorf("raw is not the input:\n%s", ev.Raw)
			}
			kinds[ev.Message.Kind] = true
			ev.Raw = nil
			got, err := json.MarshalIndent(ev, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			if *update {
				out := append(append(append([]byte(nil), in...), goldenSeparator...), got...)
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !found {
				t.Fatalf("%s: no separator; run with -update and review the result", path)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(expected)) {
				t.Errorf("event differs from %s:\ngot:\n%s\nwant:\n%s", path, got, expected)
			}
		})
	}
	t.Run("every documented type covered", func(t *testing.T) {
		for _, mt := range MessageTypes {
			if !kinds[messageKinds[mt]] {
				t.Errorf("no golden file for msg_type %s", mt)
			}
		}
	})
}

func TestNormalizeMessageRules(t *testing.T) {
	t.Parallel()
	msg := func(fields string) json.RawMessage {
		return json.RawMessage(`{"ext_corp_id":"c1","msgid":"m1","msg_type":"text","content_text":"hi",` + fields + `}`)
	}
	tests := []struct {
		name         string
		raw          json.RawMessage
		staff        string
		conversation string
		self         bool
		to           string
	}{
		{"sent privately", msg(`"from":"s1","tolist":["p1"]`), "s1", "S:p1_s1", true, "p1"},
		{"received privately", msg(`"from":"p1","tolist":["s1"]`), "s1", "S:p1_s1", false, "s1"},
		{"order of ids does not matter", msg(`"from":"a0","tolist":["s1"]`), "s1", "S:a0_s1", false, "s1"},
		{"group by room", msg(`"from":"p1","tolist":["s1","p2"],"room_id":"r9","session_type":"group"`), "s1", "R:r9", false, "r9"},
		{"group without room uses the session", msg(`"from":"p1","session_type":"group","session_id":"g7"`), "s1", "R:g7", false, "g7"},
		{"peer from a session item", msg(`"from":"s1","tolist":["x"],"peer_ext_id":"p2"`), "s1", "S:p2_s1", true, "x"},
		{"no peer falls back to the session", msg(`"from":"s1","session_id":"sess9"`), "s1", "S:sess9", true, ""},
		{"no peer, no session", msg(`"from":"s1"`), "s1", "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := NormalizeMessage(tt.raw, tt.staff)
			if err != nil {
				t.Fatal(err)
			}
			conv := ""
			if ev.Conversation != nil {
				conv = ev.Conversation.ID
				if ev.Conversation.Kind != event.ConversationKind(conv) {
					t.Errorf("kind %s for %s", ev.Conversation.Kind, conv)
				}
			}
			if conv != tt.conversation || ev.Message.Self != tt.self || ev.Message.To != tt.to {
				t.Errorf("conversation %q self %v to %q, want %q %v %q", conv, ev.Message.Self, ev.Message.To,
					tt.conversation, tt.self, tt.to)
			}
			if ev.ID != "msgserver:c1:"+tt.staff+":message:m1" || ev.Account != tt.staff || ev.Vendor != Name {
				t.Errorf("id %q account %q vendor %q", ev.ID, ev.Account, ev.Vendor)
			}
		})
	}
}

func TestNormalizeMessageIDsDifferPerStaff(t *testing.T) {
	t.Parallel()
	raw := json.RawMessage(`{"ext_corp_id":"c1","msgid":"m1","from":"s1","tolist":["s2"],"msg_type":"text"}`)
	a, errA := NormalizeMessage(raw, "s1")
	b, errB := NormalizeMessage(raw, "s2")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.ID == b.ID {
		t.Errorf("both staff members' copies have id %s", a.ID)
	}
	again, _ := NormalizeMessage(raw, "s1")
	if again.ID != a.ID {
		t.Errorf("id not stable: %s then %s", a.ID, again.ID)
	}
}

func TestNormalizeMessageRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		raw   string
		staff string
		want  error
	}{
		{"no staff", `{"msgid":"m","from":"a"}`, "", ErrNoStaff},
		{"blank staff", `{"msgid":"m","from":"a"}`, "  ", ErrNoStaff},
		{"not json", `{"msgid":`, "s", event.ErrMalformed},
		{"an array", `[{"msgid":"m","from":"a"}]`, "s", event.ErrMalformed},
		{"no msgid", `{"from":"a","msg_type":"text"}`, "s", event.ErrMalformed},
		{"no sender", `{"msgid":"m","msg_type":"text"}`, "s", event.ErrMalformed},
		{"empty", ``, "s", event.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := NormalizeMessage(json.RawMessage(tt.raw), tt.staff)
			if !errors.Is(err, tt.want) || ev != nil {
				t.Fatalf("NormalizeMessage = %v, %v; want %v", ev, err, tt.want)
			}
		})
	}
}
