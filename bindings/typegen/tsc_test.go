package typegen

import (
	"context"
	"errors"
	"fmt"
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

// errNotInstalled is the error of a check that found no TypeScript.
var errNotInstalled = errors.New("TypeScript is not installed: " + installHint)

// runTSC runs the TypeScript compiler installed in dir over the project of
// tsconfig. Without npx or the installed compiler it fails with
// errNotInstalled; a failed check returns tsc's diagnostics.
func runTSC(ctx context.Context, dir, tsconfig string) error {
	if _, err := exec.LookPath("npx"); err != nil {
		return fmt.Errorf("%w (npx: %v)", errNotInstalled, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "tsc")); err != nil {
		return fmt.Errorf("%w (%v)", errNotInstalled, err)
	}
	cmd := exec.CommandContext(ctx, "npx", "--no-install", "tsc", "--noEmit", "--pretty", "false", "-p", tsconfig)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("tsc -p %s: %w\n%s", tsconfig, ctx.Err(), out)
	}
	if err != nil {
		return fmt.Errorf("tsc -p %s: %w\n%s", tsconfig, err, out)
	}
	return nil
}

// tsc type-checks the project of tsconfig with the pinned compiler of
// types/ and fails the test with the diagnostics.
func tsc(t *testing.T, tsconfig string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := runTSC(ctx, typesDir, tsconfig); err != nil {
		t.Fatal(err)
	}
}

func TestTypeScriptNotInstalled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := runTSC(ctx, t.TempDir(), "tsconfig.json")
	if !errors.Is(err, errNotInstalled) || !strings.Contains(err.Error(), "npm ci") {
		t.Fatalf("runTSC without an installed compiler: %v, want an error saying to run npm ci", err)
	}
}

// TestTypeScriptCatchesErrors proves the check fails on a plugin that does
// not type-check.
func TestTypeScriptCatchesErrors(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, DTS(sampleRegistry(t)), "void acme.msg.send({ account: 1 });\n")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := runTSC(ctx, typesDir, filepath.Join(dir, "tsconfig.json"))
	if err == nil || errors.Is(err, errNotInstalled) || !strings.Contains(err.Error(), "TS2") {
		t.Fatalf("tsc over a wrong call: %v, want TypeScript diagnostics", err)
	}
}

// writeProject writes a TypeScript project of declarations and one plugin
// file to a temporary folder and returns it.
func writeProject(t *testing.T, dts []byte, plugin string) string {
	t.Helper()
	dir := t.TempDir()
	tsconfig := `{
  "compilerOptions": {
    "target": "ES2020", "lib": ["ES2020"], "module": "commonjs", "moduleDetection": "force",
    "noEmit": true, "strict": true, "types": []
  },
  "files": ["switchboard.d.ts", "plugin.ts"]
}
`
	for name, content := range map[string][]byte{
		"switchboard.d.ts": dts,
		"plugin.ts":        []byte(plugin),
		"tsconfig.json":    []byte(tsconfig),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
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
	dir := writeProject(t, DTS(sampleRegistry(t)), plugin)
	tsc(t, filepath.Join(dir, "tsconfig.json"))
}
