// welcome-members: when people join a group the account is in, sends one
// message in the group that mentions each newcomer and greets them
// (ev.reply with mentions: quntool's msg.roomAt, or WeChat's
// msg.sendRoomAt).
//
// config:
//   greeting      the text after the mentions; {room} is the group's name
//   rooms         only these group conversation ids ("R:..."); empty: all
//   max_mentions  newcomers mentioned per message; more are greeted in
//                 further messages
//
// State in kv:
//   welcomed:<room>     how many people the plugin welcomed in the group
//   seen:<event id>     events already handled (delivery is at least
//                       once), kept for a day

const greeting = String(config.greeting || 'welcome to {room}!');
const rooms = new Set(/** @type {string[]} */ (config.rooms || []));
const maxMentions = Number(config.max_mentions ?? 20);
if (!Number.isInteger(maxMentions) || maxMentions < 1) {
  throw new Error('config.max_mentions must be a whole number >= 1');
}

// mention is how a newcomer is mentioned in the text: quntool puts each
// mentioned member where a {$@} stands; WeChat sends the text as it is,
// so it carries the @name itself.
/**
 * @param {string} vendor
 * @param {{id: string, name?: string}} member
 */
const mention = (vendor, member) => (vendor === 'quntool' ? '{$@}' : '@' + (member.name || member.id));

on('room.member_added', async (ev) => {
  const room = ev.conversation;
  if (!room || room.kind !== 'group') return;
  if (rooms.size > 0 && !rooms.has(room.id)) return;
  if (kv.get('seen:' + ev.id)) return;

  /** @type {{id: string, name?: string}[]} */
  const members = (ev.data.members || []).filter(
    (/** @type {{id?: string}} */ m) => m && m.id && m.id !== ev.account,
  );
  const text = greeting.split('{room}').join(ev.data.room_name || ev.data.name || 'the group');
  for (let i = 0; i < members.length; i += maxMentions) {
    const batch = members.slice(i, i + maxMentions);
    await ev.reply({
      text: batch.map((m) => mention(ev.vendor, m)).join(' ') + ' ' + text,
      mentions: batch.map((m) => m.id),
    });
    kv.incr('welcomed:' + room.id, batch.length);
  }
  kv.set('seen:' + ev.id, true, { ttl: '24h' });
  if (members.length > 0) log.info('welcomed', { room: room.id, members: members.map((m) => m.id) });
});
