package simkit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestPlain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want map[string]any
	}{
		{"integers and floats", `{"a":1,"b":2.5,"c":"x"}`, map[string]any{"a": int64(1), "b": 2.5, "c": "x"}},
		{"nested", `{"o":{"n":3},"l":[1,{"m":4.5},null,true]}`,
			map[string]any{"o": map[string]any{"n": int64(3)}, "l": []any{int64(1), map[string]any{"m": 4.5}, nil, true}}},
		{"beyond int64", `{"big":18446744073709551616}`, map[string]any{"big": 18446744073709551616.0}},
		{"empty", `{}`, map[string]any{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dec := json.NewDecoder(bytes.NewReader([]byte(tc.in)))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			if got := Plain(m); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Plain = %#v, want %#v", got, tc.want)
			}
		})
	}
}
