package typegen

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// eventTypes are the event types of SPEC §3, in its order.
var eventTypes = []string{
	event.TypeMessage, event.TypeLoginQRCode, event.TypeLoginVerify, event.TypeLogin, event.TypeLogout,
	event.TypeContactAdded, event.TypeContactRemoved, event.TypeContactChanged,
	event.TypeRoomCreated, event.TypeRoomJoined, event.TypeRoomLeft, event.TypeRoomRemovedMe,
	event.TypeRoomDisbanded, event.TypeRoomMemberAdded, event.TypeRoomMemberRemoved,
	event.TypeRoomMemberQuit, event.TypeRoomMemberChanged, event.TypeRoomRenamed,
	event.TypeFriendRequest, event.TypeBatchConfirm,
	event.TypeSystemReady, event.TypeSystemInitFinished, event.TypeSystemContactsSync, event.TypeSystemSyncFailed,
	event.TypeUnknown,
}

// messageKinds are the message kinds of SPEC §3, in its order.
var messageKinds = []string{
	event.KindText, event.KindImage, event.KindVideo, event.KindVoice, event.KindFile, event.KindLocation,
	event.KindLink, event.KindEmoticon, event.KindRedPacket, event.KindPersonCard, event.KindMiniProgram,
	event.KindVideoNum, event.KindSystem, event.KindRevoke, event.KindUnknown,
}

// eventVendors are the vendors events come from.
var eventVendors = []string{event.VendorWework, event.VendorWechat, event.VendorQuntool, event.VendorMsgserver}

// patterns lists every pattern on() accepts that names known topics: each
// topic, each of its dotted prefixes, and each prefix followed by ".*".
func patterns() []string {
	seen := map[string]bool{"*": true}
	add := func(topic string) {
		segs := strings.Split(topic, ".")
		for i := 1; i <= len(segs); i++ {
			p := strings.Join(segs[:i], ".")
			seen[p] = true
			if i < len(segs) || topic == event.TypeMessage {
				seen[p+".*"] = true
			}
		}
	}
	for _, t := range eventTypes {
		add(t)
	}
	for _, k := range messageKinds {
		add(event.TypeMessage + "." + k)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// union writes strings as a TypeScript union of string literals, one per
// line at the given indent.
func union(vals []string, indent string) string {
	var b strings.Builder
	for _, v := range vals {
		fmt.Fprintf(&b, "\n%s| %q", indent, v)
	}
	return b.String()
}

// DTS returns the TypeScript declarations of everything the JavaScript host
// gives plugins, with one global object per vendor of reg holding every
// endpoint as an async function. The output is deterministic.
func DTS(reg *bindings.Registry) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// %s\n", header)
	b.WriteString(strings.TrimLeft(preamble, "\n"))

	vendors := reg.Vendors()
	b.WriteString("declare namespace Switchboard {\n")
	fmt.Fprintf(&b, "  /** An event's vendor. */\n  type Vendor =%s;\n\n", union(mergeSorted(eventVendors, vendors), "    "))
	fmt.Fprintf(&b, "  /** The event types of the event model. */\n  type EventType =%s;\n\n", union(eventTypes, "    "))
	fmt.Fprintf(&b, "  /** The kinds of message events. */\n  type MessageKind =%s;\n\n", union(messageKinds, "    "))
	fmt.Fprintf(&b, "  /**\n   * An event pattern: a topic (the event type; for messages \"message.<kind>\"), a prefix of\n"+
		"   * one (\"login\" selects login, login.qrcode and login.verify), a prefix followed by \".*\", or \"*\".\n"+
		"   */\n  type Pattern =%s\n    | `system.${string}`;\n\n", union(patterns(), "    "))
	b.WriteString("  /** The codes a {@link BindingError} carries besides a vendor's own numeric codes. */\n  type ErrorCode =")
	for _, c := range errorCodes {
		fmt.Fprintf(&b, "\n    /** %s */\n    | %q", c.doc, c.code)
	}
	b.WriteString(";\n")
	b.WriteString("}\n")

	eps := vendorEndpoints(reg)
	for _, name := range vendors {
		v, _ := reg.Vendor(name)
		b.WriteString("\n")
		writeVendor(&b, v, eps[name])
	}
	return b.Bytes()
}

// mergeSorted returns the union of a and b: a's order, then b's names that
// a lacks, sorted.
func mergeSorted(a, b []string) []string {
	out := append([]string(nil), a...)
	var extra []string
	for _, s := range b {
		found := false
		for _, t := range a {
			found = found || s == t
		}
		if !found {
			extra = append(extra, s)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// docComment writes a JSDoc comment of lines at indent.
func docComment(b *bytes.Buffer, indent string, lines []string) {
	if len(lines) == 0 {
		return
	}
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, "*/", "*\\/")
	}
	if len(lines) == 1 && len(indent)+len(lines[0]) < 100 {
		fmt.Fprintf(b, "%s/** %s */\n", indent, lines[0])
		return
	}
	fmt.Fprintf(b, "%s/**\n", indent)
	for _, l := range lines {
		if l == "" {
			fmt.Fprintf(b, "%s *\n", indent)
		} else {
			fmt.Fprintf(b, "%s * %s\n", indent, l)
		}
	}
	fmt.Fprintf(b, "%s */\n", indent)
}

// docWidth is the width JSDoc text is wrapped at.
const docWidth = 96

// writeVendor declares one vendor's global object.
func writeVendor(b *bytes.Buffer, v *bindings.Vendor, eps []*bindings.Endpoint) {
	lines := wrap(v.Doc, docWidth)
	if len(lines) > 0 {
		lines = append(lines, "")
	}
	lines = append(lines, fmt.Sprintf("The %s bindings: every endpoint is an async function that resolves to the", v.Name),
		"vendor's data and rejects with a {@link Switchboard.BindingError}.")
	docComment(b, "", lines)
	fmt.Fprintf(b, "declare const %s: {\n", v.Name)
	writeNode(b, tree(eps), "  ")
	b.WriteString("};\n")
}

// writeNode writes the members of one level of a vendor object.
func writeNode(b *bytes.Buffer, n *node, indent string) {
	for i, k := range n.keys() {
		c := n.children[k]
		if i > 0 {
			b.WriteString("\n")
		}
		if c.fn != nil {
			writeFunc(b, k, c.fn, indent)
		}
		if len(c.children) > 0 {
			fmt.Fprintf(b, "%s%s: {\n", indent, propName(k))
			writeNode(b, c, indent+"  ")
			fmt.Fprintf(b, "%s};\n", indent)
		}
	}
}

// endpointLines is the JSDoc of an endpoint: its doc, then method, path,
// permission and class.
func endpointLines(ep *bindings.Endpoint) []string {
	lines := wrap(ep.Doc, docWidth)
	if len(lines) > 0 {
		lines = append(lines, "")
	}
	return append(lines, fmt.Sprintf("`%s %s` · permission `%s` · class %s",
		ep.Method, ep.Path, ep.Permission(), className(ep.Class)))
}

// writeFunc declares one endpoint as a method.
func writeFunc(b *bytes.Buffer, name string, ep *bindings.Endpoint, indent string) {
	lines := endpointLines(ep)
	ret := fmt.Sprintf("Promise<%s>", resultType(ep))
	if ep.Positional {
		params := positionalParams(ep.Params)
		for i, p := range ep.Params {
			if doc := oneLine(p.Doc); doc != "" {
				lines = append(lines, fmt.Sprintf("@param %s %s", params[i].name, doc))
			}
		}
		docComment(b, indent, lines)
		parts := make([]string, len(params))
		for i, p := range params {
			parts[i] = p.decl
		}
		fmt.Fprintf(b, "%s%s(%s): %s;\n", indent, propName(name), strings.Join(parts, ", "), ret)
		return
	}
	docComment(b, indent, lines)
	if len(ep.Params) == 0 {
		fmt.Fprintf(b, "%s%s(args?: {}): %s;\n", indent, propName(name), ret)
		return
	}
	opt := "?"
	for _, p := range ep.Params {
		if p.Required {
			opt = ""
		}
	}
	fmt.Fprintf(b, "%s%s(args%s: {\n", indent, propName(name), opt)
	for _, p := range ep.Params {
		docComment(b, indent+"  ", paramLines(ep, p))
		q := "?"
		if p.Required {
			q = ""
		}
		fmt.Fprintf(b, "%s  %s%s: %s;\n", indent, propName(p.Name), q, tsType(p.Type))
	}
	fmt.Fprintf(b, "%s}): %s;\n", indent, ret)
}

// paramLines is the JSDoc of an object parameter.
func paramLines(ep *bindings.Endpoint, p bindings.Param) []string {
	doc := oneLine(p.Doc)
	if w := ep.Where(p); w != bindings.InBody && w != bindings.InQuery {
		doc = strings.TrimSpace(doc + " (" + w + " field)")
	}
	return wrap(doc, docWidth)
}

// positional is one positional parameter: its JS name and its declaration.
type positional struct{ name, decl string }

// positionalParams declares params as positional function parameters. An
// optional parameter followed by a required one takes `T | undefined`, as a
// TypeScript optional parameter cannot precede a required one.
func positionalParams(params []bindings.Param) []positional {
	out := make([]positional, len(params))
	lastRequired := -1
	for i, p := range params {
		if p.Required {
			lastRequired = i
		}
	}
	used := map[string]bool{}
	for i, p := range params {
		name := p.Name
		if !identifier(name) || reserved[name] || used[name] {
			name = fmt.Sprintf("arg%d", i)
		}
		used[name] = true
		t := tsType(p.Type)
		switch {
		case p.Required:
			out[i] = positional{name, fmt.Sprintf("%s: %s", name, t)}
		case i < lastRequired:
			out[i] = positional{name, fmt.Sprintf("%s: %s | undefined", name, t)}
		default:
			out[i] = positional{name, fmt.Sprintf("%s?: %s", name, t)}
		}
	}
	return out
}

// reserved are the words a parameter may not be named.
var reserved = map[string]bool{
	"break": true, "case": true, "catch": true, "class": true, "const": true, "continue": true,
	"debugger": true, "default": true, "delete": true, "do": true, "else": true, "enum": true,
	"export": true, "extends": true, "false": true, "finally": true, "for": true, "function": true,
	"if": true, "import": true, "in": true, "instanceof": true, "new": true, "null": true,
	"return": true, "super": true, "switch": true, "this": true, "throw": true, "true": true,
	"try": true, "typeof": true, "var": true, "void": true, "while": true, "with": true,
	"implements": true, "interface": true, "let": true, "package": true, "private": true,
	"protected": true, "public": true, "static": true, "yield": true, "await": true, "arguments": true,
	"eval": true,
}
