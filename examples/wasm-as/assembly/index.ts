// echo: the echo plugin as an AssemblyScript WASM plugin (Extism ABI).
// It answers "ping" with "pong" and echoes any other text back, in the
// conversation the message came from, and counts its replies in the KV
// store: the same logic as scripts/echo.js and examples/wasm-go.
//
// Build: npm ci && npm run build  (writes echo.wasm)
//
// It reads the few fields it needs straight from the JSON bytes (Reader,
// below) instead of parsing whole documents: a guest whose host can stop
// it pays for every loop iteration and call, and a full parse of the
// event is most of what an event costs.
import { Config, Host, Memory } from "@extism/as-pdk";

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
  let plain = true;
  for (let i = 0; plain && i < s.length; i++) {
    const c = s.charCodeAt(i);
    plain = c >= 0x20 && c != 0x22 && c != 0x5c;
  }
  if (plain) return '"' + s + '"';
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

// Reader reads chosen fields of a JSON document held as UTF-8 bytes: it
// finds a key in an object, skipping the values before it (strings with
// their escapes, nested objects and arrays), and decodes only the values
// asked for. The host sends valid JSON; on anything else the reader finds
// nothing rather than failing.
class Reader {
  constructor(public b: Uint8Array, public i: i32 = 0) {}

  // ws skips white space.
  ws(): void {
    while (this.i < this.b.length) {
      const c = this.b[this.i];
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) return;
      this.i++;
    }
  }

  // skipString moves past the string starting at i (its opening quote).
  skipString(): void {
    this.i++;
    while (this.i < this.b.length) {
      const c = this.b[this.i++];
      if (c == 0x5c) this.i++; // the escaped byte, a quote or a backslash included
      else if (c == 0x22) return;
    }
  }

  // skip moves past the value at i.
  skip(): void {
    this.ws();
    if (this.i >= this.b.length) return;
    const c = this.b[this.i];
    if (c == 0x22) {
      this.skipString();
      return;
    }
    if (c == 0x7b || c == 0x5b) {
      let depth = 0;
      while (this.i < this.b.length) {
        const d = this.b[this.i];
        if (d == 0x22) {
          this.skipString();
          continue;
        }
        this.i++;
        if (d == 0x7b || d == 0x5b) depth++;
        else if ((d == 0x7d || d == 0x5d) && --depth == 0) return;
      }
      return;
    }
    // A number, true, false or null: up to the next delimiter.
    while (this.i < this.b.length) {
      const d = this.b[this.i];
      if (d == 0x2c || d == 0x7d || d == 0x5d || d == 0x20 || d == 0x0a || d == 0x0d || d == 0x09) return;
      this.i++;
    }
  }

  // field moves to the value of key in the object starting at start and
  // reports whether it is there. Keys are compared as they are written,
  // which is how the host writes the ones read here (no escapes).
  field(start: i32, key: string): bool {
    this.i = start;
    this.ws();
    if (this.i >= this.b.length || this.b[this.i] != 0x7b) return false;
    this.i++;
    const n = key.length;
    while (true) {
      this.ws();
      if (this.i >= this.b.length || this.b[this.i] != 0x22) return false;
      const k = this.i + 1;
      this.skipString();
      let same = this.i - k - 1 == n;
      for (let j = 0; same && j < n; j++) same = <i32>this.b[k + j] == key.charCodeAt(j);
      this.ws();
      if (this.i >= this.b.length || this.b[this.i] != 0x3a) return false;
      this.i++;
      this.ws();
      if (same) return true;
      this.skip();
      this.ws();
      if (this.i >= this.b.length || this.b[this.i] != 0x2c) return false;
      this.i++;
    }
  }

  // str decodes the string at i, escapes included; null for another value.
  str(): string | null {
    if (this.i >= this.b.length || this.b[this.i] != 0x22) return null;
    const base = this.b.dataStart;
    let out = "";
    let run = ++this.i;
    while (this.i < this.b.length) {
      const c = this.b[this.i];
      if (c == 0x22) {
        const last = String.UTF8.decodeUnsafe(base + run, this.i - run);
        this.i++;
        return out.length == 0 ? last : out + last;
      }
      if (c != 0x5c) {
        this.i++;
        continue;
      }
      out += String.UTF8.decodeUnsafe(base + run, this.i - run);
      const e = this.i + 1 < this.b.length ? this.b[this.i + 1] : 0;
      this.i += 2;
      if (e == 0x6e) out += "\n";
      else if (e == 0x74) out += "\t";
      else if (e == 0x72) out += "\r";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x75) {
        // \uXXXX is one UTF-16 unit; a surrogate pair is two escapes,
        // which make the character together in a UTF-16 string.
        let u = 0;
        for (let j = 0; j < 4 && this.i < this.b.length; j++) {
          const h = <i32>this.b[this.i++];
          u = u * 16 + (h <= 0x39 ? h - 0x30 : (h | 0x20) - 0x57);
        }
        out += String.fromCharCode(u);
      } else out += String.fromCharCode(e); // \" \\ \/
      run = this.i;
    }
    return null;
  }

  // bool reads true at i; anything else is false.
  bool(): bool {
    return this.i < this.b.length && this.b[this.i] == 0x74;
  }

  // int reads an integer at i; 0 for another value.
  int(): i64 {
    let neg = false;
    if (this.i < this.b.length && this.b[this.i] == 0x2d) {
      neg = true;
      this.i++;
    }
    let n: i64 = 0;
    while (this.i < this.b.length) {
      const c = this.b[this.i];
      if (c < 0x30 || c > 0x39) break;
      n = n * 10 + <i64>(c - 0x30);
      this.i++;
    }
    return neg ? -n : n;
  }
}

// call sends a JSON request to a host function and returns a reader of
// its answer. The host frees every block when the event ends.
function call(fn: (req: u64) => u64, request: string): Reader {
  const off = fn(block(request).offset);
  return new Reader(new Memory(off, blockLength(off)).toUint8Array());
}

// failed reports whether an answer holds an error; if so it sets the
// error the host reports (the answer's error object as JSON).
function failed(answer: Reader): bool {
  if (!answer.field(0, "error")) return false;
  const start = answer.i;
  if (start < answer.b.length && answer.b[start] == 0x6e) return false; // "error": null
  answer.skip();
  setError(String.UTF8.decodeUnsafe(answer.b.dataStart + start, answer.i - start));
  return true;
}

export function handle(): i32 {
  const ev = new Reader(Host.input());
  if (!ev.field(0, "type")) return 0;
  const type = ev.str();
  if (type == null || type != "message" || !ev.field(0, "message")) return 0;
  const msg = ev.i;
  if (!ev.field(msg, "kind")) return 0;
  const kind = ev.str();
  if (kind == null || kind != "text") return 0;
  if (ev.field(msg, "self") && ev.bool()) return 0; // ignore what the account itself sent
  if (!ev.field(msg, "text")) return 0;
  const textValue = ev.str();
  if (textValue == null) return 0;

  const text = textValue.trim();
  let reply = "pong";
  if (text != "ping") {
    const prefix = Config.get("prefix");
    reply = (prefix == null || prefix.length == 0 ? "echo: " : prefix) + text;
  }
  if (failed(call(hostReply, quote(reply)))) return 1;

  const counted = call(hostKVIncr, '{"key":"replies","by":1}');
  if (failed(counted)) return 1;
  const n = counted.field(0, "n") ? counted.int() : 0;

  let convID = "";
  if (ev.field(0, "conversation") && ev.field(ev.i, "id")) {
    const id = ev.str();
    if (id != null) convID = id;
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
