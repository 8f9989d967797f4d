#!/usr/bin/env python3
"""Drive a running groupware server (started with --demo) through KOrganizer's eGroupWare
resource (protocol notes section 7.1, steps 4, 5 and 7) with Python's stdlib
xmlrpc.client: login, the four load calls (calendar search from today-12 days to
today+2000 days, infolog task search, calendar categories({}), infolog categories(false)),
an event write with every member KDE sends (all-day end +1 day, empty recur_enddate,
alarm keyed "id"), read back, update, a todo write, deletes, logout.

Usage: calendar_python.py BASE_URL
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


def when(value):
    """A dateTime as Python datetime (xmlrpc.client.DateTime keeps the text)."""
    return datetime.datetime.strptime(value.value.replace("-", ""), "%Y%m%dT%H:%M:%S")


anonymous = xc.ServerProxy(ENDPOINT)
state = {}
today = datetime.datetime.combine(datetime.date.today(), datetime.time())


def login():
    reply = anonymous.system.login({"domain": "default", "username": "demo", "password": "guest"})
    expect("no GOAWAY", "GOAWAY" not in reply)
    state["s"] = with_session(reply["sessionid"], reply["kp3"])
    state["tokens"] = reply


def load():
    s = state["s"]
    events = s.calendar.bocalendar.search(
        {"start": xc.DateTime(today - datetime.timedelta(days=12)), "end": xc.DateTime(today + datetime.timedelta(days=2000))}
    )
    expect("three demo events", len(events) == 3)
    for event in events:
        for member in ("id", "rights", "start", "end", "modtime", "title", "description", "location",
                       "access", "priority", "recur_type", "participants"):
            expect(f"event has {member}", member in event)
        expect("own events are editable", event["rights"] & 4 and event["rights"] & 8)
    weekly = [e for e in events if e["recur_type"] == 2]
    expect("the weekly series comes once", len(weekly) == 1)
    todos = s.infolog.boinfolog.search({"filter": "none", "col_filter": {"type": "task"}, "order": "id_parent"})
    expect("two demo tasks", len(todos) == 2)
    expect("top-level first", todos[0]["id_parent"] == 0 and todos[1]["id_parent"] == todos[0]["id"])
    categories = s.calendar.bocalendar.categories({})
    expect("calendar categories", "Work" in categories.values())
    state["work"] = [k for k, v in categories.items() if v == "Work"][0]
    expect("infolog categories", "Work" in s.infolog.boinfolog.categories(False).values())


def save_event():
    s = state["s"]
    start = today + datetime.timedelta(days=3)
    new_id = s.calendar.bocalendar.write({
        "start": xc.DateTime(start),
        "end": xc.DateTime(start + datetime.timedelta(days=1)),
        "modtime": xc.DateTime(today),
        "title": "KDE all-day",
        "description": "from KOrganizer",
        "location": "",
        "access": "public",
        "category": {state["work"]: "Work", "0": "KDE new"},
        "priority": 2,
        "recur_type": 1,
        "recur_interval": 2,
        "recur_enddate": "",
        "recur_data": 0,
        "recur_exception": {},
        "participants": {"2": {"status": "A", "name": "Demo User", "email": "demo@example.org"}},
        "alarm": {"id": {"time": xc.DateTime(start - datetime.timedelta(minutes=30)), "offset": 1800, "enabled": 1}},
    })
    expect("write returns the id as int", isinstance(new_id, int) and new_id > 0)
    state["event"] = new_id
    event = s.calendar.bocalendar.read(new_id)
    expect("all-day start", when(event["start"]) == start)
    expect("all-day end", when(event["end"]) == start + datetime.timedelta(days=1))
    expect("both categories", set(event["category"].values()) == {"Work", "KDE new"})
    expect("the alarm", [a["offset"] for a in event["alarm"].values()] == [1800])
    expect("daily every 2nd day", event["recur_type"] == 1 and event["recur_interval"] == 2)
    expect("no end date", "recur_enddate" not in event)
    event_update = {"id": new_id, "title": "KDE all-day (moved)", "start": xc.DateTime(start + datetime.timedelta(days=1)),
                    "end": xc.DateTime(start + datetime.timedelta(days=2)), "recur_type": 0}
    expect("update returns the id", s.calendar.bocalendar.write(event_update) == new_id)
    event = s.calendar.bocalendar.read(new_id)
    expect("moved", event["title"] == "KDE all-day (moved)" and event["recur_type"] == 0)
    expect("kept the description", event["description"] == "from KOrganizer")


def save_todo():
    s = state["s"]
    todo = s.infolog.boinfolog.write({
        "subject": "KDE todo", "des": "details", "access": "public", "category": {},
        "datemodified": xc.DateTime(today), "startdate": xc.DateTime(today),
        "enddate": xc.DateTime(today + datetime.timedelta(days=1)), "status": "ongoing",
    })
    expect("todo id is an int", isinstance(todo, int))
    entry = s.infolog.boinfolog.read(todo)
    expect("todo is a task", entry["type"] == "task" and entry["status"] == "ongoing")
    expect("rights", entry["rights"] & 4)
    s.infolog.boinfolog.write({"id": todo, "status": "done"})
    entry = s.infolog.boinfolog.read(todo)
    expect("done means 100 %", entry["percent"] == 100 and "datecompleted" in entry)
    expect("todo delete", s.infolog.boinfolog.delete(todo) is True)


def delete_event():
    s = state["s"]
    expect("delete returns true", s.calendar.bocalendar.delete(state["event"]) is True)
    try:
        s.calendar.bocalendar.read(state["event"])
    except xc.Fault as fault:
        expect("1004 for a deleted event", fault.faultCode == 1004)
    else:
        raise AssertionError("a deleted event was read")


def logout():
    tokens = state["tokens"]
    reply = state["s"].system.logout({"sessionid": tokens["sessionid"], "kp3": tokens["kp3"]})
    expect("GOODBYE", reply.get("GOODBYE") == "XOXO")


for name, function in [
    ("kde-calendar: login", login),
    ("kde-calendar: load", load),
    ("kde-calendar: save event", save_event),
    ("kde-calendar: save todo", save_todo),
    ("kde-calendar: delete event", delete_event),
    ("kde-calendar: logout", logout),
]:
    check(name, function)

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
