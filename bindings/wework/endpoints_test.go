package wework

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings"
)

// apiPath is how the vendor documents name an endpoint: its path under one
// of the API's four modules.
var apiPath = regexp.MustCompile(`/(client|login|session|msg)/[a-z_]+`)

// documentedPaths reads the endpoint paths of a text, sorted and unique.
func documentedPaths(text []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, apiPath.FindAllString(sc.Text(), -1)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// seedDocs reads the two vendor documents of this API where they are
// available (SWITCHBOARD_SEEDS, or the shared folder beside the repository).
func seedDocs(t *testing.T) []byte {
	t.Helper()
	dir := os.Getenv("SWITCHBOARD_SEEDS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "seeds")
	}
	var all []byte
	for _, pattern := range []string{"000_*.txt", "001_*.txt"} {
		m, _ := filepath.Glob(filepath.Join(dir, pattern))
		if len(m) != 1 {
			t.Skipf("vendor document %s not found in %s (set SWITCHBOARD_SEEDS)", pattern, dir)
		}
		b, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// TestEndpointsCoverTheDocuments checks the table against every path the
// vendor documents name: testdata/endpoints.txt holds them, and is compared
// with the documents themselves where they are available.
func TestEndpointsCoverTheDocuments(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile("testdata/endpoints.txt")
	if err != nil {
		t.Fatal(err)
	}
	documented := documentedPaths(fixture)
	if len(documented) != 12 {
		t.Fatalf("testdata/endpoints.txt names %d paths, want the documents' 12", len(documented))
	}
	t.Run("fixture matches the documents", func(t *testing.T) {
		t.Parallel()
		if got := documentedPaths(seedDocs(t)); !slices.Equal(got, documented) {
			t.Errorf("the documents' paths\n%v\ndiffer from testdata/endpoints.txt\n%v", got, documented)
		}
	})
	var described []string
	for _, ep := range Endpoints {
		described = append(described, ep.Path)
	}
	slices.Sort(described)
	if !slices.Equal(described, documented) {
		t.Errorf("described paths\n%v\nwant the documented\n%v", described, documented)
	}
}

func TestEndpointTable(t *testing.T) {
	t.Parallel()
	reg := bindings.NewRegistry()
	if err := reg.Add(Vendor(nil)); err != nil {
		t.Fatalf("registry refuses the table: %v", err)
	}
	names := map[string]bool{}
	for _, ep := range Endpoints {
		t.Run(ep.Path, func(t *testing.T) {
			t.Parallel()
			if ep.Vendor != Name {
				t.Errorf("vendor %q", ep.Vendor)
			}
			if ep.Name != EndpointName(ep.Path) {
				t.Errorf("name %q, the rule gives %q", ep.Name, EndpointName(ep.Path))
			}
			if ep.Doc == "" {
				t.Error("no doc")
			}
			for _, p := range ep.Params {
				if p.Doc == "" || p.Type == "" {
					t.Errorf("param %s lacks a doc or a type", p.Name)
				}
			}
			g, hasGUID := ep.Param("guid")
			switch {
			case strings.HasPrefix(ep.Path, "/client/create_client"), ep.Path == "/client/all_clients":
				if hasGUID || ep.AccountParam != "" {
					t.Error("instance-wide endpoint takes a guid")
				}
			case !hasGUID || !g.Required || ep.AccountParam != "guid":
				t.Errorf("guid param %+v, AccountParam %q; want a required guid as the account", g, ep.AccountParam)
			}
			if send := strings.HasPrefix(ep.Path, "/msg/"); send != (ep.Class == bindings.Send) {
				t.Errorf("class %v for %s", ep.Class, ep.Path)
			}
			if ep.Class == bindings.Send {
				if c, ok := ep.Param("conversation_id"); !ok || !c.Required {
					t.Error("send without a required conversation_id")
				}
			}
			if ep.Method != "POST" && ep.Path != "/client/all_clients" {
				t.Errorf("method %s", ep.Method)
			}
		})
		if names[ep.Name] {
			t.Errorf("name %s used twice", ep.Name)
		}
		names[ep.Name] = true
	}
}

func TestEndpointName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, want string }{
		{"/msg/send_text", "msg.sendText"},
		{"/msg/send_room_at", "msg.sendRoomAt"},
		{"/client/set_notify_url", "client.setNotifyUrl"},
		{"/client/all_clients", "client.allClients"},
		{"/login/verify_login_qrcode", "login.verifyLoginQrcode"},
		{"session/get_session_list/", "session.getSessionList"},
		{"/a/double__underscore", "a.doubleUnderscore"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			if got := EndpointName(tc.path); got != tc.want {
				t.Errorf("EndpointName(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}
