package typegen_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings/typegen"
	"github.com/switchboard-dev/switchboard/runtime"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

// repoRoot is the repository root, two levels above this package.
var repoRoot = filepath.Join("..", "..")

// TestCommittedFilesFresh regenerates the declarations and the binding
// reference from the full runtime registry and fails if the committed
// files differ.
func TestCommittedFilesFresh(t *testing.T) {
	t.Parallel()
	reg, err := runtime.Registry(config.Default(), nil)
	if err != nil {
		t.Fatalf("build the runtime registry: %v", err)
	}
	files := typegen.Files(reg)
	stale, err := typegen.Stale(repoRoot, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Fatalf("%s out of date with the bindings registry: run `go run ./cmd/gen` and commit the result",
			strings.Join(stale, ", "))
	}
	for _, name := range reg.Vendors() {
		if !strings.Contains(string(files[0].Content), "declare const "+name+": {") {
			t.Errorf("the declarations lack vendor %s", name)
		}
	}
	for _, ep := range reg.Endpoints() {
		line := "`" + ep.Method + " " + ep.Path + "` · permission `" + ep.Permission() + "`"
		if !strings.Contains(string(files[0].Content), line) {
			t.Errorf("the declarations lack %s", line)
		}
		if !strings.Contains(string(files[1].Content), "\n### "+ep.Permission()+"\n") {
			t.Errorf("the binding reference lacks %s", ep.Permission())
		}
	}
}
