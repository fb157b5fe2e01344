package wechat

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings"
)

// seedPath finds the vendor document. It lives outside the module; tests
// that need it are skipped where it is absent.
func seedPath(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SWITCHBOARD_SEEDS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "seeds")
	}
	m, _ := filepath.Glob(filepath.Join(dir, "002_*.txt"))
	if len(m) != 1 {
		t.Skipf("vendor document 002_*.txt not found in %s (set SWITCHBOARD_SEEDS)", dir)
	}
	return m[0]
}

// documentedPath is how the document writes an endpoint's path.
var documentedPath = regexp.MustCompile("`(/[a-z_]+/[a-z_]+)`")

func documentedPaths(text string) []string {
	var out []string
	for _, m := range documentedPath.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

func TestEveryDocumentedPathIsBound(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile("testdata/endpoints.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(fixture))
	t.Run("fixture matches the document", func(t *testing.T) {
		t.Parallel()
		doc, err := os.ReadFile(seedPath(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := documentedPaths(string(doc)); !slices.Equal(got, want) {
			t.Errorf("the document's paths\n%v\ndiffer from testdata/endpoints.txt\n%v", got, want)
		}
	})
	// 8 client, 4 login, 3 user, 9 contact and 2 cdn endpoints have paths.
	if len(want) != 26 {
		t.Fatalf("fixture lists %d paths, want 26", len(want))
	}
	byPath := map[string]*bindings.Endpoint{}
	for i := range Endpoints {
		byPath[Endpoints[i].Path] = &Endpoints[i]
	}
	for _, p := range want {
		ep := byPath[p]
		if ep == nil {
			t.Errorf("documented path %s is not bound", p)
			continue
		}
		if ep.Name != NameOf(p) {
			t.Errorf("%s is named %s, want %s", p, ep.Name, NameOf(p))
		}
	}
	// Every other endpoint is a message send or call.
	for _, ep := range Endpoints {
		if slices.Contains(want, ep.Path) || ep.Name == callName {
			continue
		}
		if !strings.HasPrefix(ep.Path, "/msg/send_") || ep.Class != bindings.Send {
			t.Errorf("%s (%s) is neither documented with its path nor a message send", ep.Name, ep.Path)
		}
	}
}

func TestEndpointTable(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, ep := range Endpoints {
		t.Run(ep.Name, func(t *testing.T) {
			t.Parallel()
			if ep.Vendor != Name || ep.Method != "POST" || ep.Doc == "" {
				t.Errorf("vendor %q method %q doc %q", ep.Vendor, ep.Method, ep.Doc)
			}
			if ep.Name == callName {
				if !ep.Positional || ep.AccountParam != "" || len(ep.Params) != 2 ||
					ep.Params[0].Name != "path" || ep.Params[0].Type != bindings.String || !ep.Params[0].Required ||
					ep.Params[1].Name != "body" || ep.Params[1].Type != bindings.Object {
					t.Errorf("call is %+v", ep)
				}
				return
			}
			if ep.AccountParam != "guid" || len(ep.Params) == 0 || ep.Params[0].Name != "guid" || !ep.Params[0].Required {
				t.Errorf("%s does not take guid first: %+v", ep.Name, ep.Params)
			}
			if ep.Positional {
				t.Errorf("%s is positional", ep.Name)
			}
			seen := map[string]bool{}
			for _, p := range ep.Params {
				if seen[p.Name] || p.Doc == "" {
					t.Errorf("%s: parameter %q repeated or undocumented", ep.Name, p.Name)
				}
				seen[p.Name] = true
			}
			if ep.Class == bindings.Send && (len(ep.Params) < 2 || ep.Params[1].Name != "to_username") {
				t.Errorf("send %s does not take to_username second", ep.Name)
			}
		})
		if names[ep.Name] {
			t.Errorf("name %s is used twice", ep.Name)
		}
		names[ep.Name] = true
	}
	reg := bindings.NewRegistry()
	if err := reg.Add(Vendor(nil)); err != nil {
		t.Fatalf("the registry refuses the table: %v", err)
	}
}

func TestNameOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ path, want string }{
		{"/client/set_notify_url", "client.setNotifyUrl"},
		{"/contact/batch_get_contact_brief_info", "contact.batchGetContactBriefInfo"},
		{"/cdn/get_cdn_info", "cdn.getCdnInfo"},
		{"/user/logout", "user.logout"},
		{"/msg/send_emoji_url", "msg.sendEmojiUrl"},
		{"/Room/Get_Info/", "room.getInfo"},
	} {
		t.Run(c.path, func(t *testing.T) {
			t.Parallel()
			if got := NameOf(c.path); got != c.want {
				t.Errorf("NameOf(%q) = %q, want %q", c.path, got, c.want)
			}
		})
	}
}
