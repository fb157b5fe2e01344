package jshost

import (
	"fmt"
	"strings"

	"github.com/dop251/goja"
)

// bootstrapSrc defines the helpers the host writes in JavaScript: message
// rendering for console and errors, and queueMicrotask. It runs before any
// plugin code and keeps its own references to the built-ins it uses.
const bootstrapSrc = `(function () {
  'use strict';
  const S = String, stringify = JSON.stringify, objToString = Object.prototype.toString;
  const ErrorCtor = Error, WeakSetCtor = WeakSet, trunc = Math.trunc, parseF = parseFloat;
  const resolved = Promise.resolve(), then = Promise.prototype.then;

  function isError(v) {
    return v !== null && typeof v === 'object' && (v instanceof ErrorCtor || typeof v.stack === 'string');
  }
  function tag(v) {
    try { return objToString.call(v); } catch (e) { return '[object]'; }
  }
  function replacer() {
    const seen = new WeakSetCtor();
    return function (k, v) {
      if (typeof v === 'bigint') return S(v) + 'n';
      if (typeof v === 'function') return '[Function: ' + (v.name || 'anonymous') + ']';
      if (v !== null && typeof v === 'object') {
        if (seen.has(v)) return '[Circular]';
        seen.add(v);
        if (v instanceof ErrorCtor) return S(v);
      }
      return v;
    };
  }
  function inspect(v) {
    try {
      switch (typeof v) {
        case 'string': return v;
        case 'undefined': return 'undefined';
        case 'function': return '[Function: ' + (v.name || 'anonymous') + ']';
        case 'symbol': return v.toString();
        case 'bigint': return S(v) + 'n';
        case 'object':
          if (v === null) return 'null';
          if (isError(v)) {
            const st = v.stack;
            return typeof st === 'string' && st !== '' ? st.replace(/\n+$/, '') : S(v);
          }
          {
            const s = stringify(v, replacer());
            return s === undefined ? tag(v) : s;
          }
        default: return S(v);
      }
    } catch (e) {
      return tag(v);
    }
  }
  function num(v, integer) {
    if (typeof v === 'bigint') return S(v) + 'n';
    if (typeof v === 'symbol') return 'NaN';
    const n = Number(v);
    return S(integer ? trunc(n) : n);
  }
  function spec(c, a) {
    switch (c) {
      case 's': return typeof a === 'string' ? a : inspect(a);
      case 'd': return num(a, false);
      case 'i': return num(a, true);
      case 'f': return typeof a === 'symbol' ? 'NaN' : S(parseF(a));
      case 'j': try { const s = stringify(a); return s === undefined ? 'undefined' : s; } catch (e) { return '[Circular]'; }
      case 'o': case 'O': return inspect(a);
      case 'c': return '';
    }
    return undefined;
  }
  // format renders console arguments the way Node's util.format does:
  // printf-like directives (%s %d %i %f %j %o %O %c %%) in a leading
  // string, then the remaining arguments separated by spaces.
  function format() {
    const args = arguments;
    let out = '', i = 0;
    if (typeof args[0] === 'string') {
      const f = args[0];
      i = 1;
      let last = 0;
      for (let p = f.indexOf('%'); p !== -1 && p + 1 < f.length; p = f.indexOf('%', p)) {
        const c = f[p + 1];
        let rep;
        if (c === '%') {
          rep = '%';
        } else if (i < args.length) {
          rep = spec(c, args[i]);
          if (rep !== undefined) i++;
        }
        if (rep === undefined) { p += 2; continue; }
        out += f.slice(last, p) + rep;
        p += 2;
        last = p;
      }
      out += f.slice(last);
    }
    for (; i < args.length; i++) {
      out += (i === 0 ? '' : ' ') + inspect(args[i]);
    }
    return out;
  }
  function describe(v) {
    try {
      if (isError(v)) {
        const st = v.stack;
        return [S(v), typeof st === 'string' ? st : '', true];
      }
    } catch (e) {
      return [tag(v), '', false];
    }
    return [inspect(v), '', false];
  }
  function makeQueueMicrotask(report) {
    return function queueMicrotask(callback) {
      if (typeof callback !== 'function') {
        throw new TypeError('queueMicrotask: the callback must be a function');
      }
      then.call(resolved, function () {
        try { callback(); } catch (e) { report(e); }
      });
    };
  }
  return { inspect: inspect, format: format, describe: describe, makeQueueMicrotask: makeQueueMicrotask };
})()`

var bootstrap = goja.MustCompile("jshost:bootstrap", bootstrapSrc, true)

// helpers are the bootstrap's functions. Their calls never throw.
type helpers struct {
	inspect  goja.Callable
	format   goja.Callable
	describe goja.Callable
	makeQM   goja.Callable
}

func (h *host) loadHelpers() error {
	v, err := h.rt.RunProgram(bootstrap)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return fmt.Errorf("bootstrap: no helpers")
	}
	get := func(name string) (goja.Callable, error) {
		f, ok := goja.AssertFunction(o.Get(name))
		if !ok {
			return nil, fmt.Errorf("bootstrap: helper %s missing", name)
		}
		return f, nil
	}
	if h.help.inspect, err = get("inspect"); err != nil {
		return err
	}
	if h.help.format, err = get("format"); err != nil {
		return err
	}
	if h.help.describe, err = get("describe"); err != nil {
		return err
	}
	h.help.makeQM, err = get("makeQueueMicrotask")
	return err
}

// inspect renders a value for a log line. An interrupt that lands inside
// is left pending for the caller's next JavaScript step.
func (h *host) inspect(v goja.Value) string {
	out, err := h.help.inspect(goja.Undefined(), v)
	if err != nil {
		return "[unprintable value]"
	}
	return out.String()
}

// format renders console arguments like Node's util.format.
func (h *host) format(args []goja.Value) string {
	out, err := h.help.format(goja.Undefined(), args...)
	if err != nil {
		rethrowIfUncatchable(err)
		return "[unprintable value]"
	}
	return out.String()
}

// describe gives the message and the stack frames of a thrown value:
// "Name: message" and the frames for an Error, a rendering of anything
// else. It never throws.
func (h *host) describe(v goja.Value) (msg, stack string) {
	msg, stack, _ = h.describeValue(v)
	return msg, stack
}

// describeValue is describe that also reports whether v is an Error.
func (h *host) describeValue(v goja.Value) (msg, stack string, isError bool) {
	if v == nil {
		v = goja.Undefined()
	}
	out, err := h.help.describe(goja.Undefined(), v)
	o, ok := out.(*goja.Object)
	if err != nil || !ok {
		return "[unprintable value]", "", false
	}
	msg = o.Get("0").String()
	return msg, frames(o.Get("1").String(), msg), o.Get("2").ToBoolean()
}

// frames strips the header (the message) from a goja stack rendering.
func frames(stack, msg string) string {
	if rest, ok := strings.CutPrefix(stack, msg); ok {
		return strings.Trim(rest, "\n")
	}
	return stackLines(stack)
}
