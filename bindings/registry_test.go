package bindings_test

import (
	"testing"

	"github.com/switchboard-dev/switchboard/bindings"
)

func TestEndpointAccount(t *testing.T) {
	t.Parallel()
	direct := &bindings.Endpoint{AccountParam: "wxId"}
	nested := &bindings.Endpoint{AccountParam: "guid", AccountIn: "body"}
	none := &bindings.Endpoint{}
	for _, tc := range []struct {
		name string
		ep   *bindings.Endpoint
		args map[string]any
		want string
	}{
		{"top level", direct, map[string]any{"wxId": "1688"}, "1688"},
		{"case-insensitive", direct, map[string]any{"WXID": "1688"}, "1688"},
		{"number", direct, map[string]any{"wxId": float64(1688)}, "1688"},
		{"missing", direct, map[string]any{"other": "x"}, ""},
		{"no account parameter", none, map[string]any{"wxId": "1688"}, ""},
		{"inside the object parameter", nested, map[string]any{"path": "/x", "body": map[string]any{"guid": "g-1"}}, "g-1"},
		{"top level wins", nested, map[string]any{"guid": "g-0", "body": map[string]any{"guid": "g-1"}}, "g-0"},
		{"object parameter not an object", nested, map[string]any{"body": "guid"}, ""},
		{"object parameter absent", nested, map[string]any{"path": "/x"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.ep.Account(tc.args); got != tc.want {
				t.Errorf("Account(%v) = %q, want %q", tc.args, got, tc.want)
			}
		})
	}
}
