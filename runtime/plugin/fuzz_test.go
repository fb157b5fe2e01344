package plugin_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// jsonBlock is a fenced JSON example of a Markdown document.
var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

// FuzzParseManifest parses what the fuzzer makes of the documented
// manifest (docs/manifest.md) and of manifests with every kind of mistake.
// ParseManifest must not panic, must wrap plugin.ErrManifest in every
// error, and a manifest it accepts must be valid JSON, validate, and come
// back the same after encoding and parsing again.
func FuzzParseManifest(f *testing.F) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "manifest.md"))
	if err != nil {
		f.Fatal(err)
	}
	blocks := jsonBlock.FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		f.Fatal("docs/manifest.md has no json example")
	}
	for _, b := range blocks {
		f.Add(b[1])
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{} {}`, `{"name":`,
		`{"name":"autoreply","version":"1.2.0","events":["message.text","room.*"],"permissions":["quntool.msg.*","kv"],"accounts":["*"],"limits":{"timeout_ms":2000,"memory_mb":64,"max_pending":32},"retries":3,"config":{"a":[1,{"b":null}]}}`,
		`{"permisions":["kv"]}`,
		`{"name":"../x"}`,
		`{"events":["message..text","*.text","*"]}`,
		`{"permissions":["quntool/msg"]}`,
		`{"accounts":[" "]}`,
		`{"limits":{"timeout_ms":600001,"memory_mb":-1,"max_pending":-1}}`,
		`{"retries":101}`,
		`{"events":"message"}`,
		`{"retries":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := plugin.ParseManifest(data)
		switch {
		case err != nil && !errors.Is(err, plugin.ErrManifest):
			t.Fatalf("error %v does not wrap plugin.ErrManifest", err)
		case err != nil && m != nil:
			t.Fatalf("error %v, and a manifest", err)
		case err != nil:
			return
		case m == nil:
			t.Fatal("neither a manifest nor an error")
		}
		if !json.Valid(data) {
			t.Fatal("accepted a manifest that is not valid JSON")
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted a manifest that does not validate: %v", err)
		}
		encoded, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("accepted manifest not encodable: %v", err)
		}
		again, err := plugin.ParseManifest(encoded)
		if err != nil {
			t.Fatalf("accepted manifest refused once encoded as %s: %v", encoded, err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("manifest changed by encoding and parsing again:\n%+v\n%+v", m, again)
		}
	})
}
