package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	quntoolsim "github.com/switchboard-dev/switchboard/bindings/quntool/sim"
)

// The demo's people: one WeCom account logged in to the quntool simulator,
// and a WeChat user who writes to it.
const (
	DemoAccount     = "1688850000000001"
	DemoAccountName = "Switchboard Demo"
	DemoContact     = "7881300000000001"
	DemoContactName = "Alice"
)

// SeedDemo logs the demo account in to the quntool simulator and gives it
// its contact. It is idempotent.
func (c *Cluster) SeedDemo() error {
	if _, err := c.Quntool.Seed(quntoolsim.Account{WxID: DemoAccount, Nickname: DemoAccountName}); err != nil &&
		!errors.Is(err, quntoolsim.ErrExists) {
		return fmt.Errorf("seed demo account: %w", err)
	}
	if err := c.Quntool.AddContact(DemoAccount, quntoolsim.Contact{UserID: DemoContact, Name: DemoContactName}); err != nil &&
		!errors.Is(err, quntoolsim.ErrExists) {
		return fmt.Errorf("seed demo contact: %w", err)
	}
	return nil
}

// Exchange is one line of the demo: what Alice says and a part of the
// answer the shipped echo plugin gives.
type Exchange struct {
	Say, Want string
}

// DemoConversation is what PlayDemo says, with what echo.js answers.
var DemoConversation = []Exchange{
	{Say: "ping", Want: "pong"},
	{Say: "hello from the simulator", Want: "hello from the simulator"},
}

// PlayDemo has the demo contact say each line to the demo account and waits
// (up to wait per line) for the reply a plugin sends back through the
// quntool binding, printing the conversation to out.
func (c *Cluster) PlayDemo(ctx context.Context, out io.Writer, conv []Exchange, wait time.Duration) error {
	for _, x := range conv {
		start := time.Now()
		fmt.Fprintf(out, "  %s -> %s: %s\n", DemoContactName, DemoAccountName, x.Say)
		err := c.Quntool.Play(ctx, []quntoolsim.Step{
			{Say: &quntoolsim.Incoming{Account: DemoAccount, From: DemoContact, Text: x.Say}},
			{Expect: &quntoolsim.Expect{Account: DemoAccount, Contains: x.Want, Timeout: wait}},
		})
		if err != nil {
			return fmt.Errorf("demo conversation: %w", err)
		}
		sent := c.Quntool.Sent()
		last := sent[len(sent)-1]
		fmt.Fprintf(out, "  %s -> %s: %s   (%s, %d ms)\n", DemoAccountName, DemoContactName, last.Content,
			last.Kind, time.Since(start).Milliseconds())
	}
	return nil
}
