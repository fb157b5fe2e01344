// Package scripts carries the demo plugins that ship in ./scripts, so that
// the binary alone can run its embedded default: `switchboard run --sim`
// installs them into an empty scripts_dir.
package scripts

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed echo.js
var demo embed.FS

// InstallDemo writes the demo plugins into dir when dir has no plugin
// files at all; it never overwrites anything. It reports what it wrote.
func InstallDemo(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".js" || e.IsDir() {
			return nil, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	var wrote []string
	err = fs.WalkDir(demo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := demo.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, p)
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		wrote = append(wrote, dst)
		return nil
	})
	return wrote, err
}
