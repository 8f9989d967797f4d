// Drives the groupware JSON-RPC endpoint with the stock npm `jayson` client.
//
// Usage: node jayson_client.js BASE_URL USERNAME PASSWORD
// Logs in, lists the addressbook, sends a batch mixing good and bad calls, logs out.
// Exits non-zero naming the first check that failed.
'use strict';

const jayson = require('jayson/promise');

const [base, username, password] = process.argv.slice(2);
const url = new URL(base + '/jsonrpc');

function client(auth) {
  const headers = {};
  if (auth) {
    headers.Authorization = 'Basic ' + Buffer.from(auth.join(':')).toString('base64');
  }
  return jayson.client.http({
    hostname: url.hostname,
    port: url.port,
    path: url.pathname,
    headers,
  });
}

function check(condition, message) {
  if (!condition) {
    console.log('FAILED:', message);
    process.exit(1);
  }
  console.log('ok:', message.split(':')[0]);
}

async function main() {
  const anonymous = client();
  const login = await anonymous.request('system.login', { username, password });
  check(!login.error && login.result.sessionid && login.result.kp3,
    `login returns tokens: ${JSON.stringify(login)}`);
  const session = client([login.result.sessionid, login.result.kp3]);

  const methods = await session.request('system.listMethods', []);
  check(methods.result.includes('addressbook.boaddressbook.read_entries'),
    'listMethods shows the addressbook');

  const written = await session.request('addressbook.boaddressbook.write',
    [{ n_given: 'Grace', n_family: 'Hopper' }]);
  check(Number.isInteger(written.result), `write returns an id: ${JSON.stringify(written)}`);
  const listing = await session.request('addressbook.boaddressbook.read_entries',
    [{ start: 0, limit: 10 }]);
  check(Array.isArray(listing.result) && listing.result.some((e) => e.n_family === 'Hopper'),
    `read_entries lists the contact: ${JSON.stringify(listing)}`);

  // A batch: jayson builds each request with `request(method, params, id, false)`.
  const batch = [
    session.request('system.phpgw_api_version', [], undefined, false),
    session.request('no.such.method', [], undefined, false),
    session.request('addressbook.boaddressbook.read', ['not-a-number'], undefined, false),
  ];
  const replies = await session.request(batch);
  check(Array.isArray(replies) && replies.length === 3, `batch answers each call: ${JSON.stringify(replies)}`);
  const byId = new Map(replies.map((reply) => [reply.id, reply]));
  check(typeof byId.get(batch[0].id).result === 'string', 'batch: the version call succeeded');
  check(byId.get(batch[1].id).error.code === -32601, 'batch: the unknown method is -32601');
  check(byId.get(batch[2].id).error.code === 1004, 'batch: the bad id is 1004');

  // A notification (id null means no reply is expected; jayson resolves without a body).
  await session.request('system.time', [], null);
  check(true, 'notification: sent');

  const bye = await session.request('system.logout',
    [{ sessionid: login.result.sessionid, kp3: login.result.kp3 }]);
  check(bye.result && bye.result.GOODBYE === 'XOXO', `logout: ${JSON.stringify(bye)}`);
  const after = await session.request('system.listApps', []);
  check(after.error && after.error.code === 1001, `the session is gone: ${JSON.stringify(after)}`);
  console.log('all jayson checks passed');
}

main().catch((error) => {
  console.log('FAILED:', error && error.stack ? error.stack : error);
  process.exit(1);
});
