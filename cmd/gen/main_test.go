package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings/typegen"
)

func TestRun(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := run(root, false); err == nil || !strings.Contains(err.Error(), "no go.mod") {
		t.Fatalf("run outside a repository root: %v, want a no go.mod error", err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.invalid/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(root, true); err == nil || !strings.Contains(err.Error(), "go run ./cmd/gen") {
		t.Fatalf("check before generating: %v, want a stale error naming go run ./cmd/gen", err)
	}
	if err := run(root, false); err != nil {
		t.Fatalf("generate: %v", err)
	}
	for _, p := range []string{typegen.DTSPath, typegen.MarkdownPath} {
		if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil || fi.Size() == 0 {
			t.Fatalf("%s not written: %v", p, err)
		}
	}
	if err := run(root, true); err != nil {
		t.Fatalf("check after generating: %v", err)
	}
	dts := filepath.Join(root, filepath.FromSlash(typegen.DTSPath))
	if err := os.WriteFile(dts, []byte("// edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(root, true); err == nil || !strings.Contains(err.Error(), typegen.DTSPath) {
		t.Fatalf("check after an edit: %v, want a stale error naming %s", err, typegen.DTSPath)
	}
}
