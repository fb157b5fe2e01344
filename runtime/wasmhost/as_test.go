package wasmhost

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// asWasm builds examples/wasm-as with the AssemblyScript compiler from
// npm, installing its locked dependencies first when they are missing.
// npm is required: without it the test fails, it does not skip.
func asWasm(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "examples", "wasm-as")
	return memoBuild(t, "echo-as.wasm", func(out string) error {
		npm, err := exec.LookPath("npm")
		if err != nil {
			return fmt.Errorf("npm is required to build the AssemblyScript example (install Node.js and npm, e.g. `apt-get install nodejs npm`): %w", err)
		}
		npx, err := exec.LookPath("npx")
		if err != nil {
			return fmt.Errorf("npx is required to build the AssemblyScript example (it ships with npm): %w", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "assemblyscript", "package.json")); err != nil {
			cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, b)
			}
		}
		cmd := exec.Command(npx, "--no-install", "asc", "assembly/index.ts", "--outFile", out,
			"--use", "abort=assembly/index/abort", "--optimize", "--runtime", "incremental")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npx asc in %s: %v\n%s", dir, err, b)
		}
		return nil
	})
}

func TestASExampleEcho(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		manifest, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "wasm-as", "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		te := newTestEnv(t, "echo", asWasm(t), string(manifest), echoAllow)
		h := load(t, newLoader(t, Options{engine: eng}), te)
		tests := []struct{ name, text, want string }{
			{"ping gets pong", "ping", "pong"},
			{"text is echoed trimmed", " hi  ", "echo: hi"},
			{"quotes and newlines survive", "say \"hi\"\nbye", "echo: say \"hi\"\nbye"},
			{"unicode survives", "你好 👋", "echo: 你好 👋"},
		}
		for i, tc := range tests {
			if err := h.Handle(ctxT(t), textEvent(fmt.Sprint("e", i), "S:wxid_alice", tc.text)); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			calls := te.inv.Calls()
			if len(calls) != i+1 || calls[i].Method != "msg.text" || calls[i].Args["content"] != tc.want {
				t.Fatalf("%s: calls %+v, want reply %q", tc.name, calls, tc.want)
			}
		}
		if n, err := te.kv.Get("replies"); err != nil || string(n) != fmt.Sprint(len(tests)) {
			t.Errorf("kv replies = %s (%v), want %d", n, err, len(tests))
		}
		if logs := te.logs.String(); !strings.Contains(logs, `"@message":"replied"`) || !strings.Contains(logs, `"n":4`) {
			t.Errorf("log has no replied line with n=4:\n%s", logs)
		}
		self := textEvent("self", "S:wxid_alice", "ping")
		self.Message.Self = true
		if err := h.Handle(ctxT(t), self); err != nil || len(te.inv.Calls()) != len(tests) {
			t.Errorf("own message: err %v, %d calls; want no reply", err, len(te.inv.Calls()))
		}
	})
}
