package quntool

import "testing"

func TestPrivateConversationID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, a, b, want string
	}{
		{"account first", "1688000000000001", "7881000000000002", "S:1688000000000001_7881000000000002"},
		{"account second", "7881000000000002", "1688000000000001", "S:1688000000000001_7881000000000002"},
		{"numeric, not lexical", "999", "1000", "S:999_1000"},
		{"numeric, shorter first", "1000", "999", "S:999_1000"},
		{"leading zeros", "0012", "11", "S:11_0012"},
		{"same digits", "0012", "12", "S:0012_12"},
		{"same id", "1688", "1688", "S:1688_1688"},
		{"not numeric: lexical", "wm_b", "wm_a", "S:wm_a_wm_b"},
		{"masked ids of the vendor's examples", "788130083907XXXX", "168885435526XXXX", "S:168885435526XXXX_788130083907XXXX"},
		{"one numeric, one not", "abc", "123", "S:123_abc"},
	}
	for _, c := range cases {
		if got := PrivateConversationID(c.a, c.b); got != c.want {
			t.Errorf("%s: PrivateConversationID(%q, %q) = %q, want %q", c.name, c.a, c.b, got, c.want)
		}
		if PrivateConversationID(c.a, c.b) != PrivateConversationID(c.b, c.a) {
			t.Errorf("%s: result depends on the order of the ids", c.name)
		}
	}
}

func TestCanonicalConversationID(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"S:7881000000000002_1688000000000001", "S:1688000000000001_7881000000000002"},
		{"S:1688000000000001_7881000000000002", "S:1688000000000001_7881000000000002"},
		{"R:10696052100031234", "R:10696052100031234"},
		{"S:16888505639XXXX_788130083907XXXX", "S:16888505639XXXX_788130083907XXXX"},
		{"S:1688", "S:1688"},
		{"S:_1688", "S:_1688"},
		{"S:a_b_c", "S:a_b_c"},
		{"1688_7881", "1688_7881"},
		{"", ""},
	}
	for _, c := range cases {
		if got := CanonicalConversationID(c.in); got != c.want {
			t.Errorf("CanonicalConversationID(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
