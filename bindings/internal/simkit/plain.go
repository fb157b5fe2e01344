package simkit

import "encoding/json"

// Plain copies a request object decoded with json.Decoder.UseNumber for a
// simulator's record of sends: every json.Number becomes an int64 (or a
// float64 when it is not an integer), in nested objects and lists too. It
// does not modify m.
func Plain(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = plainValue(v)
	}
	return out
}

func plainValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		return Plain(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainValue(e)
		}
		return out
	}
	return v
}
