package bindings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// snippetRunes is how much of an answer Snippet keeps.
const snippetRunes = 200

// Snippet is the first line of a vendor's answer for an error message:
// trimmed, cut to 200 characters (marked "..."), and quoted; "empty answer"
// when there is nothing.
func Snippet(body []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "empty answer"
	}
	if r := []rune(line); len(r) > snippetRunes {
		line = string(r[:snippetRunes]) + "..."
	}
	return strconv.Quote(line)
}

// EnvelopeCode reads the code field of a vendor envelope: a JSON integer or
// a string holding one (surrounding spaces allowed). ok is false for
// anything else, including an empty or null field.
func EnvelopeCode(raw json.RawMessage) (code int64, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, false
	}
	var n int64
	var err error
	switch x := v.(type) {
	case json.Number:
		n, err = x.Int64()
	case string:
		n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 64)
	default:
		return 0, false
	}
	if err != nil {
		return 0, false
	}
	return n, true
}

// StatusError is the error for an HTTP error status answered without the
// vendor's envelope, text saying what came instead (see Snippet): for 5xx a
// *VendorError with the status as its code that also matches ErrTransport
// (so Transient holds), for 4xx a plain *VendorError. Below 400 it answers
// nil: the caller decides what a non-envelope success means.
func StatusError(vendor string, status int, text string) error {
	switch {
	case status >= 500:
		return fmt.Errorf("%w: %w", ErrTransport,
			&VendorError{Vendor: vendor, Code: status, Message: text, HTTPStatus: status})
	case status >= 400:
		return &VendorError{Vendor: vendor, Code: status, Message: text, HTTPStatus: status}
	}
	return nil
}
