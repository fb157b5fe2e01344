package pdk

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A guest decodes one event and encodes a few small requests per call.
// encoding/json does that through reflection, which costs hundreds of
// microseconds inside a WASM guest; the hand-written scanner and encoder
// here do the same work in a few. Anything they do not know (Data, Raw,
// binding arguments of unusual types) is kept raw or falls back to
// encoding/json.

// errSyntax is malformed JSON.
var errSyntax = errors.New("invalid JSON")

// Inside a WASM guest every function call that is not inlined costs more
// than in native code, and every allocation a few dozen calls inside the
// guest's runtime: the scanner reads strings eight bytes per iteration,
// returns strings that share the document's memory, and walks objects
// without callbacks.

// scanner walks one JSON document, b, also seen as the string s (the same
// bytes): strings without escapes are slices of s, raw values slices of
// b. The first error sticks.
type scanner struct {
	b   []byte
	s   string
	i   int
	err error
}

// newScanner scans a copy of b as a string; raw values still share b.
func newScanner(b []byte) *scanner { return &scanner{b: b, s: string(b)} }

func (s *scanner) fail(what string) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: %s at offset %d", errSyntax, what, s.i)
	}
}

// cur is the byte at s.i, 0 at the end.
func (s *scanner) cur() byte {
	if s.i < len(s.s) {
		return s.s[s.i]
	}
	return 0
}

// peek returns the next non-space byte, 0 at the end.
func (s *scanner) peek() byte {
	if s.i < len(s.s) && s.s[s.i] > ' ' {
		return s.s[s.i]
	}
	return s.peekSlow()
}

func (s *scanner) peekSlow() byte {
	for s.i < len(s.s) {
		switch s.s[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return s.s[s.i]
		}
	}
	return 0
}

// expect consumes c, the next non-space byte; false (and an error) when
// it is another one. Inlined: one test when c is next.
func (s *scanner) expect(c byte) bool {
	if s.cur() == c {
		s.i++
		return true
	}
	return s.expectSlow(c)
}

func (s *scanner) expectSlow(c byte) bool {
	if s.peek() != c {
		s.fail("expected " + strconv.QuoteRune(rune(c)))
		return false
	}
	s.i++
	return true
}

func (s *scanner) literal(lit string) {
	if len(s.s)-s.i < len(lit) || s.s[s.i:s.i+len(lit)] != lit {
		s.fail("expected " + lit)
		return
	}
	s.i += len(lit)
}

// null consumes a null and reports whether there was one. Inlined: one
// test when another value follows without white space.
func (s *scanner) null() bool {
	if c := s.cur(); c > ' ' && c != 'n' {
		return false
	}
	return s.nullSlow()
}

func (s *scanner) nullSlow() bool {
	if s.peek() != 'n' {
		return false
	}
	s.literal("null")
	return true
}

// first starts an object (null is no object) and returns its first key;
// false when it has none or on an error. With next, it walks an object:
//
//	for k, ok := s.first(); ok; k, ok = s.next() { /* consume the value of k */ }
func (s *scanner) first() (string, bool) {
	if s.null() || !s.expect('{') {
		return "", false
	}
	if s.peek() == '}' {
		s.i++
		return "", false
	}
	return s.key()
}

// next moves past the value just consumed to the next key; false at the
// end of the object or on an error.
func (s *scanner) next() (string, bool) {
	if s.i < len(s.s) && s.s[s.i] == ',' {
		s.i++
		return s.key()
	}
	switch s.peek() {
	case ',':
		s.i++
		return s.key()
	case '}':
		s.i++
	default:
		s.fail("expected , or }")
	}
	return "", false
}

// key reads a key and its colon.
func (s *scanner) key() (string, bool) {
	k := s.str()
	if s.i < len(s.s) && s.s[s.i] == ':' && s.err == nil {
		s.i++
		return k, true
	}
	return k, s.expectSlow(':') && s.err == nil
}

// Masks for testing eight bytes at once.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// specials marks (in the high bit of its byte) the first of the 8 bytes
// of x (little-endian) that is a quote, a backslash or a control
// character; bytes after it may be marked too. 0: none is.
func specials(x uint64) uint64 {
	q, bs := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs) & highs
}

// str reads a string, decoding escapes. A string without escapes is found
// eight bytes per step and shares the document's memory.
func (s *scanner) str() string {
	if s.i >= len(s.s) || s.s[s.i] != '"' {
		if !s.expectSlow('"') {
			return ""
		}
		s.i--
	}
	start := s.i + 1
	j := start
	for ; j+8 <= len(s.b); j += 8 {
		if m := specials(binary.LittleEndian.Uint64(s.b[j:])); m != 0 {
			j += bits.TrailingZeros64(m) >> 3
			if s.s[j] == '"' {
				s.i = j + 1
				return s.s[start:j]
			}
			break
		}
	}
	s.i = j
	return s.strTail(start)
}

// strTail finishes a string from its first byte at start, s.i at or
// before its first quote, backslash or control character, byte by byte.
func (s *scanner) strTail(start int) string {
	for s.i < len(s.s) {
		c := s.s[s.i]
		if c == '"' {
			v := s.s[start:s.i]
			s.i++
			return v
		}
		if c == '\\' {
			return s.strSlow(start)
		}
		if c < 0x20 {
			s.fail("control character in string")
			return ""
		}
		s.i++
	}
	s.fail("unterminated string")
	return ""
}

// strSlow finishes a string holding escapes, from its first byte at start.
func (s *scanner) strSlow(start int) string {
	out := append([]byte(nil), s.s[start:s.i]...)
	for s.i < len(s.s) {
		c := s.s[s.i]
		switch {
		case c == '"':
			s.i++
			return string(out)
		case c < 0x20:
			s.fail("control character in string")
			return ""
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.s) {
			break
		}
		e := s.s[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := s.hex4()
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.s) && s.s[s.i] == '\\' && s.s[s.i+1] == 'u' {
					s.i += 2
					r2 = s.hex4()
				}
				r = utf16.DecodeRune(r, r2)
			}
			out = utf8.AppendRune(out, r)
		default:
			s.fail("bad escape")
			return ""
		}
	}
	s.fail("unterminated string")
	return ""
}

func (s *scanner) hex4() rune {
	if len(s.s)-s.i < 4 {
		s.fail("short \\u escape")
		return utf8.RuneError
	}
	n, err := strconv.ParseUint(s.s[s.i:s.i+4], 16, 32)
	if err != nil {
		s.fail("bad \\u escape")
		return utf8.RuneError
	}
	s.i += 4
	return rune(n)
}

// skip consumes any value and returns its bytes.
func (s *scanner) skip() json.RawMessage {
	c := s.peek()
	start := s.i
	switch c {
	case '{':
		for _, ok := s.first(); ok; _, ok = s.next() {
			s.skip()
		}
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			break
		}
		for s.err == nil {
			s.skip()
			if s.peek() == ',' {
				s.i++
				continue
			}
			s.expect(']')
			break
		}
	case '"':
		s.str()
	case 't':
		s.literal("true")
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	case 0:
		s.fail("unexpected end")
	default:
		s.number()
	}
	if s.err != nil {
		return nil
	}
	return json.RawMessage(s.b[start:s.i])
}

// digits reads a plain integer (up to 18 digits, maybe negative) in one
// pass; false, having consumed nothing, for anything else.
func (s *scanner) digits() (int64, bool) {
	i, neg := s.i, false
	if i < len(s.s) && s.s[i] == '-' {
		i, neg = i+1, true
	}
	start := i
	var n int64
	for i < len(s.s) && i-start < 18 && s.s[i] >= '0' && s.s[i] <= '9' {
		n = n*10 + int64(s.s[i]-'0')
		i++
	}
	if i == start || i < len(s.s) && (s.s[i] >= '0' && s.s[i] <= '9' || s.s[i] == '.' || s.s[i] == 'e' || s.s[i] == 'E') {
		return 0, false
	}
	s.i = i
	if neg {
		n = -n
	}
	return n, true
}

// number consumes a number and returns its text.
func (s *scanner) number() string {
	start := s.i
	for s.i < len(s.s) {
		c := s.s[s.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	if start == s.i {
		s.fail("expected a value")
	}
	return s.s[start:s.i]
}

func (s *scanner) int64() int64 {
	if s.null() {
		return 0
	}
	if n, ok := s.digits(); ok {
		return n
	}
	t := s.number()
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(t, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<63 {
			s.fail("expected an integer")
			return 0
		}
		n = int64(f)
	}
	return n
}

func (s *scanner) bool() bool {
	switch s.peek() {
	case 't':
		s.literal("true")
		return true
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	default:
		s.fail("expected a boolean")
	}
	return false
}

// strOrNull reads a string or null ("").
func (s *scanner) strOrNull() string {
	if s.i < len(s.s) && s.s[s.i] == '"' {
		return s.str()
	}
	if s.null() {
		return ""
	}
	return s.str()
}

func (s *scanner) strs() []string {
	if s.null() {
		return nil
	}
	var out []string
	if !s.expect('[') {
		return nil
	}
	if s.peek() == ']' {
		s.i++
		return []string{}
	}
	for s.err == nil {
		out = append(out, s.str())
		if s.peek() == ',' {
			s.i++
			continue
		}
		s.expect(']')
		break
	}
	return out
}

// end checks that only white space follows the document.
func (s *scanner) end() error {
	if s.err == nil && s.peek() != 0 {
		s.fail("trailing data")
	}
	return s.err
}

// DecodeEvent decodes an event as the host sends it, without reflection.
// Data and Raw share b's memory.
func DecodeEvent(b []byte) (*Event, error) { return newScanner(b).event() }

// eventParts are an event and the parts it points to, allocated at once.
type eventParts struct {
	ev   Event
	conv Conversation
	msg  Message
	from Party
}

func (s *scanner) event() (*Event, error) {
	parts := &eventParts{}
	ev := &parts.ev
	for k, ok := s.first(); ok; k, ok = s.next() {
		switch k {
		case "id":
			ev.ID = s.strOrNull()
		case "type":
			ev.Type = s.strOrNull()
		case "vendor":
			ev.Vendor = s.strOrNull()
		case "account":
			ev.Account = s.strOrNull()
		case "time":
			ev.Time = s.int64()
		case "received":
			ev.Received = s.int64()
		case "conversation":
			ev.Conversation = s.conversation(&parts.conv)
		case "message":
			ev.Message = s.message(&parts.msg, &parts.from)
		case "data":
			ev.Data = s.skip()
		case "raw":
			ev.Raw = s.skip()
		default:
			s.skip()
		}
	}
	if err := s.end(); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

// conversation decodes into c; nil for null.
func (s *scanner) conversation(c *Conversation) *Conversation {
	if s.null() {
		return nil
	}
	for k, ok := s.first(); ok; k, ok = s.next() {
		switch k {
		case "id":
			c.ID = s.strOrNull()
		case "kind":
			c.Kind = s.strOrNull()
		default:
			s.skip()
		}
	}
	return c
}

// message decodes into m, its sender into from; nil for null.
func (s *scanner) message(m *Message, from *Party) *Message {
	if s.null() {
		return nil
	}
	for k, ok := s.first(); ok; k, ok = s.next() {
		switch k {
		case "id":
			m.ID = s.strOrNull()
		case "kind":
			m.Kind = s.strOrNull()
		case "text":
			m.Text = s.strOrNull()
		case "to":
			m.To = s.strOrNull()
		case "self":
			m.Self = s.bool()
		case "mentions":
			m.Mentions = s.strs()
		case "from":
			m.From = s.party(from)
		case "file":
			m.File = s.file()
		default:
			s.skip()
		}
	}
	return m
}

// party decodes into p; nil for null.
func (s *scanner) party(p *Party) *Party {
	if s.null() {
		return nil
	}
	for k, ok := s.first(); ok; k, ok = s.next() {
		switch k {
		case "id":
			p.ID = s.strOrNull()
		case "name":
			p.Name = s.strOrNull()
		default:
			s.skip()
		}
	}
	return p
}

func (s *scanner) file() *File {
	if s.null() {
		return nil
	}
	f := &File{}
	for k, ok := s.first(); ok; k, ok = s.next() {
		switch k {
		case "url":
			f.URL = s.strOrNull()
		case "name":
			f.Name = s.strOrNull()
		case "size":
			f.Size = s.int64()
		default:
			s.skip()
		}
	}
	return f
}

// answerField is one top-level key of a host function's answer.
type answerField struct {
	key string
	raw json.RawMessage
}

// answerFields are the keys of an answer in order; answers have a few.
type answerFields []answerField

// get returns the raw value of key.
func (f answerFields) get(key string) (json.RawMessage, bool) {
	for i := range f {
		if f[i].key == key {
			return f[i].raw, true
		}
	}
	return nil, false
}

// value is the raw value of key, nil when absent.
func (f answerFields) value(key string) json.RawMessage {
	v, _ := f.get(key)
	return v
}

// decodeAnswer reads a host function's answer: the raw value of every
// top-level key.
func decodeAnswer(b []byte) (answerFields, error) { return newScanner(b).answer() }

func (s *scanner) answer() (answerFields, error) {
	out := make(answerFields, 0, 4)
	for k, ok := s.first(); ok; k, ok = s.next() {
		out = append(out, answerField{k, s.skip()})
	}
	if err := s.end(); err != nil {
		return nil, fmt.Errorf("decode host answer: %w", err)
	}
	return out, nil
}

// answerError decodes the "error" of an answer, nil when there is none.
func answerError(fields answerFields) *ErrorInfo {
	raw, ok := fields.get("error")
	if !ok || string(raw) == "null" {
		return nil
	}
	e := &ErrorInfo{}
	s := newScanner(raw)
	for k, ok := s.first(); ok; k, ok = s.next() {
		switch k {
		case "vendor":
			e.Vendor = s.strOrNull()
		case "message":
			e.Message = s.strOrNull()
		case "code":
			v := s.skip()
			if len(v) > 0 && v[0] == '"' {
				e.Code = newScanner(v).str()
			} else if n, err := strconv.ParseFloat(string(v), 64); err == nil {
				e.Code = n
			} else {
				e.Code = string(v)
			}
		default:
			s.skip()
		}
	}
	if s.err != nil {
		return &ErrorInfo{Vendor: "host", Code: "bad_response", Message: s.err.Error()}
	}
	return e
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped like encoding/json
// (less its HTML escaping); invalid UTF-8 becomes U+FFFD. Most strings are
// printable ASCII without quotes or backslashes: those are copied at once
// and checked eight bytes per step, the rest take appendStringSlow.
func appendString(dst []byte, s string) []byte {
	if cap(dst)-len(dst) < len(s)+10 {
		dst = append(make([]byte, 0, 2*cap(dst)+len(s)+64), dst...)
	}
	start := len(dst) + 1
	dst = append(append(dst, '"'), s...)
	// The bytes past len(dst) are there (capacity) but not s's: check
	// whole words and mask off what follows the string in the last one.
	all := dst[start : start+len(s)+8 : start+len(s)+8]
	var bad uint64
	for i := 0; i < len(s); i += 8 {
		x := binary.LittleEndian.Uint64(all[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		m := ((x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs | x) & highs
		if n := len(s) - i; n < 8 {
			m &= 1<<(8*n) - 1
		}
		bad |= m
	}
	if bad != 0 {
		return appendStringSlow(dst[:start-1], s)
	}
	return append(dst, '"')
}

// appendStringSlow is appendString for strings with bytes to escape or
// beyond ASCII.
func appendStringSlow(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// padWords pads b with spaces to whole 8-byte words, which the kernel
// copies fastest.
func padWords(b []byte) []byte {
	return append(b, "        "[:-len(b)&7]...)
}

// extraValueKey is the key of the value left over by an odd number of
// key-value arguments, as in hclog.
const extraValueKey = "EXTRA_VALUE_AT_END"

// appendKeyvals appends keyvals, alternating keys and values, as a JSON
// object. A key that is not a string is written as its fmt text, a value
// left without a key gets the key EXTRA_VALUE_AT_END, and a value that
// JSON cannot encode is written as its fmt text.
func appendKeyvals(dst []byte, keyvals []any) []byte {
	dst = append(dst, '{')
	for i := 0; i < len(keyvals); i += 2 {
		if i > 0 {
			dst = append(dst, ',')
		}
		var v any
		if i+1 < len(keyvals) {
			key, ok := keyvals[i].(string)
			if !ok {
				key = fmt.Sprint(keyvals[i])
			}
			dst, v = appendString(dst, key), keyvals[i+1]
		} else {
			dst, v = appendString(dst, extraValueKey), keyvals[i]
		}
		dst = append(dst, ':')
		switch x := v.(type) {
		case string:
			dst = appendString(dst, x)
		case int64:
			dst = strconv.AppendInt(dst, x, 10)
		case int:
			dst = strconv.AppendInt(dst, int64(x), 10)
		default:
			with, err := appendValue(dst, v)
			if err != nil {
				with = appendString(dst, fmt.Sprintf("%v", v))
			}
			dst = with
		}
	}
	return append(dst, '}')
}

// appendValue appends v as JSON: the common scalar types directly, maps
// of string keys sorted by key, anything else through encoding/json.
func appendValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case json.RawMessage:
		if !json.Valid(x) {
			return nil, fmt.Errorf("%w: raw value", errSyntax)
		}
		return append(dst, x...), nil
	case map[string]any:
		return appendObject(dst, x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendObject appends m with its keys sorted.
func appendObject(dst []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	var small [8]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	// Objects here mostly have a few keys, which an insertion sort in
	// place orders for less than a call to the sort package costs in a
	// guest.
	if len(keys) > len(small) {
		sort.Strings(keys)
	}
	for i := 1; i < len(keys) && len(keys) <= len(small); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, m[k]); err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
	}
	return append(dst, '}'), nil
}

// EncodeOutput encodes actions as the output of `handle`,
// {"actions": [...]}, without reflection.
func EncodeOutput(actions []Action) ([]byte, error) {
	out := []byte(`{"actions":[`)
	for i := range actions {
		if i > 0 {
			out = append(out, ',')
		}
		var err error
		if out, err = appendAction(out, &actions[i]); err != nil {
			return nil, fmt.Errorf("action %d: %w", i, err)
		}
	}
	return append(out, "]}"...), nil
}

func appendAction(dst []byte, a *Action) ([]byte, error) {
	kind := a.Kind()
	if kind == "" {
		return nil, errors.New("an action sets exactly one of reply, call, kv_set, kv_delete, kv_incr, log")
	}
	dst = append(appendString(append(dst, '{'), kind), ':')
	var err error
	switch kind {
	case "reply":
		dst, err = appendValue(dst, a.Reply)
	case "call":
		dst = appendString(append(dst, `{"binding":`...), a.Call.Binding)
		dst = appendString(append(dst, `,"method":`...), a.Call.Method)
		dst, err = appendObject(append(dst, `,"args":`...), a.Call.Args)
		dst = append(dst, '}')
	case "kv_set":
		dst, err = appendKV(dst, a.KVSet)
	case "kv_delete":
		dst, err = appendKV(dst, a.KVDelete)
	case "kv_incr":
		dst, err = appendKV(dst, a.KVIncr)
	case "log":
		dst = appendString(append(dst, `{"level":`...), a.Log.Level)
		dst = appendString(append(dst, `,"msg":`...), a.Log.Msg)
		dst, err = appendObject(append(dst, `,"fields":`...), a.Log.Fields)
		dst = append(dst, '}')
	}
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// appendKV appends the fields of a KV request that are set.
func appendKV(dst []byte, r *KVRequest) ([]byte, error) {
	dst = appendString(append(dst, `{"key":`...), r.Key)
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"value", r.Value}, {"ttl", r.TTL}} {
		if len(f.raw) == 0 {
			continue
		}
		var err error
		if dst, err = appendValue(append(appendString(append(dst, ','), f.name), ':'), f.raw); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if r.By != nil {
		dst = strconv.AppendInt(append(dst, `,"by":`...), *r.By, 10)
	}
	return append(dst, '}'), nil
}
