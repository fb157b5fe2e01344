// label-contacts: when an account gains a contact (quntool
// notify_type_contact_add), gives the contact the company label named
// config.label, added to the labels they already carry.
//
// config:
//   label        the name of the label (create it in WeCom first; the
//                plugin never creates labels)
//   wechat_only  label WeChat users (ids starting with 788) only, not
//                colleagues or users of other companies
//
// State in kv:
//   label-id:<account>  the label's id, cached for 10 minutes
//   labeled:<contact>   when the contact was labeled (ms since epoch)
//   labeled             how many contacts were labeled
//   missing             how many contacts could not be labeled because the
//                       label does not exist

const labelName = String(config.label || '').trim();
if (labelName === '') throw new Error('config.label must name a company label');
const wechatOnly = config.wechat_only !== false;

/**
 * The id of the label named labelName in the account's company, or
 * undefined when there is none. label.all lists label groups too: their
 * labelGroupId is "0".
 * @param {string} account
 * @returns {Promise<string | undefined>}
 */
async function labelID(account) {
  const cached = kv.get('label-id:' + account);
  if (cached) return cached;
  /** @type {{labelId: string, labelGroupId: string, name: string}[]} */
  const all = (await quntool.label.all({ wxId: account })) || [];
  const found = all.find((l) => l.name === labelName && String(l.labelGroupId) !== '0');
  if (!found) return undefined;
  kv.set('label-id:' + account, found.labelId, { ttl: '10m' });
  return found.labelId;
}

on('contact.added', async (ev) => {
  if (ev.vendor !== 'quntool') return;
  const contact = ev.data.contact || {};
  const id = String(contact.id || '');
  if (id === '' || (wechatOnly && !id.startsWith('788'))) return;

  const label = await labelID(ev.account);
  if (!label) {
    kv.incr('missing');
    log.warn('label not found: create it in WeCom', { label: labelName, account: ev.account });
    return;
  }
  /** @type {{label_id: string}[]} */
  const current = (await quntool.label.contact.labels({ wxId: ev.account, contactUserId: id })) || [];
  const ids = current.map((l) => String(l.label_id));
  if (!ids.includes(label)) {
    await quntool.label.contact.setlabel({ wxId: ev.account, contactUserId: id, labelIds: [...ids, label] });
    kv.incr('labeled');
  }
  kv.set('labeled:' + id, Date.now());
  log.info('contact labeled', { contact: id, name: contact.name, label: labelName });
});
