package scripts

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInstallDemo(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "scripts")
	wrote, err := InstallDemo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrote) != 1 {
		t.Fatalf("wrote %v", wrote)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "echo.js"))
	want, _ := os.ReadFile("echo.js")
	if string(got) != string(want) || len(want) == 0 {
		t.Fatal("installed echo.js differs from the shipped one")
	}
	// A folder with plugins is left alone.
	os.WriteFile(filepath.Join(dir, "echo.js"), []byte("// mine"), 0o644)
	if wrote, err := InstallDemo(dir); err != nil || len(wrote) != 0 {
		t.Fatalf("second install wrote %v, %v", wrote, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "echo.js")); string(b) != "// mine" {
		t.Fatal("user's file overwritten")
	}
}
