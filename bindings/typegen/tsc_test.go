package typegen

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// typesDir is the folder of the declarations, its package.json and the
// tsconfig.json that checks the shipped plugins.
var typesDir = filepath.Join("..", "..", "types")

// installHint is what to do when TypeScript is not installed.
const installHint = "run `npm ci` in types/ to install the pinned TypeScript"

// tsc runs the pinned TypeScript compiler over the project of tsconfig and
// fails the test with its diagnostics.
func tsc(t *testing.T, tsconfig string) {
	t.Helper()
	if _, err := exec.LookPath("npx"); err != nil {
		t.Fatalf("npx not found (%v): install Node.js and %s", err, installHint)
	}
	bin := filepath.Join(typesDir, "node_modules", ".bin", "tsc")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("TypeScript is not installed (%v): %s", err, installHint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npx", "--no-install", "tsc", "--noEmit", "--pretty", "false", "-p", tsconfig)
	cmd.Dir = typesDir
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("tsc -p %s did not finish in time:\n%s", tsconfig, out)
	}
	if err != nil {
		t.Fatalf("tsc -p %s: %v\n%s", tsconfig, err, out)
	}
}

// TestTypeScriptPlugins type-checks the generated declarations together
// with the shipped JavaScript plugins (checkJs) and the typed fixture in
// testdata, whose @ts-expect-error lines prove that mistakes are caught.
func TestTypeScriptPlugins(t *testing.T) {
	t.Parallel()
	abs, err := filepath.Abs(filepath.Join(typesDir, "tsconfig.json"))
	if err != nil {
		t.Fatal(err)
	}
	tsc(t, abs)
}

// TestTypeScriptSample type-checks the declarations of the sample registry
// (reserved words, quoted names, positional parameters) with a plugin that
// calls them.
func TestTypeScriptSample(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plugin := strings.Join([]string{
		"async function run(): Promise<string> {",
		"  const sent = await acme.msg.send({ account: 'a', to: ['b'], count: 2, 'x-trace': true, upload: 'f' });",
		"  await acme.msg.delete();",
		"  await acme.msg.delete({ ids: [1], opts: {}, rest: [], anything: 1, odd: 'x' });",
		"  await acme.ping();",
		"  await acme.call(undefined, '/x', { a: 1 });",
		"  await acme.call('d', '/x');",
		"  // @ts-expect-error path is required",
		"  await acme.call('d');",
		"  // @ts-expect-error to is required",
		"  await acme.msg.send({ account: 'a' });",
		"  return sent.msgId;",
		"}",
		"void run();",
		"",
	}, "\n")
	tsconfig := `{
  "compilerOptions": {
    "target": "ES2020", "lib": ["ES2020"], "module": "commonjs", "moduleDetection": "force",
    "noEmit": true, "strict": true, "types": []
  },
  "files": ["switchboard.d.ts", "plugin.ts"]
}
`
	for name, content := range map[string][]byte{
		"switchboard.d.ts": DTS(sampleRegistry(t)),
		"plugin.ts":        []byte(plugin),
		"tsconfig.json":    []byte(tsconfig),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tsc(t, filepath.Join(dir, "tsconfig.json"))
}
