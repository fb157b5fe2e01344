// archive-alert: when a WeChat customer writes to an account, searches the
// chat archive (msgserver chatMsg.search) of the account's staff member
// and that customer for the alert keywords, and sends the supervisor one
// message listing the hits not reported before.
//
// config:
//   corp_id              the company id in the archive (ext_corp_id)
//   staff                {quntool wxid: archive staff id} for each account
//   supervisor           the user id (a colleague of the account) alerted
//                        in their private conversation with the account
//   keywords             the words searched for
//   check_every_seconds  a customer's archive is searched at most this
//                        often
//
// State in kv:
//   checked:<customer>   set while the customer's archive need not be
//                        searched again (expires after check_every_seconds)
//   alerted:<msg id>     archive messages already reported
//   alerts               how many alerts were sent

const corpID = String(config.corp_id || '');
/** @type {Record<string, string>} */
const staff = config.staff || {};
const supervisor = String(config.supervisor || '');
const keywords = /** @type {string[]} */ (config.keywords || []).map(String).filter((k) => k !== '');
const every = Number(config.check_every_seconds ?? 300);
if (corpID === '') throw new Error('config.corp_id must be the company id of the archive');
if (supervisor === '') throw new Error('config.supervisor must be the user id to alert');
if (keywords.length === 0) throw new Error('config.keywords must list at least one word');
if (!(every >= 0)) throw new Error('config.check_every_seconds must be a number of seconds >= 0');

/**
 * The private conversation id of two users: "S:" and the ids in order.
 * @param {string} a
 * @param {string} b
 */
function privateConversation(a, b) {
  return a < b ? `S:${a}_${b}` : `S:${b}_${a}`;
}

on('message.text', async (ev) => {
  if (ev.vendor !== 'quntool' || ev.message.self || !ev.conversation || ev.conversation.kind !== 'private') return;
  const customer = ev.message.from && ev.message.from.id;
  const staffID = staff[ev.account];
  if (!customer || !customer.startsWith('788') || !staffID) return;
  if (kv.get('checked:' + customer)) return;

  // The archive knows customers by their external user id (wm...).
  const { ExternalUserId: peer } = await quntool.contact.externalUserId({ wxId: ev.account, contactUserId: customer });
  if (!peer) return;
  /** @type {{msgid: string, msg_time: number, from: string, content_text: string}[]} */
  const hits = [];
  for (const keyword of keywords) {
    const res = await msgserver.chatMsg.search({
      keyword, ext_staff_id: staffID, ext_peer_id: peer, ext_corp_id: corpID, page_size: 100,
    });
    for (const m of (res && res.items) || []) {
      if (!kv.get('alerted:' + m.msgid) && !hits.some((h) => h.msgid === m.msgid)) hits.push(m);
    }
  }
  if (every > 0) kv.set('checked:' + customer, Date.now(), { ttl: every });
  if (hits.length === 0) return;

  hits.sort((a, b) => a.msg_time - b.msg_time);
  const who = (ev.message.from && ev.message.from.name) || customer;
  const lines = hits.map((m) => `- ${new Date(m.msg_time).toISOString().slice(0, 16).replace('T', ' ')} ${m.from === peer ? who : 'staff'}: ${m.content_text}`);
  await quntool.msg.text({
    wxId: ev.account,
    conversationId: privateConversation(ev.account, supervisor),
    content: `Archive alert: ${who} (${customer}) is writing again; earlier messages with ${keywords.join('/')}:\n${lines.join('\n')}`,
  });
  for (const m of hits) kv.set('alerted:' + m.msgid, Date.now(), { ttl: '2160h' });
  const n = kv.incr('alerts');
  log.info('archive alert sent', { customer, hits: hits.length, n });
});
