// Package weworkcli is `switchboard wework`: the vendor's demo as
// commands, talking to vendors.wework.base_url through the wework binding's
// client. It lists, creates and removes instances, logs an instance in with
// its QR code drawn in the terminal (and the verification code prompt a
// new device needs), lists sessions, sends text and @-messages, and shows
// an instance's status.
//
// Lifecycle: Command builds a fresh command tree per call; each run loads
// the configuration through the load function it was given, builds a
// client, does its work and returns. Nothing is shared between runs, so
// separate trees may run concurrently.
package weworkcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/wework"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

// Instance status values (get_client_status).
const (
	statusStopped = 0
	statusRunning = 1
	statusOnline  = 2
)

// StatusText names an instance status: stopped, running (needs a login)
// or online.
func StatusText(status int) string {
	switch status {
	case statusStopped:
		return "stopped"
	case statusRunning:
		return "running (needs a login)"
	case statusOnline:
		return "online"
	}
	return "unknown (" + strconv.Itoa(status) + ")"
}

// Command returns the `wework` command: instances, login, sessions, send
// and status. load reads the configuration when a subcommand runs.
func Command(load func() (*config.Config, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wework",
		Short: "Manage WeCom protocol instances: list, log in (QR code), sessions, send, status",
		Long: "Talk to the WeCom protocol API at vendors.wework.base_url: list, create and remove instances,\n" +
			"log one in by scanning the QR code drawn in the terminal (a new device also asks for a\n" +
			"verify code), list its sessions, send text and @-messages, and show its status.",
		SilenceUsage: true,
	}
	a := &app{load: load}
	cmd.AddCommand(a.instancesCmd(), a.loginCmd(), a.sessionsCmd(), a.sendCmd(), a.statusCmd())
	return cmd
}

// app holds the load function shared by the subcommands.
type app struct {
	load func() (*config.Config, error)
}

// session is what one run needs: the configuration and a client.
type session struct {
	cfg    *config.Config
	client *wework.Client
}

func (a *app) open() (*session, error) {
	if a.load == nil {
		return nil, errors.New("wework: no configuration")
	}
	cfg, err := a.load()
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	base := strings.TrimSpace(cfg.Vendors.Wework.BaseURL)
	if base == "" {
		return nil, errors.New("vendors.wework.base_url is not set")
	}
	return &session{cfg: cfg, client: wework.NewClient(wework.Config{BaseURL: base,
		Timeout: time.Duration(cfg.Vendors.Wework.TimeoutMS) * time.Millisecond})}, nil
}

// call calls the endpoint of path and decodes its data into into.
func (s *session) call(ctx context.Context, path string, args map[string]any, into any) error {
	data, err := s.client.Call(ctx, path, args)
	if err != nil {
		return explain(err)
	}
	if into == nil {
		return nil
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s answered %s: %w", path, data, err)
	}
	return nil
}

// explain adds what the user can do about the vendor's documented errors.
func explain(err error) error {
	switch {
	case errors.Is(err, bindings.ErrInvalidConversation):
		return fmt.Errorf(`%w (conversation ids are "S:<user id>" for a private chat, "R:<room id>" for a group)`, err)
	case errors.Is(err, bindings.ErrNoExternalPermission):
		return fmt.Errorf("%w (the contact has no external-contact permission; try another contact)", err)
	case errors.Is(err, bindings.ErrTransport):
		return fmt.Errorf("%w (is the WeCom API running at vendors.wework.base_url?)", err)
	}
	return err
}

func (s *session) status(ctx context.Context, guid string) (int, error) {
	var st struct {
		Status int `json:"status"`
	}
	if err := s.call(ctx, "/client/get_client_status", map[string]any{"guid": guid}, &st); err != nil {
		return 0, err
	}
	return st.Status, nil
}

func (s *session) create(ctx context.Context, clientType int) (string, error) {
	args := map[string]any{}
	if clientType > 0 {
		args["client_type"] = clientType
	}
	var created struct {
		GUID string `json:"guid"`
	}
	if err := s.call(ctx, "/client/create_client", args, &created); err != nil {
		return "", err
	}
	if created.GUID == "" {
		return "", errors.New("create_client answered no guid")
	}
	return created.GUID, nil
}

func (a *app) instancesCmd() *cobra.Command {
	var create bool
	var remove string
	var clientType int
	cmd := &cobra.Command{
		Use:   "instances",
		Short: "List the instances and their status; --create makes one, --remove GUID removes one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if create && remove != "" {
				return errors.New("--create and --remove exclude each other")
			}
			s, err := a.open()
			if err != nil {
				return err
			}
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			switch {
			case create:
				guid, err := s.create(ctx, clientType)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "created instance %s\n", guid)
				return nil
			case remove != "":
				if err := s.call(ctx, "/client/remove_client", map[string]any{"guid": remove}, nil); err != nil {
					return err
				}
				fmt.Fprintf(out, "removed instance %s\n", remove)
				return nil
			}
			var guids []string
			if err := s.call(ctx, "/client/all_clients", nil, &guids); err != nil {
				return err
			}
			if len(guids) == 0 {
				fmt.Fprintln(out, "no instances (create one with --create)")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GUID\tSTATUS")
			for _, g := range guids {
				text := ""
				if st, err := s.status(ctx, g); err != nil {
					text = "error: " + err.Error()
				} else {
					text = StatusText(st)
				}
				fmt.Fprintf(tw, "%s\t%s\n", g, text)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&create, "create", false, "create a new instance and print its guid")
	cmd.Flags().StringVar(&remove, "remove", "", "remove the instance `GUID`")
	cmd.Flags().IntVar(&clientType, "client-type", 0, "with --create: the WeCom client version to emulate (default the vendor's, 262 Mac 4.1.36)")
	return cmd
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status GUID",
		Short: "Show an instance's status: stopped, running (needs a login) or online",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.open()
			if err != nil {
				return err
			}
			st, err := s.status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (status %d)\n", args[0], StatusText(st), st)
			return nil
		},
	}
}

func (a *app) sessionsCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "sessions GUID",
		Short: "List an instance's conversations (S: private, R: group), every page",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit <= 0 {
				return fmt.Errorf("--limit must be positive, got %d", limit)
			}
			s, err := a.open()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			n, err := s.eachSession(cmd.Context(), args[0], limit, func(id string) {
				kind := "private"
				if strings.HasPrefix(id, wework.GroupPrefix) {
					kind = "group"
				}
				fmt.Fprintf(out, "%s\t%s\n", id, kind)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%d sessions\n", n)
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "sessions per page")
	return cmd
}

// maxSessionPages bounds the paging of a session list whose cursor never
// stops moving.
const maxSessionPages = 10000

// eachSession pages through the session list until a page is empty or the
// cursor stops moving, answering how many sessions it saw.
func (s *session) eachSession(ctx context.Context, guid string, limit int, fn func(string)) (int, error) {
	cursor, n := "0", 0
	for range maxSessionPages {
		var page struct {
			List  []string    `json:"session_list"`
			Begin json.Number `json:"begin_seq"`
		}
		if err := s.call(ctx, "/session/get_session_list", map[string]any{"guid": guid, "begin_seq": cursor, "limit": limit}, &page); err != nil {
			return n, err
		}
		for _, id := range page.List {
			fn(id)
		}
		n += len(page.List)
		if len(page.List) == 0 || page.Begin.String() == cursor || page.Begin == "" {
			return n, nil
		}
		cursor = page.Begin.String()
	}
	return n, fmt.Errorf("session list of %s: still paging after %d pages", guid, maxSessionPages)
}

func (a *app) sendCmd() *cobra.Command {
	var at []string
	cmd := &cobra.Command{
		Use:   "send GUID CONVERSATION TEXT",
		Short: "Send a text message; --at USERID (repeatable, or --at all) sends a group @-message",
		Long: "Send TEXT to CONVERSATION (\"S:<user id>\" private, \"R:<room id>\" group) through the instance GUID.\n" +
			"With --at, the message mentions those members of the group (--at all: everyone, which needs\n" +
			"the group's owner or an admin); put {$@} in TEXT where each mention goes.",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.open()
			if err != nil {
				return err
			}
			guid, conv, text := args[0], args[1], args[2]
			body := map[string]any{"guid": guid, "conversation_id": conv, "content": text}
			path := "/msg/send_text"
			if len(at) > 0 {
				path = "/msg/send_room_at"
				list := make([]any, len(at))
				for i, id := range at {
					list[i] = id
				}
				body["at_list"] = list
			}
			var sent struct {
				MsgData struct {
					ID  json.Number `json:"id"`
					Seq json.Number `json:"seq"`
				} `json:"msg_data"`
			}
			if err := s.call(cmd.Context(), path, body, &sent); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent to %s (message id %s, seq %s)\n", conv, sent.MsgData.ID, sent.MsgData.Seq)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&at, "at", nil, "mention the member `USERID` (repeatable); \"all\" mentions everyone")
	return cmd
}

// receiverURL is where the runtime takes wework callbacks, from listen and
// the vendor's callback token: an unspecified listen host is reached on
// the loopback address.
func receiverURL(cfg *config.Config) (string, error) {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("listen %q: %w", cfg.Listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	u := "http://" + net.JoinHostPort(host, port) + "/callback/" + wework.Name
	if tok := cfg.Vendors.Wework.CallbackToken; tok != "" {
		u += "/" + tok
	}
	return u, nil
}

// printf writes to w, ignoring errors: the terminal is the only reader.
func printf(w io.Writer, format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
