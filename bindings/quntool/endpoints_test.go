package quntool

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/switchboard-dev/switchboard/bindings"
)

// endpointLine is how the vendor document introduces an endpoint.
var endpointLine = regexp.MustCompile(`^(GET|POST|PUT|DELETE) (/\S*)`)

// documentedEndpoints reads "METHOD /path" lines.
func documentedEndpoints(t *testing.T, text []byte) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := endpointLine.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, m[1]+" "+m[2])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEndpointsCoverTheDocument checks the table against the endpoint
// lines of the vendor document: testdata/endpoints.txt holds them, and is
// compared with the document itself where it is available.
func TestEndpointsCoverTheDocument(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile("testdata/endpoints.txt")
	if err != nil {
		t.Fatal(err)
	}
	documented := documentedEndpoints(t, fixture)

	t.Run("fixture matches the document", func(t *testing.T) {
		t.Parallel()
		doc, err := os.ReadFile(seedPath(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := documentedEndpoints(t, doc); !slices.Equal(got, documented) {
			t.Errorf("the document's endpoints\n%v\ndiffer from testdata/endpoints.txt\n%v", got, documented)
		}
	})

	paths := map[string]bool{}
	for _, d := range documented {
		paths[strings.Fields(d)[1]] = true
	}
	// The vendor counts 57 endpoints: 57 paths, one of them (/group/member)
	// with two methods.
	if len(paths) != 57 || len(documented) != 58 {
		t.Errorf("document: %d paths, %d method+path pairs; want 57 and 58", len(paths), len(documented))
	}
	if len(Endpoints) != len(documented) {
		t.Errorf("%d endpoints described, %d documented", len(Endpoints), len(documented))
	}
	var described []string
	for _, ep := range Endpoints {
		key := ep.Method + " " + ep.Path
		if slices.Contains(described, key) {
			t.Errorf("%s described twice", key)
		}
		described = append(described, key)
	}
	sameSet(t, described, documented, "documented endpoint %s is not described", "described endpoint %s is not in the document")
}

// nameAliases are the documented departures from the path: the vendor
// spells "miniProgram" both ways and the binding uses one namespace.
var nameAliases = map[string]string{"miniprogram": "miniProgram"}

// verbs are the name endings allowed per method when a verb is needed.
var verbs = map[string][]string{
	http.MethodPost:   {"add", "create"},
	http.MethodDelete: {"remove"},
	http.MethodPut:    {"update"},
	http.MethodGet:    {"get", "list"},
}

func pathName(p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		if a, ok := nameAliases[s]; ok {
			s = a
		}
		r := []rune(s)
		r[0] = unicode.ToLower(r[0])
		segs[i] = string(r)
	}
	return strings.Join(segs, ".")
}

func TestEndpointNames(t *testing.T) {
	t.Parallel()
	methods := map[string]int{}
	base := map[string]bool{}
	for _, ep := range Endpoints {
		methods[ep.Path]++
		base[pathName(ep.Path)] = true
	}
	names := map[string]bool{}
	for _, ep := range Endpoints {
		if names[ep.Name] {
			t.Errorf("name %s used twice", ep.Name)
		}
		names[ep.Name] = true
		if ep.Vendor != Name || ep.Permission() != "quntool."+ep.Name {
			t.Errorf("%s: vendor %q, permission %q", ep.Name, ep.Vendor, ep.Permission())
		}

		stem := pathName(ep.Path)
		isNamespace := false
		for other := range base {
			if strings.HasPrefix(other, stem+".") {
				isNamespace = true
			}
		}
		bare := !strings.Contains(stem, ".")
		needsVerb := methods[ep.Path] > 1 || isNamespace || bare
		if !needsVerb {
			if ep.Name != stem {
				t.Errorf("%s %s: name %s, want %s", ep.Method, ep.Path, ep.Name, stem)
			}
			continue
		}
		verb, ok := strings.CutPrefix(ep.Name, stem+".")
		if !ok || !slices.Contains(verbs[ep.Method], verb) {
			t.Errorf("%s %s: name %s, want %s.{%s}", ep.Method, ep.Path, ep.Name, stem, strings.Join(verbs[ep.Method], "|"))
		}
	}
	// The names the product specification fixes.
	for _, want := range []string{"msg.text", "msg.roomAt", "contact.external.list", "group.member.add", "group.member.remove", "group.create"} {
		if !names[want] {
			t.Errorf("endpoint %s missing", want)
		}
	}
}

func TestEndpointDescriptions(t *testing.T) {
	t.Parallel()
	for _, ep := range Endpoints {
		if strings.TrimSpace(ep.Doc) == "" {
			t.Errorf("%s: no doc", ep.Name)
		}
		if !strings.HasPrefix(ep.Path, "/") || strings.HasPrefix(ep.Path, "/gnapi") {
			t.Errorf("%s: path %q must be relative to the /gnapi/open base URL", ep.Name, ep.Path)
		}
		seen := map[string]bool{}
		hasAccount := false
		for _, p := range ep.Params {
			key := strings.ToLower(p.Name)
			if seen[key] {
				t.Errorf("%s: parameter %s twice (names are case-insensitive)", ep.Name, p.Name)
			}
			seen[key] = true
			if strings.TrimSpace(p.Doc) == "" || p.Type == "" {
				t.Errorf("%s: parameter %s lacks a doc or a type", ep.Name, p.Name)
			}
			if p.Name == accountParam {
				hasAccount = true
			}
		}
		if hasAccount != (ep.AccountParam == accountParam) {
			t.Errorf("%s: has wxId %v, AccountParam %q", ep.Name, hasAccount, ep.AccountParam)
		}
		isSend := strings.HasPrefix(ep.Name, "msg.") || ep.Name == "miniProgram.send" || ep.Name == "videonum.send"
		if isSend != (ep.Class == bindings.Send) {
			t.Errorf("%s: class %v", ep.Name, ep.Class)
		}
		if ep.Class == bindings.Send {
			if _, ok := ep.Param(conversationParam); !ok || ep.Method != http.MethodPost {
				t.Errorf("%s: a send must be a POST with a conversationId", ep.Name)
			}
		}
	}
}

func TestVendorRegisters(t *testing.T) {
	t.Parallel()
	reg := bindings.NewRegistry()
	if err := reg.Add(Vendor(nil)); err != nil {
		t.Fatalf("registry refuses the vendor: %v", err)
	}
	v, ok := reg.Vendor(Name)
	if !ok || v.Client != nil || v.Reply == nil || v.Normalize == nil || len(v.Endpoints) != len(Endpoints) {
		t.Fatalf("registered vendor = %+v", v)
	}
	if n, ok := reg.Normalizer(Name); !ok || n == nil {
		t.Error("no normalizer registered")
	}
	ep, err := reg.Lookup(Name, "group.member.remove")
	if err != nil || ep.Method != http.MethodDelete || ep.Path != "/group/member" {
		t.Errorf("Lookup(group.member.remove) = %+v, %v", ep, err)
	}
	// Vendor hands out its own copy of the table.
	v.Endpoints[0].Name = "changed"
	if Endpoints[0].Name == "changed" {
		t.Error("Vendor shares the package's endpoint table")
	}
}
