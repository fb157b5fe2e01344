package quntool

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// update rewrites the expected part of the golden files from the current
// output: go test ./bindings/quntool -run Golden -update
var update = flag.Bool("update", false, "rewrite golden files from the current output")

// goldenSeparator splits a golden file into its input (a callback body, as
// the vendor sends it) and the expected events, Caddy style.
const goldenSeparator = "\n----------\n"

// A golden file: testdata/callbacks/{type}[.{received|sent}].txt holds one
// payload of the vendor's document with the document's "//" comments
// removed, the separator, and the events Normalize must produce as JSON.
// "raw" is left out of the expected events: it is checked to be the input,
// byte for byte.
type goldenFile struct {
	path     string
	input    []byte
	expected []byte
}

func readGolden(t *testing.T, path string) goldenFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in, exp, ok := bytes.Cut(b, []byte(goldenSeparator))
	if !ok {
		t.Fatalf("%s: no %q separator", path, strings.TrimSpace(goldenSeparator))
	}
	return goldenFile{path: path, input: in, expected: exp}
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "callbacks", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files in testdata/callbacks")
	}
	sort.Strings(files)
	return files
}

// eventsJSON renders events as generic JSON values without "raw".
func eventsJSON(t *testing.T, v any) []any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	for _, e := range out {
		if m, ok := e.(map[string]any); ok {
			delete(m, "raw")
		}
	}
	return out
}

func TestNormalizeGolden(t *testing.T) {
	t.Parallel()
	for _, path := range goldenFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := readGolden(t, path)
			evs, err := Normalize(g.input)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			for i, ev := range evs {
				if !bytes.Equal(ev.Raw, g.input) {
					t.Errorf("event %d: raw is not the body untouched", i)
				}
				if ev.Received != 0 {
					t.Errorf("event %d: received = %d, the journal stamps it, not the normalizer", i, ev.Received)
				}
			}
			got := eventsJSON(t, evs)
			if *update {
				out, err := json.MarshalIndent(got, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				var file bytes.Buffer
				file.Write(g.input)
				file.WriteString(goldenSeparator)
				file.Write(out)
				file.WriteByte('\n')
				if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			var want []any
			if err := json.Unmarshal(g.expected, &want); err != nil {
				t.Fatalf("expected part of %s is not JSON: %v", path, err)
			}
			for _, d := range jsonDiff("", got, want) {
				t.Error(d)
			}
		})
	}
}

// jsonDiff compares two generic JSON values field by field and describes
// every difference by its path.
func jsonDiff(path string, got, want any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an object", pathOr(path), short(got))}
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		var out []string
		for _, k := range sortedKeys(keys) {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				out = append(out, fmt.Sprintf("%s.%s: missing, want %s", path, k, short(wv)))
			case !wok:
				out = append(out, fmt.Sprintf("%s.%s: unexpected %s", path, k, short(gv)))
			default:
				out = append(out, jsonDiff(path+"."+k, gv, wv)...)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an array", pathOr(path), short(got))}
		}
		var out []string
		if len(g) != len(w) {
			out = append(out, fmt.Sprintf("%s: got %d elements, want %d", pathOr(path), len(g), len(w)))
		}
		for i := 0; i < len(g) && i < len(w); i++ {
			out = append(out, jsonDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(got, want) {
		return []string{fmt.Sprintf("%s: got %s, want %s", pathOr(path), short(got), short(want))}
	}
	return nil
}

func pathOr(p string) string {
	if p == "" {
		return "(top)"
	}
	return p
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestJSONDiffReports(t *testing.T) {
	t.Parallel()
	var got, want any
	_ = json.Unmarshal([]byte(`{"a":1,"b":{"c":[1,2]},"x":true}`), &got)
	_ = json.Unmarshal([]byte(`{"a":2,"b":{"c":[1]},"y":true}`), &want)
	d := jsonDiff("", got, want)
	for _, frag := range []string{".a: got 1, want 2", ".b.c: got 2 elements, want 1", ".x: unexpected", ".y: missing"} {
		if !slices.ContainsFunc(d, func(s string) bool { return strings.Contains(s, frag) }) {
			t.Errorf("diff %q lacks %q", d, frag)
		}
	}
	if d := jsonDiff("", got, got); len(d) != 0 {
		t.Errorf("diff of a value with itself = %q", d)
	}
}

func TestGoldenCoversEveryCallbackType(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, path := range goldenFiles(t) {
		typ, _, _ := strings.Cut(filepath.Base(path), ".")
		covered[typ] = true
	}
	types := CallbackTypes()
	if len(types) != 24 {
		t.Errorf("%d callback types mapped, the vendor documents 24", len(types))
	}
	sameSet(t, sortedKeys(covered), types, "callback type %s has no golden file", "golden file for %s, which is not in the mapping table")
}

// sameSet reports, with the given formats, each element of want that got
// lacks and each element of got that want lacks.
func sameSet(t *testing.T, got, want []string, missingFormat, extraFormat string) {
	t.Helper()
	in := func(list []string) map[string]bool {
		m := make(map[string]bool, len(list))
		for _, e := range list {
			m[e] = true
		}
		return m
	}
	g, w := in(got), in(want)
	for _, e := range want {
		if !g[e] {
			t.Errorf(missingFormat, e)
		}
	}
	for _, e := range got {
		if !w[e] {
			t.Errorf(extraFormat, e)
		}
	}
}

// seedPath finds the vendor document the payloads come from. It lives
// outside the module; tests that need it are skipped where it is absent.
func seedPath(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SWITCHBOARD_SEEDS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "seeds")
	}
	m, _ := filepath.Glob(filepath.Join(dir, "004_*.txt"))
	if len(m) != 1 {
		t.Skipf("vendor document 004_*.txt not found in %s (set SWITCHBOARD_SEEDS)", dir)
	}
	return m[0]
}

// seedFixes are the edits, beyond removing "//" comments, that make the
// document's examples parse. The qrcode_status_msg example lacks the
// closing brace of the outer object; every other example is valid JSON
// once its comments are gone.
var seedFixes = map[string]func(string) string{
	"qrcode_status_msg": func(s string) string { return s + "\n}" },
}

var (
	typeHeading = regexp.MustCompile(`^type ?为 ([a-z_]+)`)
	// jsonContinuation is how a line inside a multi-line example starts.
	jsonContinuation = regexp.MustCompile(`^\s*[\[\]{}"0-9\-]`)
)

// seedPayloads extracts the callback examples of the vendor document, named
// as the golden files are, with comments removed and seedFixes applied.
func seedPayloads(doc string) map[string]string {
	lines := strings.Split(doc, "\n")
	out := map[string]string{}
	typ, variant := "", ""
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "接口调用") { // the endpoint reference starts
			break
		}
		if m := typeHeading.FindStringSubmatch(l); m != nil {
			typ, variant = m[1], ""
			continue
		}
		switch {
		case strings.Contains(l, "接收消息的回调"):
			variant = "received"
		case strings.Contains(l, "发出消息的回调"):
			variant = "sent"
		}
		if typ == "" || !strings.HasPrefix(strings.TrimSpace(l), "{") {
			continue
		}
		buf := []string{l}
		for jsonDepth(stripComments(strings.Join(buf, "\n"))) > 0 && i+1 < len(lines) && jsonContinuation.MatchString(lines[i+1]) {
			i++
			buf = append(buf, lines[i])
		}
		text := strings.TrimRight(stripComments(strings.Join(buf, "\n")), " \n")
		if fix := seedFixes[typ]; fix != nil {
			text = fix(text)
		}
		name := typ
		if variant != "" {
			name += "." + variant
		}
		out[name] = text
	}
	return out
}

// stripComments removes the document's "//" comments. A comment runs to the
// end of the line, or, in examples the document flattened onto one line, to
// the next JSON token ('"', brackets); "//" inside strings is content.
func stripComments(s string) string {
	var b strings.Builder
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			b.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else if c == '"' {
				inString = false
			}
			continue
		}
		if c == '/' && i+1 < len(s) && s[i+1] == '/' {
			for i+1 < len(s) && !strings.ContainsRune("\"{}[]\n", rune(s[i+1])) {
				i++
			}
			continue
		}
		if c == '"' {
			inString = true
		}
		b.WriteByte(c)
	}
	return b.String()
}

// jsonDepth is the bracket nesting left open at the end of s.
func jsonDepth(s string) int {
	depth, inString := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return depth
}

func TestStripComments(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"line comment", "{\"a\":1,//note\n\"b\":2}", "{\"a\":1,\n\"b\":2}"},
		{"flattened line", `{ "a":"x",//note "b":2 }`, `{ "a":"x","b":2 }`},
		{"url in a string", `{"u":"https://h/p"}//c`, `{"u":"https://h/p"}`},
		{"escaped quote", `{"u":"a\"//b"}`, `{"u":"a\"//b"}`},
		{"before a value", `{"k"://c "v"}`, `{"k":"v"}`},
		{"double comment", `{"k":1,////c` + "\n}", "{\"k\":1,\n}"},
	}
	for _, c := range cases {
		if got := stripComments(c.in); got != c.want {
			t.Errorf("%s: stripComments(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

// TestGoldenInputsAreTheSeedPayloads checks that every golden input is a
// payload of the vendor document with only its comments removed (and the
// fixes in seedFixes), and that no payload of the document is left out.
func TestGoldenInputsAreTheSeedPayloads(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(seedPath(t))
	if err != nil {
		t.Fatal(err)
	}
	payloads := seedPayloads(string(doc))
	if len(payloads) != 34 {
		t.Errorf("found %d payloads in the document, want 34", len(payloads))
	}
	seen := map[string]bool{}
	for _, path := range goldenFiles(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		seen[name] = true
		want, ok := payloads[name]
		if !ok {
			t.Errorf("%s: no such payload in the document", name)
			continue
		}
		if got := string(readGolden(t, path).input); got != want {
			t.Errorf("%s: input differs from the document's payload\n got: %.200q\nwant: %.200q", name, got, want)
		}
		if !json.Valid([]byte(want)) {
			t.Errorf("%s: payload is not valid JSON after the fixes", name)
		}
	}
	for name := range payloads {
		if !seen[name] {
			t.Errorf("payload %s of the document has no golden file", name)
		}
	}
	headings := map[string]bool{}
	for _, l := range strings.Split(string(doc), "\n") {
		if m := typeHeading.FindStringSubmatch(l); m != nil {
			headings[m[1]] = true
		}
	}
	if got := CallbackTypes(); !reflect.DeepEqual(got, sortedKeys(headings)) {
		t.Errorf("mapped types %v, the document's types %v", got, sortedKeys(headings))
	}
}
