package bindings

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSnippet(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 250)
	tests := []struct {
		name, body, want string
	}{
		{"empty", "", "empty answer"},
		{"blank", " \n\t ", "empty answer"},
		{"first line", "  <html>\n<body>oops</body>", `"<html>"`},
		{"quoted", `a "b"`, `"a \"b\""`},
		{"cut at 200 characters", long, `"` + strings.Repeat("é", 200) + `..."`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Snippet([]byte(tc.body)); got != tc.want {
				t.Errorf("Snippet(%q) = %s, want %s", tc.body, got, tc.want)
			}
		})
	}
}

func TestEnvelopeCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw string
		want      int64
		ok        bool
	}{
		{"number", `0`, 0, true},
		{"negative", `-1000999`, -1000999, true},
		{"string", `"422"`, 422, true},
		{"spaced string", `" 7 "`, 7, true},
		{"float", `1.5`, 0, false},
		{"word", `"ok"`, 0, false},
		{"null", `null`, 0, false},
		{"missing", ``, 0, false},
		{"object", `{}`, 0, false},
		{"too large", `92233720368547758070`, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := EnvelopeCode(json.RawMessage(tc.raw))
			if got != tc.want || ok != tc.ok {
				t.Errorf("EnvelopeCode(%s) = %d, %v; want %d, %v", tc.raw, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestStatusError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		wantNil   bool
		transport bool
	}{
		{"ok", 200, true, false},
		{"redirect", 302, true, false},
		{"client error", 400, false, false},
		{"server error", 502, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := StatusError("v", tc.status, `"x"`)
			if (err == nil) != tc.wantNil {
				t.Fatalf("StatusError(%d) = %v", tc.status, err)
			}
			if err == nil {
				return
			}
			var ve *VendorError
			if !errors.As(err, &ve) || ve.Code != tc.status || ve.HTTPStatus != tc.status || ve.Vendor != "v" || ve.Message != `"x"` {
				t.Errorf("StatusError(%d) = %#v", tc.status, err)
			}
			if errors.Is(err, ErrTransport) != tc.transport || Transient(err) != tc.transport {
				t.Errorf("StatusError(%d): transport %v, want %v", tc.status, errors.Is(err, ErrTransport), tc.transport)
			}
		})
	}
}
