// Package eventtest holds test helpers shared by the vendors' callback
// normalizers: one fuzz target body for all of them.
package eventtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/event"
)

// FuzzNormalizer is the body of a vendor package's FuzzNormalize: it seeds
// f with the callback bodies of the package's golden files
// (testdata/callbacks/*.txt, the body before the "----------" line) and
// feeds normalize those and what the fuzzer makes of them. normalize must
// not panic; it must refuse exactly the bodies that are not one JSON
// object, with an error wrapping event.ErrMalformed; every event it makes
// must have an id, a type, vendor and the raw body; and the same body must
// give the same ids.
func FuzzNormalizer(f *testing.F, vendor string, normalize event.Normalizer) {
	dir := filepath.Join("testdata", "callbacks")
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	seeded := 0
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".txt" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		body, _, _ := bytes.Cut(b, []byte("\n----------\n"))
		f.Add(body)
		seeded++
	}
	if seeded == 0 {
		f.Fatalf("no callback bodies in %s", dir)
	}
	for _, s := range []string{"", "null", "[]", "{}", `{"a":1} {}`, "\"x\"", "{\"type\":null,\"data\":[]}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := normalize(body)
		object := isObject(body)
		switch {
		case err != nil && !errors.Is(err, event.ErrMalformed):
			t.Fatalf("error %v does not wrap event.ErrMalformed", err)
		case err != nil && object:
			t.Fatalf("a JSON object refused: %v", err)
		case err == nil && !object:
			t.Fatalf("not a JSON object, yet %d events", len(evs))
		case err == nil && len(evs) == 0:
			t.Fatal("no event and no error: the body is dropped")
		}
		for i, ev := range evs {
			if ev == nil {
				t.Fatalf("event %d is nil", i)
			}
			if ev.ID == "" || ev.Type == "" || ev.Vendor != vendor || len(ev.Raw) == 0 || !json.Valid(ev.Raw) {
				t.Fatalf("event %d: id %q, type %q, vendor %q (want %q), raw %q", i, ev.ID, ev.Type, ev.Vendor, vendor, ev.Raw)
			}
		}
		again, errAgain := normalize(body)
		if first, second := ids(evs), ids(again); (err == nil) != (errAgain == nil) || !slices.Equal(first, second) {
			t.Fatalf("normalized twice: ids %v (%v), then %v (%v)", first, err, second, errAgain)
		}
	})
}

// isObject reports whether body is one JSON object, the only bodies a
// normalizer accepts.
func isObject(body []byte) bool {
	var m map[string]json.RawMessage
	return json.Valid(body) && json.Unmarshal(body, &m) == nil && m != nil
}

func ids(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}
