package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/bindings/simulator"
	"github.com/switchboard-dev/switchboard/internal/adminclient"
	"github.com/switchboard-dev/switchboard/runtime"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/scripts"
)

func runCmd() *cobra.Command {
	var withSim bool
	var drain time.Duration
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the callback receiver, the plugins and the bindings",
		Long: `Run Switchboard: receive vendor callbacks on listen, store them in data_dir, and hand
them to the JavaScript plugins in scripts_dir, reloading them as they change.

With --sim, the vendor simulators start too, the bindings point at them, the
demo plugin is installed if scripts_dir has no plugin, and a short conversation
is played so the demo answers within seconds.

SIGINT or SIGTERM stops listening, lets events in flight finish (up to --drain)
and closes the store; what was not finished is delivered on the next start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configFlag(cmd), os.Environ())
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, cfg, cmd.OutOrStdout(), cmd.ErrOrStderr(), withSim, drain)
		},
	}
	cmd.Flags().BoolVar(&withSim, "sim", false, "also start the vendor simulators, point the bindings at them and play a demo conversation")
	cmd.Flags().DurationVar(&drain, "drain", 30*time.Second, "how long to wait for events in flight when stopping")
	return cmd
}

// run runs the runtime until ctx ends, then stops it within drain.
func run(ctx context.Context, cfg *config.Config, out, errOut io.Writer, withSim bool, drain time.Duration) error {
	log := runtime.NewLogger(cfg.Log, errOut)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	var cluster *simulator.Cluster
	if withSim {
		wrote, err := scripts.InstallDemo(cfg.ScriptsDir)
		if err != nil {
			ln.Close()
			return err
		}
		for _, p := range wrote {
			log.Info("installed the demo plugin", "path", p)
		}
		cluster, err = simulator.Start(simulator.Options{
			CallbackBase: "http://" + adminclient.Dialable(ln.Addr()) + "/callback",
			Logger:       log.Named("sim"),
		})
		if err != nil {
			ln.Close()
			return err
		}
		defer cluster.Close(context.Background())
		cluster.Configure(cfg)
		if err := cluster.SeedDemo(); err != nil {
			ln.Close()
			return err
		}
	}
	rt, err := runtime.New(runtime.Options{Config: cfg, Logger: log, Listener: ln})
	if err != nil {
		ln.Close()
		return err
	}
	if err := rt.Start(ctx); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		_ = rt.Stop(sctx)
		return err
	}
	if cluster != nil {
		go playDemo(ctx, cluster, adminclient.Dialable(ln.Addr()), out, log)
	}
	<-ctx.Done()
	log.Info("stopping", "drain", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	return rt.Stop(sctx)
}

// playDemo plays the demo conversation and tells the newcomer how to go on.
func playDemo(ctx context.Context, c *simulator.Cluster, addr string, out io.Writer, log interface{ Warn(string, ...any) }) {
	fmt.Fprintf(out, "\nSwitchboard is running on %s with the simulators (quntool at %s).\n", addr, c.BaseURL("quntool"))
	fmt.Fprintf(out, "Demo conversation on the quntool simulator:\n")
	if err := c.PlayDemo(ctx, out, simulator.DemoConversation, 10*time.Second); err != nil {
		if ctx.Err() == nil {
			log.Warn("the demo conversation got no answer; is scripts/echo.js loaded?", "error", err)
		}
		return
	}
	u := c.BaseURL("quntool")
	ctl := u[:len(u)-len("/gnapi/open")] + simulator.ControlPrefix
	fmt.Fprintf(out, "\nSay something yourself:\n  curl -d '{\"from\":\"%s\",\"text\":\"hi\"}' %ssay\n", simulator.DemoContact, ctl)
	fmt.Fprintf(out, "See what was sent:\n  curl %ssent\n", ctl)
	fmt.Fprintf(out, "Edit scripts/echo.js and save: the new version answers the next message. Ctrl-C stops.\n\n")
}
