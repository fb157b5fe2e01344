package typegen

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings"
)

// sampleRegistry is a registry with the shapes the generator must handle:
// nested names, a name that is a reserved word, positional parameters with
// an optional one before a required one, parameter names that need
// quoting, documentation that would close a comment or break a table, and
// an endpoint without parameters.
func sampleRegistry(t *testing.T) *bindings.Registry {
	t.Helper()
	reg := bindings.NewRegistry()
	err := reg.Add(bindings.Vendor{
		Name: "acme",
		Doc:  "Acme test vendor | with a pipe.",
		Endpoints: []bindings.Endpoint{
			{Name: "msg.send", Method: "POST", Path: "/msg/send", Class: bindings.Send,
				Doc: "Send a message. A doc that says */ must not end the comment.",
				Params: []bindings.Param{
					{Name: "account", Type: bindings.String, Required: true, Doc: "the account"},
					{Name: "to", Type: bindings.Strings, Required: true, Doc: "receivers | many"},
					{Name: "count", Type: bindings.Int, Doc: "how many"},
					{Name: "x-trace", Type: bindings.Bool, Doc: "a header-like name"},
					{Name: "upload", Type: bindings.File, In: bindings.InForm, Doc: "a file"},
				},
				Result: "{ msgId: string }", AccountParam: "account"},
			{Name: "msg.delete", Method: "DELETE", Path: "/msg", Params: []bindings.Param{
				{Name: "ids", Type: bindings.Ints, Doc: "message ids"},
				{Name: "opts", Type: bindings.Object},
				{Name: "rest", Type: bindings.Array},
				{Name: "anything", Type: bindings.Any},
				{Name: "odd", Type: bindings.Type("mystery")},
			}},
			{Name: "ping", Method: "GET", Path: "/ping", Doc: "Reachability."},
			{Name: "call", Method: "POST", Path: "/", Positional: true, Params: []bindings.Param{
				{Name: "default", Type: bindings.String, Doc: "a reserved word as a name"},
				{Name: "path", Type: bindings.String, Required: true, Doc: "the path"},
				{Name: "body", Type: bindings.Object, Doc: "the body"},
			}},
		},
	})
	if err != nil {
		t.Fatalf("build sample registry: %v", err)
	}
	return reg
}

func TestDTSSample(t *testing.T) {
	t.Parallel()
	out := string(DTS(sampleRegistry(t)))
	for _, tc := range []struct{ name, want string }{
		{"header", "// " + header + "\n"},
		{"vendor object", "declare const acme: {\n"},
		{"nested namespace", "  msg: {\n"},
		{"reserved word method", "    delete(args?: {\n"},
		{"required param", "      account: string;\n"},
		{"strings param", "      to: string[];\n"},
		{"optional int", "      count?: number;\n"},
		{"quoted name", "      \"x-trace\"?: boolean;\n"},
		{"file param", "      upload?: string;\n"},
		{"form note", "a file (form field)"},
		{"ints", "      ids?: number[];\n"},
		{"object", "      opts?: Record<string, any>;\n"},
		{"array", "      rest?: any[];\n"},
		{"any", "      anything?: any;\n"},
		{"unknown type is any", "      odd?: any;\n"},
		{"result type", "}): Promise<{ msgId: string }>;\n"},
		{"default result", "}): Promise<any>;\n"},
		{"method path permission class", "`POST /msg/send` · permission `acme.msg.send` · class send"},
		{"query class", "`DELETE /msg` · permission `acme.msg.delete` · class query"},
		{"escaped comment end", "says *\\/ must not"},
		{"no params", "  ping(args?: {}): Promise<any>;\n"},
		{"positional", "  call(arg0: string | undefined, path: string, body?: Record<string, any>): Promise<any>;\n"},
		{"positional doc", "@param path the path"},
		{"vendor in union", "| \"acme\""},
		{"event type union", "| \"room.member_added\""},
		{"message pattern", "| \"message.text\""},
		{"prefix pattern", "| \"room.*\""},
		{"on", "declare function on<P extends Switchboard.Pattern>"},
		{"kv", "declare const kv: Switchboard.KV;"},
	} {
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: DTS lacks %q", tc.name, tc.want)
		}
	}
	if strings.Count(out, "*/ must") != 0 {
		t.Error("a doc comment is closed early by the documentation text")
	}
}

func TestMarkdownSample(t *testing.T) {
	t.Parallel()
	out := string(Markdown(sampleRegistry(t)))
	for _, tc := range []struct{ name, want string }{
		{"header", "<!-- " + header + " -->\n"},
		{"index", "| [acme](#acme) | 4 |\n"},
		{"vendor doc escaped", "Acme test vendor | with a pipe."},
		{"function index", "| [`acme.msg.send`](#acmemsgsend) | POST | `/msg/send` | send |\n"},
		{"endpoint heading", "\n### acme.msg.send\n"},
		{"method path permission", "`POST /msg/send` · permission `acme.msg.send` · class send"},
		{"signature", "acme.msg.send(args: { account, to, count?, \"x-trace\"?, upload? }): Promise<{ msgId: string }>"},
		{"positional signature", "acme.call(arg0: string | undefined, path: string, body?: Record<string, any>): Promise<any>"},
		{"param row", "| `account` | `string` | yes | body | the account |\n"},
		{"escaped pipe", "| receivers \\| many |"},
		{"form param", "| `upload` | `string` | no | form | a file |"},
		{"query param", "| `ids` | `number[]` | no | body | message ids |"},
		{"no params", "No parameters."},
		{"account", "The account the call acts for is `account`."},
	} {
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: Markdown lacks %q", tc.name, tc.want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	a, b := sampleRegistry(t), sampleRegistry(t)
	for i := 0; i < 5; i++ {
		if !bytes.Equal(DTS(a), DTS(b)) {
			t.Fatal("DTS differs between two runs over equal registries")
		}
		if !bytes.Equal(Markdown(a), Markdown(b)) {
			t.Fatal("Markdown differs between two runs over equal registries")
		}
	}
}

func TestEmptyRegistry(t *testing.T) {
	t.Parallel()
	reg := bindings.NewRegistry()
	if err := reg.Add(bindings.Vendor{Name: "empty"}); err != nil {
		t.Fatal(err)
	}
	if out := string(DTS(reg)); !strings.Contains(out, "declare const empty: {\n};") {
		t.Errorf("a vendor without endpoints is not an empty object:\n%s", out[len(out)-300:])
	}
	if out := string(Markdown(reg)); !strings.Contains(out, "## empty\n\nNo endpoints.\n") {
		t.Error("a vendor without endpoints is not listed as such")
	}
}

func TestWrap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		in    string
		width int
		want  []string
	}{
		{"empty", "", 10, nil},
		{"fits", "a b c", 10, []string{"a b c"}},
		{"breaks", "aaa bbb ccc", 7, []string{"aaa bbb", "ccc"}},
		{"long word stays whole", "abcdefghij x", 4, []string{"abcdefghij", "x"}},
		{"paragraphs", "one\n\ntwo", 10, []string{"one", "", "two"}},
		{"collapses space", "  a \n  b  ", 10, []string{"a b"}},
		{"counts runes", "聚合聊天 聚合聊天", 9, []string{"聚合聊天 聚合聊天"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := wrap(tc.in, tc.width)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") || len(got) != len(tc.want) {
				t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
			}
		})
	}
}

func TestAnchor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"quntool.msg.text", "quntoolmsgtext"},
		{"Binding reference", "binding-reference"},
		{"wework.msg.send_text", "weworkmsgsend_text"},
	} {
		if got := anchor(tc.in); got != tc.want {
			t.Errorf("anchor(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriteAndStale(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := Files(sampleRegistry(t))
	stale, err := Stale(root, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != len(files) {
		t.Fatalf("missing files: Stale = %v, want all of %d", stale, len(files))
	}
	if err := Write(root, files); err != nil {
		t.Fatal(err)
	}
	if stale, err = Stale(root, files); err != nil || len(stale) != 0 {
		t.Fatalf("after Write: Stale = %v, %v; want none", stale, err)
	}
	path := filepath.Join(root, filepath.FromSlash(MarkdownPath))
	if err := os.WriteFile(path, []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stale, err = Stale(root, files); err != nil || len(stale) != 1 || stale[0] != MarkdownPath {
		t.Fatalf("after an edit: Stale = %v, %v; want [%s]", stale, err, MarkdownPath)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Stale(root, files); err == nil {
		t.Error("Stale over a folder in place of a file: no error")
	}
	plain := filepath.Join(root, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(plain, files); err == nil {
		t.Error("Write below a file: no error")
	}
}
