package typegen

// preamble declares the globals of the JavaScript host that do not depend
// on the registry: the event model, on(), ev.reply, kv, log, console,
// config, timers, CommonJS and the errors plugins see. DTS appends the
// registry-derived unions and the vendor objects.
const preamble = `
//
// Declarations of the globals Switchboard's JavaScript host gives plugins
// (scripts/NAME.js or scripts/NAME/index.js, CommonJS, ES2020). Check a
// plugin with TypeScript's checkJs, targeting lib "es2020" without "dom":
// the host has no DOM, no Node.js modules, no fs, process or network other
// than the bindings.

declare namespace Switchboard {
  /** A conversation: "S:..." for a private chat, "R:..." for a group. */
  interface Conversation {
    id: string;
    kind: "private" | "group";
  }

  /** The sender of a message. */
  interface Party {
    id: string;
    /** The display name, where the vendor gives it. */
    name?: string;
  }

  /** The attachment of an image, video, voice or file message. */
  interface FileInfo {
    url?: string;
    name?: string;
    size?: number;
  }

  /** The normalized body of a message event. */
  interface Message<K extends MessageKind = MessageKind> {
    /** The vendor's server id of the message. */
    id: string;
    kind: K;
    /** The text content, or a short description for other kinds. */
    text: string;
    from?: Party;
    /** The receiver, where the vendor gives it. */
    to?: string;
    /** Sent by the account itself. */
    self: boolean;
    /** The user ids the message mentions. */
    mentions?: string[];
    file?: FileInfo;
  }

  /** An event: one normalized vendor callback. Field names are fixed. */
  interface Event {
    /** Stable id built from the vendor's own ids, else a hash of the body: the dedupe key. */
    id: string;
    type: EventType | ` + "`system.${string}`" + `;
    vendor: Vendor;
    /** The logged-in account the event belongs to (quntool wxid, wework/wechat guid). */
    account: string;
    /** Milliseconds since the epoch, from the vendor's time. */
    time: number;
    /** Milliseconds since the epoch, when the receiver stored the event. */
    received: number;
    /** Where the event happened, when there is one. */
    conversation?: Conversation;
    /** The message, for type "message". */
    message?: Message;
    /** Type-specific normalized fields (qrcode status, members, room name, contact). */
    data?: Record<string, any>;
    /** The vendor's payload, untouched. */
    raw: any;
    /**
     * Answers in the event's own conversation, through the event's own vendor and account:
     * a string is text; an object holds exactly one content key. Resolves to the vendor's
     * data of the send; rejects with a {@link BindingError} (code "invalid_argument" for
     * content the vendor cannot send, or an event without a conversation).
     */
    reply(content: ReplyContent): Promise<any>;
  }

  /** A message event; K narrows the message kind. */
  interface MessageEvent<K extends MessageKind = MessageKind> extends Event {
    type: "message";
    message: Message<K>;
  }

  /** The event types a non-message pattern selects, or every type when it names none. */
  type TypesOf<T> = [T] extends [never] ? EventType | ` + "`system.${string}`" + ` : T;

  /** The event a handler of pattern P receives. */
  type EventFor<P extends string> =
    P extends "*" ? Event
    : P extends "message" | "message.*" ? MessageEvent
    : P extends ` + "`message.${infer K}`" + ` ? MessageEvent<Extract<MessageKind, K>>
    : P extends ` + "`${infer T}.*`" + ` ? Event & { type: TypesOf<Extract<EventType, T | ` + "`${T}.${string}`" + `>> }
    : Event & { type: TypesOf<Extract<EventType, P | ` + "`${P}.${string}`" + `>> };

  /**
   * An event handler. It may be async: the event is done when its promise settles, and a
   * rejection counts as a failed handler. Other return values are ignored.
   */
  type Handler<P extends string = string> = (ev: EventFor<P>) => unknown;

  /** A media file to send: a URL (or a path the vendor's server can read), or {url, ...}. */
  type Media<Extra = {}> = string | ({ url: string } & Extra);

  /**
   * What ev.reply sends: a string (text), or an object with exactly one content key.
   * Which keys a vendor accepts: quntool text, quote, image, file, video, voice, gif, link,
   * person_card, mini_program, video_num; wechat text, image, video, file, voice, emoticon,
   * link, person_card, location; wework text, image. Another key rejects with
   * code "invalid_argument".
   */
  type ReplyContent =
    | string
    | {
        text: string;
        /** In a group: the user ids to mention (quntool ["0"], wechat ["notify@all"], wework [0]: everyone). */
        mentions?: Array<string | number> | string;
        /** The same as mentions. */
        at?: Array<string | number> | string;
      }
    | { /** Text quoting the event's message (quntool). */ quote: string }
    | { image: Media }
    | { file: Media<{ name?: string }> }
    | { video: Media<{ thumb_url?: string }> }
    | { voice: Media<{ duration?: number }> }
    | { gif: Media }
    | { emoticon: Media }
    | { link: { title: string; url: string; desc?: string; image_url?: string; thumb_url?: string } }
    | { person_card: { user_id: string; nickname?: string; avatar?: string; alias?: string } }
    | { location: { latitude: number | string; longitude: number | string; address?: string; title?: string } }
    | { /** {id} of a saved card, or the card's fields. */ mini_program: { id: number } | Record<string, any> }
    | { /** {id} of a saved card, or the card's fields. */ video_num: { id: number } | Record<string, any> };

  /** Options of kv.set. */
  interface SetOptions {
    /** Time to live: seconds, or a duration string such as "90s", "10m", "1h". */
    ttl?: number | string;
  }

  /** Options of kv.list. */
  interface ListOptions {
    /** At most this many items (1..1000). */
    limit?: number;
    /** The cursor a previous list returned, to go on from there. */
    cursor?: string;
  }

  /** One page of kv.list. */
  interface ListPage<T = any> {
    items: Array<{ key: string; value: T; /** Unix seconds, or null for no expiry. */ expires_at: number | null }>;
    /** Pass to the next list to go on; null on the last page. */
    cursor: string | null;
  }

  /**
   * The plugin's own key-value namespace (kept across reloads and restarts). Values are
   * JSON. Calls are synchronous. Errors throw a {@link KVError}; without the kv grant a
   * {@link PermissionError}.
   */
  interface KV {
    /** The value under key, or undefined. */
    get<T = any>(key: string): T | undefined;
    /** Stores a JSON-serializable value, with an optional time to live. */
    set(key: string, value: any, options?: SetOptions): void;
    /** Removes key (absent keys are fine). */
    delete(key: string): void;
    /** Adds by (default 1) to the integer under key (absent: 0) and returns the new value. */
    incr(key: string, by?: number): number;
    /** The keys starting with prefix, in key order, a page at a time. */
    list<T = any>(prefix?: string, options?: ListOptions): ListPage<T>;
  }

  /** Structured log, tagged with the plugin and the event being handled. */
  interface Log {
    trace(msg: any, fields?: Record<string, any>): void;
    debug(msg: any, fields?: Record<string, any>): void;
    info(msg: any, fields?: Record<string, any>): void;
    warn(msg: any, fields?: Record<string, any>): void;
    error(msg: any, fields?: Record<string, any>): void;
  }

  /** console.* writes to the structured log (log and info at info level). */
  interface Console {
    log(...args: any[]): void;
    info(...args: any[]): void;
    warn(...args: any[]): void;
    error(...args: any[]): void;
    debug(...args: any[]): void;
    trace(...args: any[]): void;
  }

  /** The plugin's settings from switchboard.yaml; declare fields by merging into this interface. */
  interface Config {
    [key: string]: any;
  }

  /** The Error a binding call or ev.reply rejects with. */
  interface BindingError extends Error {
    name: "BindingError";
    /** The vendor of the call. */
    vendor: string;
    /** The vendor's own code (a number), or one of {@link ErrorCode}. */
    code: number | ErrorCode;
    message: string;
  }

  /**
   * An error answer from the vendor: its own numeric code and message (for example wework
   * -2003 invalid conversation id, -4017 no external-contact permission, quntool -1000999
   * frequency limit, 401/403 authentication).
   */
  interface VendorError extends BindingError {
    code: number;
  }

  /** A call the plugin's manifest does not grant; it was never sent. */
  interface PermissionError extends Error {
    /** "BindingError" from a binding call, "PermissionError" from kv. */
    name: "BindingError" | "PermissionError";
    vendor?: string;
    code: "permission_denied";
  }

  /** A call that could not get its turn within the rate limits' wait bound. Retry later. */
  interface RateLimitedError extends BindingError {
    code: "rate_limited";
  }

  /** The Error kv methods throw. */
  interface KVError extends Error {
    name: "KVError";
    code: "invalid_key" | "not_number" | "invalid_json" | "too_large" | "kv_error";
  }
}

/**
 * Registers handler for the events pattern selects ("message.text", "room.*", "*"). Only
 * at the top level, while the plugin initializes; a bad pattern fails the load.
 */
declare function on<P extends Switchboard.Pattern>(pattern: P, handler: Switchboard.Handler<P>): void;

/** The plugin's key-value store. */
declare const kv: Switchboard.KV;
/** The plugin's structured log. */
declare const log: Switchboard.Log;
/** Console output, to the plugin's structured log. */
declare const console: Switchboard.Console;
/** The plugin's settings (read-only). */
declare const config: Readonly<Switchboard.Config>;

/**
 * Calls fn(...args) after ms milliseconds (1 ms if absent or out of range). While the
 * event that set it is handled, the callback runs as part of it.
 */
declare function setTimeout<A extends any[]>(fn: (...args: A) => void, ms?: number, ...args: A): number;
/** Calls fn(...args) every ms milliseconds until cleared. */
declare function setInterval<A extends any[]>(fn: (...args: A) => void, ms?: number, ...args: A): number;
/** Cancels a timeout (null and unknown ids are ignored). */
declare function clearTimeout(id: number | null | undefined): void;
/** Cancels an interval (null and unknown ids are ignored). */
declare function clearInterval(id: number | null | undefined): void;
/** Queues fn to run after the current job, before timers. */
declare function queueMicrotask(fn: () => void): void;

/** Loads a module from inside the plugin's own folder ("./lib/util"). */
declare function require(id: string): any;
/** The CommonJS module object of the current file. */
declare var module: { exports: any; id: string; filename: string; loaded: boolean };
/** The current module's exports (module.exports at start). */
declare var exports: any;
/** The current module's file name. */
declare var __filename: string;
/** The current module's folder. */
declare var __dirname: string;

`
