package msgserver_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings/msgserver"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// FuzzNormalizeMessage feeds NormalizeMessage the archived messages of the
// golden files (testdata/messages/*.txt: a "staff:" line, the message,
// then "----------" and the expected event) and what the fuzzer makes of
// them. It must not panic; an error must wrap event.ErrMalformed; an event
// must be a message of vendor msgserver with an id, the staff member as
// its account and the raw message; the same input must give the same id.
func FuzzNormalizeMessage(f *testing.F) {
	dir := filepath.Join("testdata", "messages")
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		head, _, _ := bytes.Cut(b, []byte("\n----------\n"))
		staffLine, msg, _ := bytes.Cut(head, []byte("\n"))
		f.Add(string(bytes.TrimSpace(bytes.TrimPrefix(staffLine, []byte("staff:")))), bytes.TrimSpace(msg))
	}
	for _, s := range []string{"", "null", "[]", "{}", `{"msgid":"x"}`, `{"msgid":"x","from":"a"} {}`, `{"msgid":1,"from":[]}`} {
		f.Add("staff1", []byte(s))
	}
	f.Fuzz(func(t *testing.T, staff string, raw []byte) {
		if staff == "" {
			staff = "staff1"
		}
		ev, err := msgserver.NormalizeMessage(raw, staff)
		if err != nil {
			if !errors.Is(err, event.ErrMalformed) && !errors.Is(err, msgserver.ErrNoStaff) {
				t.Fatalf("error %v wraps neither event.ErrMalformed nor ErrNoStaff", err)
			}
			return
		}
		if ev.ID == "" || ev.Type != event.TypeMessage || ev.Vendor != "msgserver" || ev.Account != staff {
			t.Fatalf("event %+v: want a msgserver message with an id, account %q", ev, staff)
		}
		if !json.Valid(ev.Raw) {
			t.Fatalf("raw %q is not JSON", ev.Raw)
		}
		again, err := msgserver.NormalizeMessage(raw, staff)
		if err != nil || again.ID != ev.ID {
			t.Fatalf("second run: %v, id %q then %q", err, ev.ID, again.ID)
		}
	})
}
