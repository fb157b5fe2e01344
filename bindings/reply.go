package bindings

import (
	"maps"
	"slices"
	"strings"
)

// ReplyContentKey finds the one content key of an ev.reply content object
// for vendor: every key but those in extras (mentions that go along with
// text) must be one of kinds, and exactly one such key must be given.
// Errors are *ArgumentError naming vendor+".reply".
func ReplyContentKey[V any](vendor string, content map[string]any, kinds map[string]V, extras []string) (string, error) {
	fail := func(param, reason string) error {
		return &ArgumentError{Endpoint: vendor + ".reply", Param: param, Reason: reason}
	}
	known := func() string { return strings.Join(slices.Sorted(maps.Keys(kinds)), ", ") }
	var keys []string
	for k := range content {
		if slices.Contains(extras, k) {
			continue
		}
		if _, ok := kinds[k]; !ok {
			return "", fail(k, "is not something "+vendor+" can reply with; use one of "+known())
		}
		keys = append(keys, k)
	}
	switch len(keys) {
	case 1:
		return keys[0], nil
	case 0:
		return "", fail("content", "is empty; give one of "+known())
	}
	slices.Sort(keys)
	return "", fail("content", "has "+strings.Join(keys, " and ")+"; a reply sends one thing")
}
