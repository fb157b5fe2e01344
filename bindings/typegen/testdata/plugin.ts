// A typed plugin exercising every global the JavaScript host declares.
// Lines marked @ts-expect-error must fail to type-check: if the
// declarations stopped catching the mistake, tsc reports the directive as
// unused.

interface Settings {
  greeting: string;
}
const settings = config as Readonly<Settings>;
const greeting: string = settings.greeting ?? 'hello';

on('message.text', async (ev) => {
  const kind: 'text' = ev.message.kind;
  const self: boolean = ev.message.self;
  if (self) return;
  const from: string | undefined = ev.message.from?.name;
  const id: string = ev.id;
  const time: number = ev.time + ev.received;
  const where: string | undefined = ev.conversation?.id;
  const group: boolean = ev.conversation?.kind === 'group';
  await ev.reply(`${greeting} ${from ?? ''} ${kind} ${id} ${time} ${where} ${group}`);
  await ev.reply({ text: 'hi all', mentions: ['0'] });
  await ev.reply({ image: 'https://example.invalid/a.png' });
  await ev.reply({ file: { url: 'https://example.invalid/a.pdf', name: 'a.pdf' } });
  await ev.reply({ link: { title: 't', url: 'https://example.invalid', desc: 'd' } });
  await ev.reply({ location: { latitude: 1.5, longitude: 2.5, title: 'here' } });
  // @ts-expect-error a link needs a title
  await ev.reply({ link: { url: 'https://example.invalid' } });
  // @ts-expect-error a reply is a string or a content object
  await ev.reply(42);
  const file = ev.message.file;
  log.debug('file', { url: file?.url, size: file?.size, mentions: ev.message.mentions });
});

on('message', (ev) => {
  const type: 'message' = ev.type;
  log.trace(type, { kind: ev.message.kind });
});

on('room.*', (ev) => {
  const type: `room.${string}` = ev.type;
  const data: Record<string, any> | undefined = ev.data;
  log.info('room event', { type, data, raw: ev.raw, vendor: ev.vendor, account: ev.account });
});

on('login', (ev) => {
  const type: 'login' | 'login.qrcode' | 'login.verify' = ev.type;
  console.log(type);
});

on('system.sync_failed', (ev) => console.warn(ev.type));
on('system.anything_new', (ev) => console.error(ev.type));
on('*', (ev) => console.debug(ev.id, ev.type));

// @ts-expect-error not an event pattern
on('mesage.text', () => {});
// @ts-expect-error a handler gets the event only
on('message', (ev, extra: string) => { console.info(ev.id, extra); });

// kv: get, set with a ttl, delete, incr, list with paging.
const count: number = kv.incr('count') + kv.incr('count', 5);
kv.set('last', { count }, { ttl: 60 });
kv.set('session', 'x', { ttl: '10m' });
const last = kv.get<{ count: number }>('last');
const n: number | undefined = last?.count;
kv.delete('session');
let page = kv.list<{ count: number }>('la', { limit: 10 });
for (const item of page.items) {
  const key: string = item.key;
  const expires: number | null = item.expires_at;
  console.trace(key, item.value.count, expires, n);
}
if (page.cursor !== null) page = kv.list('la', { cursor: page.cursor });
// @ts-expect-error kv keys are strings
kv.get(1);
// @ts-expect-error incr returns a number
const wrong: string = kv.incr('count');

// Timers and microtasks.
const timer: number = setTimeout((a: string, b: number) => console.log(a, b), 100, 'a', 1);
clearTimeout(timer);
const interval = setInterval(() => log.warn('tick'), 1000);
clearInterval(interval);
clearTimeout(null);
queueMicrotask(() => log.error('later'));
// @ts-expect-error the extra arguments must fit the callback
setTimeout((a: string) => console.log(a), 10, 1);

// CommonJS.
const helper = require('./helper');
module.exports = { helper, file: __filename, dir: __dirname };
exports.loaded = module.loaded;

// Bindings: an object of arguments, a typed result, typed errors.
async function send(wxId: string): Promise<string> {
  try {
    const sent = await quntool.msg.text({ wxId, conversationId: 'S:1_2', content: 'hi' });
    return sent.msgId;
  } catch (e) {
    const err = e as Switchboard.BindingError;
    if (err.code === 'rate_limited') {
      const limited = err as Switchboard.RateLimitedError;
      log.warn('rate limited', { vendor: limited.vendor, message: limited.message });
    } else if (err.code === 'permission_denied') {
      const denied = err as Switchboard.PermissionError;
      log.error(denied.message, { code: denied.code });
    } else if (typeof err.code === 'number') {
      const vendor: Switchboard.VendorError = err as Switchboard.VendorError;
      log.error('vendor error', { vendor: vendor.vendor, code: vendor.code });
    }
    const kvErr = e as Switchboard.KVError;
    if (kvErr.name === 'KVError') log.error(kvErr.code);
    throw err;
  }
}
void send('1688');
// @ts-expect-error a required parameter is missing
void quntool.msg.text({ wxId: '1688', content: 'hi' });
// @ts-expect-error a parameter has the wrong type
void quntool.msg.text({ wxId: 1688, conversationId: 'S:1_2', content: 'hi' });
// @ts-expect-error there is no such endpoint
void quntool.msg.nonexistent({});

// Handlers may return anything; only a promise is awaited.
on('message.image', (ev) => kv.incr(`images:${ev.message.kind}`));
on('contact', async (ev) => {
  const type: 'contact.added' | 'contact.removed' | 'contact.changed' = ev.type;
  return type;
});
