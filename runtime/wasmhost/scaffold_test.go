package wasmhost

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestScaffold(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "greeter")
	if err := Scaffold(dir, "greeter"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.go", "manifest.json", "go.mod", "Makefile", "README.md"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", f, err, len(b))
		}
		if strings.Contains(string(b), "{{") {
			t.Errorf("%s has an unreplaced placeholder:\n%s", f, b)
		}
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(manifest, &m); err != nil || m["name"] != "greeter" {
		t.Errorf("manifest %s: %v", manifest, err)
	}

	t.Run("never overwrites", func(t *testing.T) {
		before, _ := os.ReadFile(filepath.Join(dir, "main.go"))
		if err := os.Remove(filepath.Join(dir, "README.md")); err != nil {
			t.Fatal(err)
		}
		if err := Scaffold(dir, "greeter"); !errors.Is(err, ErrScaffoldExists) {
			t.Fatalf("err = %v, want ErrScaffoldExists", err)
		}
		after, _ := os.ReadFile(filepath.Join(dir, "main.go"))
		if string(before) != string(after) {
			t.Errorf("main.go changed")
		}
		if _, err := os.Stat(filepath.Join(dir, "README.md")); err == nil {
			t.Errorf("a refused scaffold wrote README.md")
		}
	})
	t.Run("bad names", func(t *testing.T) {
		for _, name := range []string{"", "../x", "a b", ".hidden"} {
			if err := Scaffold(t.TempDir(), name); err == nil {
				t.Errorf("Scaffold(%q) succeeded", name)
			}
		}
	})
	t.Run("builds and answers", func(t *testing.T) {
		// Build the scaffolded main.go as a package of this module through
		// an overlay, so the PDK resolves without a network.
		out := filepath.Join(t.TempDir(), "greeter.wasm")
		virtual := filepath.Join(repoRoot(t), "runtime", "wasmhost", "testdata", "scaffolded", "main.go")
		overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{virtual: filepath.Join(dir, "main.go")}})
		if err != nil {
			t.Fatal(err)
		}
		ov := filepath.Join(t.TempDir(), "overlay.json")
		if err := os.WriteFile(ov, overlay, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("go", "build", "-overlay", ov, "-buildmode=c-shared", "-o", out, "./runtime/wasmhost/testdata/scaffolded")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build the scaffold: %v\n%s", err, b)
		}
		te := newTestEnv(t, "greeter", out, string(manifest), echoAllow)
		h := load(t, newLoader(t, Options{}), te)
		for i, text := range []string{"ping", "hello", " ping "} {
			if err := h.Handle(ctxT(t), textEvent(fmt.Sprint("e", i), "S:wxid_alice", text)); err != nil {
				t.Fatal(err)
			}
		}
		calls := te.inv.Calls()
		if len(calls) != 2 || calls[0].Args["content"] != "pong" {
			t.Errorf("calls = %+v, want two pongs", calls)
		}
		if n, err := te.kv.Get("pings"); err != nil || string(n) != "2" {
			t.Errorf("pings = %s, %v", n, err)
		}
	})
}
