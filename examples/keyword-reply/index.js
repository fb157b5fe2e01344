// keyword-reply: answers messages that contain a configured keyword with
// the rule's reply, in the conversation the message came from.
//
// State in kv:
//   cooldown:<conversation>:<rule>  set when a rule answers, expires after
//                                   config.cooldown_seconds: while it is
//                                   there the rule stays quiet in that
//                                   conversation
//   replied:<rule>                  how many answers the rule sent
//   suppressed:<rule>               how many matches the cooldown silenced
//   seen:<event id>                 events already handled (delivery is at
//                                   least once), kept for a day
//
// In a group the reply mentions the sender (quntool msg.roomAt).

/**
 * @typedef {{keywords: string[], reply: string, name?: string}} Rule
 */

/** @type {Rule[]} */
const rules = (/** @type {any[]} */ (config.rules || [])).map((r, i) => {
  if (!r || !Array.isArray(r.keywords) || r.keywords.length === 0 || typeof r.reply !== 'string' || r.reply === '') {
    throw new Error(`config.rules[${i}] needs a non-empty "keywords" list and a "reply"`);
  }
  return {
    name: r.name || r.keywords[0],
    keywords: r.keywords.map((/** @type {unknown} */ k) => String(k).toLowerCase()),
    reply: r.reply,
  };
});
const cooldown = Number(config.cooldown_seconds ?? 600);
if (!(cooldown >= 0)) throw new Error('config.cooldown_seconds must be a number of seconds >= 0');

/**
 * The first rule whose keyword the text contains.
 * @param {string} text
 * @returns {Rule | undefined}
 */
function match(text) {
  const lower = text.toLowerCase();
  return rules.find((r) => r.keywords.some((k) => lower.includes(k)));
}

on('message.text', async (ev) => {
  if (ev.message.self || !ev.conversation) return;
  const rule = match(ev.message.text || '');
  if (!rule) return;
  if (kv.get('seen:' + ev.id)) return;

  const key = `cooldown:${ev.conversation.id}:${rule.name}`;
  if (kv.get(key)) {
    kv.incr('suppressed:' + rule.name);
    kv.set('seen:' + ev.id, true, { ttl: '24h' });
    return;
  }
  const from = ev.message.from;
  if (ev.conversation.kind === 'group' && from && from.id) {
    await ev.reply({ text: '{$@} ' + rule.reply, mentions: [from.id] });
  } else {
    await ev.reply(rule.reply);
  }
  if (cooldown > 0) kv.set(key, Date.now(), { ttl: cooldown });
  kv.set('seen:' + ev.id, true, { ttl: '24h' });
  const n = kv.incr('replied:' + rule.name);
  log.info('keyword answered', { rule: rule.name, conversation: ev.conversation.id, n });
});
