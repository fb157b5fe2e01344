package quntool

import "strings"

// Conversation id prefixes: "S:" a private (single) conversation, "R:" a
// group (room).
const (
	privatePrefix = "S:"
	groupPrefix   = "R:"
)

// PrivateConversationID returns the id of the private conversation between
// users a and b as Quntool spells it: "S:{smaller id}_{larger id}". Quntool
// user ids are 16-digit numbers; when both ids are numeric they are compared
// as numbers (by length without leading zeros, then digit by digit), else
// as strings. The result does not depend on the order of a and b.
func PrivateConversationID(a, b string) string {
	if lessID(b, a) {
		a, b = b, a
	}
	return privatePrefix + a + "_" + b
}

// CanonicalConversationID returns id with the two users of a private
// conversation in Quntool's order (smaller id first); a private id written
// the other way round ("S:7881..._1688...") is the same conversation and
// is rewritten. Group ids and anything not of the form "S:a_b" are returned
// unchanged.
func CanonicalConversationID(id string) string {
	rest, ok := strings.CutPrefix(id, privatePrefix)
	if !ok {
		return id
	}
	a, b, ok := strings.Cut(rest, "_")
	if !ok || a == "" || b == "" || strings.Contains(b, "_") {
		return id
	}
	return PrivateConversationID(a, b)
}

// validConversationID reports whether id has one of the two prefixes
// Quntool accepts and something after it.
func validConversationID(id string) bool {
	return (strings.HasPrefix(id, privatePrefix) || strings.HasPrefix(id, groupPrefix)) && len(id) > 2
}

// lessID orders user ids: numerically when both are digit strings, else
// lexically.
func lessID(a, b string) bool {
	if numeric(a) && numeric(b) {
		ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(ta) != len(tb) {
			return len(ta) < len(tb)
		}
		if ta != tb {
			return ta < tb
		}
	}
	return a < b
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
