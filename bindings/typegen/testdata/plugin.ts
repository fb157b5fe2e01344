// A typed plugin that exercises every global the host declares.
on('message.text', async (ev) => {
  const kind: 'text' = ev.message.kind;
  const self: boolean = ev.message.self;
  await ev.reply('pong ' + kind + self);
});
const x: number = kv.list().cursor; on('bogus', () => {});
