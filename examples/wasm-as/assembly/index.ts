// echo: the echo plugin as an AssemblyScript WASM plugin (Extism ABI).
// It answers "ping" with "pong" and echoes any other text back, in the
// conversation the message came from, and counts its replies in the KV
// store: the same logic as scripts/echo.js and examples/wasm-go.
//
// Build: npm ci && npm run build  (writes echo.wasm)
import { Config, Host, Memory } from "@extism/as-pdk";
import { JSON } from "assemblyscript-json/assembly";

// Host functions of Switchboard (docs/wasm-abi.md): JSON in, JSON out.
@external("extism:host/user", "reply")
declare function hostReply(req: u64): u64;
@external("extism:host/user", "kv_incr")
declare function hostKVIncr(req: u64): u64;
@external("extism:host/user", "log")
declare function hostLog(req: u64): void;
// The Extism kernel: the length of a block the host handed back.
@external("extism:host/env", "length")
declare function blockLength(offset: u64): u64;
// The Extism kernel: the error the host reports for a failed call.
@external("extism:host/env", "error_set")
declare function errorSet(offset: u64): void;

// setError hands the host the error of this call.
function setError(message: string): void {
  errorSet(block(message).offset);
}

// quote encodes s as a JSON string.
function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

// block copies s into a new Extism memory block, padded with spaces to
// whole 8-byte words: the kernel copies words in one call and each odd
// byte in a call of its own.
function block(s: string): Memory {
  let text = s;
  const n = String.UTF8.byteLength(text);
  if (n % 8 != 0) text += " ".repeat(8 - (n % 8));
  const bytes = Uint8Array.wrap(String.UTF8.encode(text));
  const mem = Memory.allocate(bytes.length);
  mem.store(bytes);
  return mem;
}

// call sends a JSON request to a host function and parses its answer. The
// host frees every block when the event ends.
function call(fn: (req: u64) => u64, request: string): JSON.Obj {
  const off = fn(block(request).offset);
  return <JSON.Obj>JSON.parse(new Memory(off, blockLength(off)).toString());
}

// fail sets the error the host reports and returns the failure status.
function fail(answer: JSON.Obj): i32 {
  const err = answer.getObj("error");
  setError(err == null ? "failed" : err.stringify());
  return 1;
}

export function handle(): i32 {
  const ev = <JSON.Obj>JSON.parse(Host.inputString());
  const type = ev.getString("type");
  const msg = ev.getObj("message");
  if (type == null || type.valueOf() != "message" || msg == null) return 0;
  const kind = msg.getString("kind");
  const self = msg.getBool("self");
  const textValue = msg.getString("text");
  if (kind == null || kind.valueOf() != "text" || textValue == null) return 0;
  if (self != null && self.valueOf()) return 0; // ignore what the account itself sent

  const text = textValue.valueOf().trim();
  let reply = "pong";
  if (text != "ping") {
    const prefix = Config.get("prefix");
    reply = (prefix == null || prefix.length == 0 ? "echo: " : prefix) + text;
  }
  const sent = call(hostReply, quote(reply));
  if (sent.has("error")) return fail(sent);

  const counted = call(hostKVIncr, '{"key":"replies","by":1}');
  if (counted.has("error")) return fail(counted);
  const nValue = counted.getInteger("n");
  const n = nValue == null ? 0 : nValue.valueOf();

  const conv = ev.getObj("conversation");
  let convID = "";
  if (conv != null) {
    const id = conv.getString("id");
    if (id != null) convID = id.valueOf();
  }
  const fields = '{"n":' + n.toString() + ',"conversation":' + quote(convID) +
    ',"reply":' + quote(reply) + "}";
  hostLog(block('{"level":"info","msg":"replied","fields":' + fields + "}").offset);
  return 0;
}

// abort reports an AssemblyScript runtime error to the host and traps.
export function abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  setError((message == null ? "abort" : message) + " at " + (fileName == null ? "?" : fileName) +
    ":" + line.toString() + ":" + column.toString());
  unreachable();
}
