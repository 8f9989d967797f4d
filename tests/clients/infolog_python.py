#!/usr/bin/env python3
"""Drive a running groupware server (started with --demo) through KDE's todo and notes
resources (protocol notes section 7.1, steps 4-7) with Python's stdlib xmlrpc.client.

- todo (KOrganizer): search {filter: none, col_filter: {type: task}, order: id_parent},
  categories(false), write a todo with KDE's members, update it, delete it;
- notes (KNotes): login, search {filter: none, col_filter: {type: note}, order: id_parent},
  write {subject, des, access} (no type: the server default, a task, as eGroupWare did),
  write a note with type note, update, delete, logout.

Usage: infolog_python.py BASE_URL
Prints one line per check and exits non-zero if any check failed.
"""

import datetime
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
today = datetime.datetime.combine(datetime.date.today(), datetime.time())


def login(key):
    def run():
        reply = anonymous.system.login({"domain": "default", "username": "demo", "password": "guest"})
        expect("no GOAWAY", "GOAWAY" not in reply)
        state[key] = with_session(reply["sessionid"], reply["kp3"])
        state[key + "_tokens"] = reply
    return run


def logout(key):
    def run():
        tokens = state[key + "_tokens"]
        reply = state[key].system.logout({"sessionid": tokens["sessionid"], "kp3": tokens["kp3"]})
        expect("GOODBYE", reply.get("GOODBYE") == "XOXO")
    return run


def todo_load():
    info = state["todo"].infolog.boinfolog
    todos = info.search({"filter": "none", "col_filter": {"type": "task"}, "order": "id_parent"})
    expect("two demo tasks", [t["subject"] for t in todos] == ["Plan the release", "Write the release notes"])
    for todo in todos:
        for member in ("id", "subject", "des", "access", "datemodified", "id_parent", "status", "rights"):
            expect(f"todo has {member}", member in todo)
    expect("the sub-task names its parent", todos[1]["id_parent"] == todos[0]["id"])
    expect("categories", "Work" in info.categories(False).values())


def todo_save():
    info = state["todo"].infolog.boinfolog
    new_id = info.write({
        "subject": "KDE task", "des": "from KOrganizer", "access": "private", "category": {},
        "datemodified": xc.DateTime(today), "startdate": xc.DateTime(today),
        "enddate": xc.DateTime(today + datetime.timedelta(days=2)), "status": "offer",
    })
    expect("id is an int", isinstance(new_id, int) and new_id > 0)
    entry = info.read(new_id)
    expect("private task", entry["type"] == "task" and entry["access"] == "private")
    expect("offer", entry["status"] == "offer")
    info.write({"id": new_id, "subject": "KDE task", "des": "", "access": "private", "category": {},
                "datemodified": xc.DateTime(today), "startdate": xc.DateTime(today),
                "enddate": xc.DateTime(today), "status": "ongoing"})
    entry = info.read(new_id)
    expect("updated", entry["status"] == "ongoing" and entry["des"] == "")
    expect("delete", info.delete(new_id) is True)


def notes_load():
    info = state["notes"].infolog.boinfolog
    notes = info.search({"filter": "none", "col_filter": {"type": "note"}, "order": "id_parent"})
    expect("one demo note", [n["subject"] for n in notes] == ["Wi-Fi password"])
    expect("note members", all({"id", "subject", "des", "access"} <= set(n) for n in notes))


def notes_save():
    info = state["notes"].infolog.boinfolog
    plain = info.write({"subject": "KNote", "des": "remember", "access": "public"})
    expect("KNotes reads the id with toInt", int(plain) > 0)
    expect("without a type it is a task", info.read(plain)["type"] == "task")
    note = info.write({"subject": "Real note", "des": "text", "access": "public", "type": "note"})
    info.write({"id": note, "subject": "Real note", "des": "changed text", "access": "public"})
    notes = info.search({"filter": "none", "col_filter": {"type": "note"}, "order": "id_parent"})
    expect("the new note is listed", [n["des"] for n in notes if n["id"] == note] == ["changed text"])
    expect("delete note", info.delete(note) is True)
    expect("delete task", info.delete(plain) is True)


for name, function in [
    ("kde-todo: login", login("todo")),
    ("kde-todo: load", todo_load),
    ("kde-todo: save", todo_save),
    ("kde-todo: logout", logout("todo")),
    ("kde-notes: login", login("notes")),
    ("kde-notes: load", notes_load),
    ("kde-notes: save", notes_save),
    ("kde-notes: logout", logout("notes")),
]:
    check(name, function)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
