// node-soap (document/literal WSDL) through login, addressbook listing, create, read,
// delete, logout against a running groupware server started with --demo.
// Usage: node soap_client.js BASE_URL. Exits non-zero naming what failed.
'use strict';
const assert = require('assert');
const soap = require('soap');

const base = process.argv[2].replace(/\/$/, '');

(async () => {
  const anonymous = await soap.createClientAsync(`${base}/soap?wsdl`);
  const [tokens] = await anonymous.system_loginAsync({ params: { username: 'demo', password: 'guest' } });
  const session = tokens.return;
  console.log('login:', session.domain);
  assert.ok(session.sessionid && session.kp3);

  const auth = 'Basic ' + Buffer.from(`${session.sessionid}:${session.kp3}`).toString('base64');
  const api = await soap.createClientAsync(`${base}/soap?wsdl`, {
    wsdl_headers: { Authorization: auth },
    disableCache: true,
  });
  api.setSecurity(new soap.BasicAuthSecurity(session.sessionid, session.kp3));

  const [listing] = await api.addressbook_boaddressbook_read_entriesAsync({
    params: { start: 0, limit: 10, query: '' },
  });
  const names = listing.return.item.map((entry) => entry.n_given);
  console.log('listing:', names.join(' '));
  assert.ok(names.includes('Ada'), names);

  const [created] = await api.addressbook_boaddressbook_addAsync({
    params: { n_given: 'Node', n_family: 'Soap' },
  });
  const id = created.return;
  console.log('created:', id);
  assert.ok(Number(id) > 0);

  const [record] = await api.addressbook_boaddressbook_readAsync({ params: { id } });
  console.log('read:', record.return.n_given);
  assert.strictEqual(record.return.n_given, 'Node');

  const [deleted] = await api.addressbook_boaddressbook_deleteAsync({ id: String(id) });
  assert.strictEqual(deleted.return, true);
  try {
    await api.addressbook_boaddressbook_readAsync({ params: { id } });
    assert.fail('a deleted contact can still be read');
  } catch (error) {
    assert.ok(error.root, error);
    console.log('deleted:', error.root.Envelope.Body.Fault.faultstring);
  }

  const [bye] = await api.system_logoutAsync({
    params: { sessionid: session.sessionid, kp3: session.kp3 },
  });
  console.log('logout:', bye.return.GOODBYE);
  assert.strictEqual(bye.return.GOODBYE, 'XOXO');
  console.log('node-soap: OK');
})().catch((error) => {
  console.error('FAILED:', error && error.stack ? error.stack : error);
  process.exit(1);
});
