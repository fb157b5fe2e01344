package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrMalformed is returned by normalizers for a body that is not a JSON
// object. The receiver answers it with 400 and keeps the body in the
// rejected store.
var ErrMalformed = errors.New("malformed callback")

// Normalizer turns one callback body into one or more events. It must not
// drop anything: a body it cannot map becomes one TypeUnknown event with Raw
// set. It returns an error wrapping ErrMalformed only for a body that is not
// a JSON object. Normalizers are pure functions, safe for concurrent use.
type Normalizer func(body []byte) ([]*Event, error)

// DecodeObject decodes body into a map using json.Number for numbers, and
// fails with ErrMalformed when it is not a single JSON object.
func DecodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: not valid JSON: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: body is JSON but not an object", ErrMalformed)
	}
	return m, nil
}

// Str reads a field as a string whatever JSON type the vendor used: strings
// as they are, numbers in their decimal form, booleans as "true"/"false",
// null and missing as "".
func Str(m map[string]any, key string) string {
	switch v := m[key].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// Int reads a field as an integer whether it arrived as a number or as a
// numeric string ("send_time": "1686708146"). ok is false when missing or
// not numeric.
func Int(m map[string]any, key string) (int64, bool) {
	switch v := m[key].(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, true
		}
		if f, err := v.Float64(); err == nil {
			return int64(f), true
		}
	case float64:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return i, true
		}
	}
	return 0, false
}

// Obj reads a nested object, nil when missing or not an object.
func Obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

// Strs reads a list of ids, each element converted with Str.
func Strs(m map[string]any, key string) []string {
	list, _ := m[key].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s := Str(map[string]any{"v": v}, "v"); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Millis converts a vendor timestamp in seconds or milliseconds to
// milliseconds since the epoch (values below 1e11 are taken as seconds).
func Millis(t int64) int64 {
	if t > 0 && t < 100_000_000_000 {
		return t * 1000
	}
	return t
}
