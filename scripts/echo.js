// echo: answers "ping" with "pong" and echoes any other text back, in the
// conversation the message came from, through the vendor and account it
// came from. The shipped demo of `switchboard run --sim`.
on('message.text', async (ev) => {
  if (ev.message.self) return; // ignore what the account itself sent

  const text = ev.message.text.trim();
  const reply = text === 'ping' ? 'pong' : `${config.prefix || 'echo: '}${text}`;
  await ev.reply(reply);

  const n = kv.incr('replies'); // per-plugin counter, kept across reloads and restarts
  log.info('replied', { n, conversation: ev.conversation.id, reply });
});
