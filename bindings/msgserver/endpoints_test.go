package msgserver

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The vendor document describes each endpoint in a
// "#### " section with a URL line, a Method line and a parameter table
// whose rows are "| name | type | 是/否 (required) | doc |".
var (
	sectionURL    = regexp.MustCompile("\\*\\*URL\\*\\*: `([^`]+)`")
	sectionMethod = regexp.MustCompile("\\*\\*Method\\*\\*: `([^`]+)`")
	paramRow      = regexp.MustCompile(`(?m)^\| (\w+) \| (\w+) \| (是|否) \|`)
)

// documentedEndpoints reads the document into lines of the fixture's form:
// "METHOD /path name:type:required|optional ...".
func documentedEndpoints(doc string) []string {
	var out []string
	for _, sec := range strings.Split(doc, "\n#### ")[1:] {
		u, m := sectionURL.FindStringSubmatch(sec), sectionMethod.FindStringSubmatch(sec)
		if u == nil || m == nil {
			continue
		}
		line := m[1] + " " + u[1]
		for _, p := range paramRow.FindAllStringSubmatch(sec, -1) {
			need := "optional"
			if p[3] == "是" {
				need = "required"
			}
			line += " " + p[1] + ":" + p[2] + ":" + need
		}
		out = append(out, line)
	}
	return out
}

// describedEndpoint writes an endpoint in the fixture's form; the
// signature the client adds to every request is written last.
func describedEndpoint(i int) string {
	ep := Endpoints[i]
	line := ep.Method + " /api/v1" + ep.Path
	for _, p := range ep.Params {
		need := "optional"
		if p.Required {
			need = "required"
		}
		line += fmt.Sprintf(" %s:%s:%s", p.Name, p.Type, need)
	}
	return line + " signature:string:required"
}

func TestEndpointsMatchTheDocument(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile(filepath.Join("testdata", "endpoints.txt"))
	if err != nil {
		t.Fatal(err)
	}
	documented := strings.Split(strings.TrimSpace(string(fixture)), "\n")

	t.Run("fixture matches the document", func(t *testing.T) {
		t.Parallel()
		dir := os.Getenv("SWITCHBOARD_SEEDS")
		if dir == "" {
			dir = filepath.Join("..", "..", "..", "shared", "seeds")
		}
		m, _ := filepath.Glob(filepath.Join(dir, "003_*.txt"))
		if len(m) != 1 {
			t.Skipf("vendor document 003_*.txt not found in %s (set SWITCHBOARD_SEEDS)", dir)
		}
		doc, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := documentedEndpoints(string(doc)); !slices.Equal(got, documented) {
			t.Errorf("the document's endpoints\n%q\ndiffer from testdata/endpoints.txt\n%q", got, documented)
		}
	})

	if len(Endpoints) != len(documented) {
		t.Fatalf("%d endpoints described, %d documented", len(Endpoints), len(documented))
	}
	for i, want := range documented {
		t.Run(strings.Fields(want)[1], func(t *testing.T) {
			t.Parallel()
			if got := describedEndpoint(i); got != want {
				t.Errorf("described as\n%s\ndocumented as\n%s", got, want)
			}
			if name := nameFromPath(Endpoints[i].Path); Endpoints[i].Name != name {
				t.Errorf("name %q, want %q from the path", Endpoints[i].Name, name)
			}
		})
	}
}

// nameFromPath is the SPEC's naming rule: one dotted part per path
// segment, each in lower camelCase.
func nameFromPath(path string) string {
	var parts []string
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		words := strings.Split(seg, "-")
		for j := 1; j < len(words); j++ {
			r := []rune(words[j])
			r[0] = unicode.ToUpper(r[0])
			words[j] = string(r)
		}
		parts = append(parts, strings.Join(words, ""))
	}
	return strings.Join(parts, ".")
}
