package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/internal/scaffold"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/wasmhost"
)

func newCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "new js|wasm NAME",
		Short: "Scaffold a plugin",
		Long: `Write a new plugin that works as it is: a JavaScript plugin with its manifest in
scripts_dir (new js), or a Go WASM plugin folder in plugins_dir (new wasm). Nothing is
overwritten.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use: "js NAME", Short: "Scaffold a JavaScript plugin in scripts_dir", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := config.Load(configFlag(c), os.Environ())
			if err != nil {
				return err
			}
			files, err := scaffold.JS(args[0])
			if err != nil {
				return err
			}
			wrote, err := scaffold.Write(cfg.ScriptsDir, files)
			for _, p := range wrote {
				fmt.Fprintln(c.OutOrStdout(), "wrote", p)
			}
			return err
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use: "wasm NAME", Short: "Scaffold a Go WASM plugin folder in plugins_dir", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := config.Load(configFlag(c), os.Environ())
			if err != nil {
				return err
			}
			dir := filepath.Join(cfg.PluginsDir, args[0])
			if err := wasmhost.Scaffold(dir, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "wrote %s (main.go, manifest.json, go.mod, Makefile, README.md)\nbuild it: cd %s && make\n", dir, dir)
			return nil
		},
	})
	return cmd
}
