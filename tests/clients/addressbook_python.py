#!/usr/bin/env python3
"""Drive a running groupware server (started with --demo) through the addressbook call
sequences of two real clients, with Python's stdlib xmlrpc.client:

- KDE Kontact's eGroupWare resource (protocol notes section 7.1): login, search with
  include_users 'calendar' (all members strings), categories(false), customfields([]),
  write new, write update, read, delete, logout;
- the credativ Outlook connector (section 7.2): Basic auth with sessionid:kp3, search with
  ints, read {id, fields}, write, delete with a string id, logout.

Usage: addressbook_python.py BASE_URL
Prints one line per check and exits non-zero if any check failed.
"""

import socket
import sys
import traceback
import urllib.parse
import xmlrpc.client as xc

socket.setdefaulttimeout(60)

BASE = sys.argv[1].rstrip("/")
ENDPOINT = BASE + "/xmlrpc"
failures = []


def check(name, function):
    try:
        function()
    except Exception as error:  # noqa: BLE001 - report everything
        failures.append(f"{name}: {error!r}")
        print(f"FAIL {name}: {error!r}")
        traceback.print_exc(file=sys.stdout)
    else:
        print(f"ok   {name}")


def expect(what, condition):
    if not condition:
        raise AssertionError(what)


def with_session(sessionid, kp3):
    parts = urllib.parse.urlsplit(ENDPOINT)
    netloc = f"{urllib.parse.quote(sessionid)}:{urllib.parse.quote(kp3)}@{parts.netloc}"
    return xc.ServerProxy(urllib.parse.urlunsplit(parts._replace(netloc=netloc)), allow_none=False)


anonymous = xc.ServerProxy(ENDPOINT)
state = {}

# --- KDE Kontact -------------------------------------------------------------------------


def kde_login():
    reply = anonymous.system.login({"domain": "default", "username": "demo", "password": "guest"})
    expect("no GOAWAY", "GOAWAY" not in reply)
    state["kde"] = with_session(reply["sessionid"], reply["kp3"])
    state["kde_tokens"] = reply


def kde_load():
    ab = state["kde"].addressbook.boaddressbook
    contacts = ab.search(
        {"start": "0", "query": "", "filter": "", "sort": "", "order": "", "include_users": "calendar"}
    )
    expect("search returns a list", isinstance(contacts, list))
    normal = [c for c in contacts if c["tid"] == "n"]
    users = [c for c in contacts if c["tid"] == "p"]
    expect("three demo contacts", len(normal) == 3)
    expect("account pseudo entries have negative ids", users and all(c["id"] < 0 for c in users))
    expect("pseudo entries are read-only", all(c["rights"] == 1 for c in users))
    for contact in normal:
        expect("rights on own contacts", contact["rights"] & 8 and contact["rights"] & 4)
        expect("cat_id is a struct", isinstance(contact["cat_id"], dict))
    categories = ab.categories(False)
    expect("categories is a struct of names", set(categories.values()) == {"Friends", "Work"})
    state["categories"] = categories
    fields = ab.customfields([])
    expect("freebusy_url custom field", "freebusy_url" in fields)


def kde_write_new():
    ab = state["kde"].addressbook.boaddressbook
    known = {k: v for k, v in state["categories"].items() if v == "Work"}
    known["0"] = "KDE new category"
    new_id = ab.write(
        {
            "access": "public",
            "fn": "Konqi Dragon",
            "n_given": "Konqi",
            "n_family": "Dragon",
            "bday": xc.DateTime("1996-10-14T00:00:00"),
            "note": "mascot",
            "tz": 1,
            "url": "https://kde.org",
            "org_name": "KDE e.V.",
            "title": "Mascot",
            "cat_id": known,
            "adr_one_street": "Prinzenstr. 85",
            "adr_one_locality": "Berlin",
            "adr_one_type": "intl;postal",
            "tel_work": "+49 30 1234",
            "email": "konqi@kde.org",
            "email_type": "INTERNET",
            "freebusy_url": "https://kde.org/fb/konqi.ifb",
        }
    )
    expect("new id", int(str(new_id)) > 0)
    state["kde_id"] = str(new_id)


def kde_write_update():
    ab = state["kde"].addressbook.boaddressbook
    result = ab.write({"id": state["kde_id"], "n_given": "Konqui", "tel_home": "+49 30 5678"})
    expect("update returns the id", str(result) == state["kde_id"])


def kde_read():
    ab = state["kde"].addressbook.boaddressbook
    contact = ab.read({"id": state["kde_id"]})
    expect("read returns a struct", isinstance(contact, dict))
    expect("updated", contact["n_given"] == "Konqui" and contact["tel_home"] == "+49 30 5678")
    expect("kept", contact["n_family"] == "Dragon" and contact["tz"] == "1")
    expect("bday", str(contact["bday"]) == "19961014T00:00:00")
    expect("categories", set(contact["cat_id"].values()) == {"Work", "KDE new category"})
    expect("custom field", contact["freebusy_url"] == "https://kde.org/fb/konqi.ifb")
    expect("dates are compact dateTime", isinstance(contact["last_mod"], xc.DateTime))


def kde_delete():
    ab = state["kde"].addressbook.boaddressbook
    ab.delete(state["kde_id"])
    try:
        ab.read({"id": state["kde_id"]})
    except xc.Fault as fault:
        expect("1004 after delete", fault.faultCode == 1004)
    else:
        raise AssertionError("read after delete succeeded")


def kde_logout():
    tokens = state["kde_tokens"]
    reply = state["kde"].system.logout({"sessionid": tokens["sessionid"], "kp3": tokens["kp3"]})
    expect("GOODBYE", reply.get("GOODBYE") == "XOXO")


# --- Outlook connector -------------------------------------------------------------------


def outlook_login():
    reply = anonymous.system.login({"domain": "default", "username": "demo", "password": "guest"})
    state["outlook"] = with_session(reply["sessionid"], reply["kp3"])
    state["outlook_tokens"] = reply


def outlook_search():
    ab = state["outlook"].addressbook.boaddressbook
    contacts = ab.search(
        {
            "start": 0,
            "limit": 20,
            "fields": ["n_family", "n_given"],
            "query": "",
            "filter": "none",
            "order": "n_family",
            "sort": "ASC",
            "isoDate": "simple",
        }
    )
    expect("array", isinstance(contacts, list) and len(contacts) == 3)
    expect("fields honoured", all("email" not in c and "n_family" in c for c in contacts))


def outlook_write():
    ab = state["outlook"].addressbook.boaddressbook
    new_id = ab.write({"n_given": "Out", "n_family": "Look", "email": "out@look.example"})
    state["outlook_id"] = str(new_id)
    contact = ab.read({"id": state["outlook_id"], "fields": {"n_family": "n_family"}})
    expect("read with fields", contact["n_family"] == "Look" and "email" not in contact)


def outlook_delete():
    ab = state["outlook"].addressbook.boaddressbook
    expect("delete returns true", ab.delete(state["outlook_id"]) is True)
    tokens = state["outlook_tokens"]
    state["outlook"].system.logout({"sessionid": tokens["sessionid"], "kp3": tokens["kp3"]})


for name, function in [
    ("kde: login", kde_login),
    ("kde: search, categories, customfields", kde_load),
    ("kde: write new", kde_write_new),
    ("kde: write update", kde_write_update),
    ("kde: read", kde_read),
    ("kde: delete", kde_delete),
    ("kde: logout", kde_logout),
    ("outlook: login", outlook_login),
    ("outlook: search", outlook_search),
    ("outlook: write and read", outlook_write),
    ("outlook: delete", outlook_delete),
]:
    check(name, function)

if failures:
    print(f"\n{len(failures)} check(s) failed:")
    for failure in failures:
        print("  " + failure)
    sys.exit(1)
print("all addressbook client checks passed")
