package typegen

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/switchboard-dev/switchboard/bindings"
)

// Markdown returns the binding reference: per vendor, an index of its
// functions, then each endpoint with its permission name, HTTP method and
// path, class, documentation, parameters and result. The output is
// deterministic.
func Markdown(reg *bindings.Registry) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!-- %s -->\n\n", header)
	b.WriteString("# Binding reference\n\n")
	b.WriteString("Every vendor endpoint a plugin can call. In JavaScript each is an async function on the " +
		"vendor's global object (`quntool.msg.text({...})`) that resolves to the vendor's `data` and rejects " +
		"with an error carrying `vendor`, `code` and `message`; WASM plugins make the same call through the " +
		"host's binding call, `{\"binding\": \"quntool\", \"method\": \"msg.text\", \"args\": {...}}`. A plugin may call an endpoint only if its manifest grants the permission " +
		"(`quntool` or `quntool.*` grants a whole vendor, `quntool.msg.*` a namespace). Class *send* calls deliver a message and are paced by the send " +
		"limits and routed through the outbox; class *query* calls are limited by the vendor's call limits only.\n\n")
	b.WriteString("The TypeScript declarations of the same functions are in `types/switchboard.d.ts`.\n\n")
	b.WriteString("A rejected call's error has `name` \"BindingError\", the `vendor` and a `code`: the vendor's own " +
		"numeric code for a vendor error answer, else one of:\n\n")
	b.WriteString("| Code | Meaning |\n|---|---|\n")
	for _, c := range errorCodes {
		fmt.Fprintf(&b, "| `%s` | %s |\n", c.code, c.doc)
	}
	b.WriteString("\n")

	vendors := reg.Vendors()
	eps := vendorEndpoints(reg)
	b.WriteString("| Vendor | Endpoints |\n|---|---|\n")
	for _, name := range vendors {
		fmt.Fprintf(&b, "| [%s](#%s) | %d |\n", name, anchor(name), len(eps[name]))
	}
	for _, name := range vendors {
		v, _ := reg.Vendor(name)
		writeVendorMarkdown(&b, v, eps[name])
	}
	return b.Bytes()
}

// writeVendorMarkdown writes one vendor's section.
func writeVendorMarkdown(b *bytes.Buffer, v *bindings.Vendor, eps []*bindings.Endpoint) {
	fmt.Fprintf(b, "\n## %s\n\n", v.Name)
	if doc := oneLine(v.Doc); doc != "" {
		fmt.Fprintf(b, "%s\n\n", doc)
	}
	if len(eps) == 0 {
		b.WriteString("No endpoints.\n")
		return
	}
	b.WriteString("| Function | Method | Path | Class |\n|---|---|---|---|\n")
	for _, ep := range eps {
		fmt.Fprintf(b, "| [`%s.%s`](#%s) | %s | `%s` | %s |\n", ep.Vendor, ep.Name, anchor(ep.Permission()),
			ep.Method, cell(ep.Path), className(ep.Class))
	}
	for _, ep := range eps {
		writeEndpointMarkdown(b, ep)
	}
}

// writeEndpointMarkdown writes one endpoint's entry.
func writeEndpointMarkdown(b *bytes.Buffer, ep *bindings.Endpoint) {
	fmt.Fprintf(b, "\n### %s\n\n", ep.Permission())
	fmt.Fprintf(b, "`%s %s` · permission `%s` · class %s\n\n", ep.Method, ep.Path, ep.Permission(), className(ep.Class))
	if doc := strings.TrimSpace(ep.Doc); doc != "" {
		fmt.Fprintf(b, "%s\n\n", strings.Join(wrap(doc, 100), "\n"))
	}
	fmt.Fprintf(b, "```ts\n%s.%s(%s): Promise<%s>\n```\n\n", ep.Vendor, ep.Name, signature(ep), oneLine(resultType(ep)))
	if len(ep.Params) == 0 {
		b.WriteString("No parameters.\n")
		return
	}
	b.WriteString("| Parameter | Type | Required | In | Description |\n|---|---|---|---|---|\n")
	for _, p := range ep.Params {
		req := "no"
		if p.Required {
			req = "yes"
		}
		fmt.Fprintf(b, "| `%s` | `%s` | %s | %s | %s |\n", cell(p.Name), cell(tsType(p.Type)), req, ep.Where(p), cell(oneLine(p.Doc)))
	}
	if ep.AccountParam != "" {
		fmt.Fprintf(b, "\nThe account the call acts for is `%s`.\n", ep.AccountParam)
	}
}

// signature is the short parameter list of an endpoint's function.
func signature(ep *bindings.Endpoint) string {
	if ep.Positional {
		params := positionalParams(ep.Params)
		parts := make([]string, len(params))
		for i, p := range params {
			parts[i] = p.decl
		}
		return strings.Join(parts, ", ")
	}
	if len(ep.Params) == 0 {
		return ""
	}
	names := make([]string, len(ep.Params))
	optional := true
	for i, p := range ep.Params {
		names[i] = propName(p.Name)
		if !p.Required {
			names[i] += "?"
		} else {
			optional = false
		}
	}
	q := ""
	if optional {
		q = "?"
	}
	return fmt.Sprintf("args%s: { %s }", q, strings.Join(names, ", "))
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// anchor is the GitHub heading anchor of a heading text: lower case, dots
// and other punctuation dropped, spaces as hyphens.
func anchor(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c == ' ':
			b.WriteByte('-')
		case c == '-' || c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'):
			b.WriteRune(c)
		}
	}
	return b.String()
}

// errorCodes are the codes of binding errors that are not a vendor's own.
var errorCodes = []struct{ code, doc string }{
	{"permission_denied", "the plugin's manifest does not grant the endpoint; nothing was sent"},
	{"rate_limited", "no turn within the rate limits' wait bound; retry later"},
	{"invalid_argument", "the arguments do not fit the endpoint, or break a rule checked before sending"},
	{"too_many_pending", "the plugin has too many binding calls pending"},
	{"bad_response", "the vendor answered data that is not JSON"},
	{"unknown_method", "no such vendor or endpoint"},
	{"unreachable", "the vendor could not be reached or answered garbage; transient"},
	{"unsupported", "the host cannot make the call (no client configured, a vendor that cannot reply)"},
	{"timeout", "the call did not finish in time (the handler's wall time or the vendor timeout)"},
	{"canceled", "the call was cancelled (the event finished or the plugin stopped)"},
	{"error", "any other failure; the message says what"},
}
