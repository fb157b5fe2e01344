package msgserver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

// SignatureParam is the parameter that carries the signature. It is never
// part of the signed string.
const SignatureParam = "signature"

// Sign returns the request signature the vendor expects: the parameters
// other than "signature", sorted by name, joined as key=value&key=value
// (each pair written in enc), HMAC-SHA256 with secret, as lowercase hex.
// A name with several values contributes one pair per value, in the order
// given. Any enc other than EncodingRaw is taken as EncodingURL, the
// documented default; validate settings with ParseEncoding.
func Sign(params url.Values, secret string, enc Encoding) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(SigningString(params, enc)))
	return hex.EncodeToString(mac.Sum(nil))
}

// SigningString is the string Sign signs, for diagnostics: a signature
// the vendor refuses is usually explained by comparing it with the
// vendor's own.
func SigningString(params url.Values, enc Encoding) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != SignatureParam {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	escape := url.QueryEscape
	if enc == EncodingRaw {
		escape = func(s string) string { return s }
	}
	var b strings.Builder
	for _, k := range keys {
		for _, v := range params[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escape(k))
			b.WriteByte('=')
			b.WriteString(escape(v))
		}
	}
	return b.String()
}

// Verify reports whether sig is the signature of params (compared in
// constant time, hex case-insensitively).
func Verify(params url.Values, secret string, enc Encoding, sig string) bool {
	want := Sign(params, secret, enc)
	return hmac.Equal([]byte(want), []byte(strings.ToLower(sig)))
}
