// Command gen regenerates the files derived from the bindings registry:
// the TypeScript declarations types/switchboard.d.ts and the binding
// reference docs/bindings.md. Run it from the repository root after
// changing an endpoint table:
//
//	go run ./cmd/gen          # write the files
//	go run ./cmd/gen -check   # exit 1 if a committed file is stale
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/switchboard-dev/switchboard/bindings/typegen"
	"github.com/switchboard-dev/switchboard/runtime"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

func main() {
	root := flag.String("root", ".", "the repository root the files are written below")
	check := flag.Bool("check", false, "write nothing; fail if a generated file is missing or stale")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(root string, check bool) error {
	if _, err := os.Stat(root + "/go.mod"); err != nil {
		return fmt.Errorf("%s is not the repository root (no go.mod): %w", root, err)
	}
	reg, err := runtime.Registry(config.Default(), nil)
	if err != nil {
		return fmt.Errorf("build the bindings registry: %w", err)
	}
	files := typegen.Files(reg)
	if check {
		stale, err := typegen.Stale(root, files)
		if err != nil {
			return err
		}
		if len(stale) > 0 {
			return fmt.Errorf("stale generated files: %s; run `go run ./cmd/gen`", strings.Join(stale, ", "))
		}
		return nil
	}
	if err := typegen.Write(root, files); err != nil {
		return err
	}
	for _, f := range files {
		fmt.Printf("wrote %s (%d bytes)\n", f.Path, len(f.Content))
	}
	return nil
}
