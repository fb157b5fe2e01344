package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/bindings/simulator"
	"github.com/switchboard-dev/switchboard/runtime"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

func simCmd() *cobra.Command {
	var listen map[string]string
	var callback string
	var demo bool
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve the vendor simulators alone",
		Long: `Serve the simulated vendor APIs from memory, posting their callbacks to --callback
(the vendor's name is appended: .../callback/quntool). Each listens on the port of
its default base_url unless --listen says otherwise (--listen quntool=127.0.0.1:9100).
Under /_sim/ each answers a control API: POST /_sim/say, GET /_sim/sent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configFlag(cmd), os.Environ())
			if err != nil {
				return err
			}
			addrs := map[string]string{}
			for v, a := range simulator.DefaultAddrs {
				addrs[v] = a
			}
			for v, a := range listen {
				if _, ok := simulator.DefaultAddrs[v]; !ok {
					return fmt.Errorf("--listen: unknown vendor %q (known: %v)", v, simulator.Vendors)
				}
				addrs[v] = a
			}
			log := runtime.NewLogger(cfg.Log, cmd.ErrOrStderr())
			c, err := simulator.Start(simulator.Options{Addrs: addrs, CallbackBase: callback, Logger: log})
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			if demo {
				if err := c.SeedDemo(); err != nil {
					return err
				}
			}
			vendors := append([]string(nil), simulator.Vendors...)
			sort.Strings(vendors)
			for _, v := range vendors {
				fmt.Fprintf(cmd.OutOrStdout(), "%-9s %s\n", v, c.BaseURL(v))
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringToStringVar(&listen, "listen", nil, "listen address per vendor: quntool=127.0.0.1:9000,...")
	cmd.Flags().StringVar(&callback, "callback", "http://127.0.0.1:8088/callback", "base URL the simulators post callbacks to (empty: record only)")
	cmd.Flags().BoolVar(&demo, "demo", true, "log the demo account in and give it its demo contact")
	return cmd
}
