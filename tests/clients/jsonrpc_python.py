"""JSON-RPC over HTTP with nothing but Python's standard library (json + urllib).

Usage: jsonrpc_python.py BASE_URL USERNAME PASSWORD

Logs in, lists the addressbook, checks a batch and the dateTime/binary convention, and
logs out. Exits non-zero naming the first check that failed.
"""

import base64
import json
import sys
import urllib.error
import urllib.request

BASE, USERNAME, PASSWORD = sys.argv[1], sys.argv[2], sys.argv[3]
URL = BASE + "/jsonrpc"


def post(payload, auth=None):
    """POSTs a JSON document; returns (status, decoded body or None)."""
    request = urllib.request.Request(
        URL,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return response.status, (json.loads(body) if body else None)
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, (json.loads(body) if body else None)


def call(method, params, auth=None, request_id=1):
    status, reply = post(
        {"jsonrpc": "2.0", "method": method, "params": params, "id": request_id}, auth
    )
    check(status == 200, f"{method}: HTTP {status} {reply}")
    check(reply.get("jsonrpc") == "2.0" and reply.get("id") == request_id, f"{method}: envelope {reply}")
    if "error" in reply:
        raise RuntimeError(f"{method}: error {reply['error']}")
    return reply["result"]


def check(condition, message):
    if not condition:
        print("FAILED:", message)
        sys.exit(1)
    print("ok:", message.split(":")[0])


tokens = call("system.login", {"username": USERNAME, "password": PASSWORD})
check(set(tokens) == {"domain", "sessionid", "kp3"}, f"login returns tokens: {tokens}")
session = (tokens["sessionid"], tokens["kp3"])

methods = call("system.listMethods", [], session)
check("addressbook.boaddressbook.read_entries" in methods, "listMethods shows the addressbook")

new_id = call(
    "addressbook.boaddressbook.write",
    [{"n_given": "Ada", "n_family": "Lovelace", "email": "ada@example.org"}],
    session,
)
check(isinstance(new_id, int) and new_id > 0, f"write returns an id: {new_id}")
entries = call("addressbook.boaddressbook.read_entries", {"start": 0, "limit": 10}, session)
check(
    any(entry.get("n_family") == "Lovelace" for entry in entries),
    f"read_entries lists the new contact: {entries}",
)

# A batch mixing good and bad calls: each slot gets its own answer, notifications none.
status, replies = post(
    [
        {"jsonrpc": "2.0", "method": "system.time", "id": "t"},
        {"jsonrpc": "2.0", "method": "no.such.method", "id": "u"},
        {"jsonrpc": "2.0", "method": "system.listApps"},
        {"jsonrpc": "2.0", "method": "addressbook.boaddressbook.read", "params": [-5], "id": "r"},
        "not a request",
    ],
    session,
)
check(status == 200 and isinstance(replies, list), f"batch: HTTP {status} {replies}")
by_id = {reply["id"]: reply for reply in replies}
check(len(replies) == 4, f"batch: four replies (the notification has none): {replies}")
check(
    by_id["t"]["result"]["system"]["__jsonclass__"][0] == "datetime",
    f"batch: system.time carries a datetime: {by_id['t']}",
)
check(by_id["u"]["error"]["code"] == -32601, f"batch: unknown method -32601: {by_id['u']}")
check(by_id["r"]["error"]["code"] == 1004, f"batch: bad id 1004: {by_id['r']}")
check(by_id[None]["error"]["code"] == -32600, f"batch: a non-object -32600: {by_id[None]}")

# JSON-RPC 1.0 form.
status, reply = post({"method": "system.phpgw_api_version", "params": [], "id": 9})
check(
    status == 200 and reply == {"result": reply["result"], "error": None, "id": 9},
    f"1.0 reply form: {reply}",
)

bye = call("system.logout", [{"sessionid": session[0], "kp3": session[1]}], session)
check(bye == {"GOODBYE": "XOXO"}, f"logout: {bye}")
status, reply = post(
    {"jsonrpc": "2.0", "method": "addressbook.boaddressbook.read_entries", "params": [{}], "id": 2},
    session,
)
check(reply["error"]["code"] == 1001, f"the session is gone after logout: {reply}")
print("all JSON-RPC checks passed")
