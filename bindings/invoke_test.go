package bindings

import (
	"context"
	"testing"
)

// Send keys: numbered per delivery as sends ask, or as NumberCall reserved
// them; none outside a named delivery.
func TestSendKey(t *testing.T) {
	bg := context.Background()
	if k, _ := SendKey(bg); k != "" {
		t.Errorf("outside a delivery: key %q, want none", k)
	}
	if k, _ := SendKey(WithRedelivery(bg, "", true)); k != "" || !Redelivered(WithRedelivery(bg, "", true)) {
		t.Errorf("unnamed delivery: key %q, want none (and still marked redelivered)", k)
	}
	ctx := WithRedelivery(bg, "p/7", true)
	first, second := NumberCall(ctx), NumberCall(ctx)
	if k, again := SendKey(second); k != "p/7#2" || !again {
		t.Errorf("second reserved: %q, again %v; want p/7#2, true", k, again)
	}
	if k, _ := SendKey(first); k != "p/7#1" {
		t.Errorf("first reserved: %q, want p/7#1", k)
	}
	if k, _ := SendKey(ctx); k != "p/7#3" {
		t.Errorf("unreserved after two reserved: %q, want p/7#3", k)
	}
	if NumberCall(bg) != bg {
		t.Error("NumberCall outside a delivery made a new context")
	}
	if _, again := SendKey(WithRedelivery(bg, "p/8", false)); again {
		t.Error("a first delivery is marked as a possible repeat")
	}
}
