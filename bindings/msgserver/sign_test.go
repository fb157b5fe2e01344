package msgserver

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// The expected digests below were computed once, outside Go, with
//
//	printf '%s' '<signing string>' | openssl dgst -sha256 -hmac '<secret>'
//
// so they check Sign against an independent HMAC implementation.
const (
	// The vendor document's example: its sorted string signed with its
	// example key "secret_key".
	seedDigest = "682081003cec34e1ef0d4703d53a362705446f6c730fad45503cc5255182863e"
	// "ext_corp_id=corp123" with "secret_key": the sync example's body.
	syncDigest = "72ed0443dfb61fab170ff196334d7ef8fb0605db64c47f54ef217cb7fb1cf794"
	// The search example with a keyword of two words, "产品介绍 新品",
	// signed with "secret_key", unescaped (JavaScript form) and
	// form-encoded (Python form).
	searchRawDigest = "64861e609e9689a2426d7762733b198e6a2fa34adcb1677d183f6fe95539710e"
	searchURLDigest = "5b51d88f59d7514d0bf420441efca689b7c689952d899486ff444d1f2359793f"
)

func seedParams() url.Values {
	return url.Values{
		"ext_staff_id": {"staff123"},
		"session_type": {"external"},
		"ext_corp_id":  {"corp123"},
		"page":         {"1"},
		"page_size":    {"20"},
	}
}

func searchParams() url.Values {
	return url.Values{
		"keyword":      {"产品介绍 新品"},
		"ext_staff_id": {"staff123"},
		"ext_peer_id":  {"customer456"},
		"ext_corp_id":  {"corp123"},
		"page":         {"1"},
	}
}

func TestSignVectors(t *testing.T) {
	t.Parallel()
	withSig := seedParams()
	withSig.Set("signature", "ignored")
	tests := []struct {
		name   string
		params url.Values
		secret string
		enc    Encoding
		want   string
	}{
		{"seed example, python form", seedParams(), "secret_key", EncodingURL, seedDigest},
		{"seed example, javascript form", seedParams(), "secret_key", EncodingRaw, seedDigest},
		{"signature parameter is not signed", withSig, "secret_key", EncodingURL, seedDigest},
		{"sync body", url.Values{"ext_corp_id": {"corp123"}}, "secret_key", EncodingURL, syncDigest},
		{"non-ascii and space, javascript form", searchParams(), "secret_key", EncodingRaw, searchRawDigest},
		{"non-ascii and space, python form", searchParams(), "secret_key", EncodingURL, searchURLDigest},
		{"unknown encoding is the python form", searchParams(), "secret_key", Encoding("base64"), searchURLDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Sign(tt.params, tt.secret, tt.enc); got != tt.want {
				t.Errorf("Sign = %s, want %s (signed %q)", got, tt.want, SigningString(tt.params, tt.enc))
			}
			if !Verify(tt.params, tt.secret, tt.enc, strings.ToUpper(tt.want)) {
				t.Error("Verify refused the right signature in upper case")
			}
			if Verify(tt.params, tt.secret+"x", tt.enc, tt.want) {
				t.Error("Verify accepted the signature under another secret")
			}
		})
	}
}

func TestSigningString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params url.Values
		enc    Encoding
		want   string
	}{
		{"seed example sorted", seedParams(), EncodingRaw,
			"ext_corp_id=corp123&ext_staff_id=staff123&page=1&page_size=20&session_type=external"},
		{"python form escapes", url.Values{"name": {"张 三&x=1"}}, EncodingURL, "name=%E5%BC%A0+%E4%B8%89%26x%3D1"},
		{"javascript form does not", url.Values{"name": {"张 三"}}, EncodingRaw, "name=张 三"},
		{"several values keep their order", url.Values{"b": {"2", "1"}, "a": {"x"}}, EncodingRaw, "a=x&b=2&b=1"},
		{"empty value kept", url.Values{"name": {""}}, EncodingURL, "name="},
		{"nothing to sign", url.Values{"signature": {"x"}}, EncodingURL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := SigningString(tt.params, tt.enc); got != tt.want {
				t.Errorf("SigningString = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Encoding
		wantErr bool
	}{
		{"", EncodingURL, false},
		{"urlencoded", EncodingURL, false},
		{"raw", EncodingRaw, false},
		{"RAW", "", true},
		{"base64", "", true},
	}
	for _, tt := range tests {
		t.Run("encoding "+tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseEncoding(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseEncoding(%q) = %q, %v", tt.in, got, err)
			}
			if tt.wantErr && !errors.Is(err, ErrEncoding) {
				t.Errorf("error %v does not match ErrEncoding", err)
			}
		})
	}
}
