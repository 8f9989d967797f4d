#!/usr/bin/env python3
"""Log in, call, log out and get refused, with Python's stdlib xmlrpc.client, the way the
README shows it.

Usage: auth_python.py BASE_URL

The server must run with --demo (user demo, password guest). Prints one line per check
and exits non-zero if any check failed, listing the failures at the end.
"""

import socket
import sys
import traceback
import xmlrpc.client as xc

socket.setdefaulttimeout(60)

BASE = sys.argv[1].rstrip("/")
ENDPOINT = BASE + "/xmlrpc"

failures = []
passed = 0


def check(name):
    """Decorator: run the check now, record its outcome."""

    def run(function):
        global passed
        try:
            function()
        except Exception as error:  # noqa: BLE001 - report everything
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            failures.append(f"{name}: {detail}")
            print(f"FAIL {name}: {detail}")
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print(f"ok   {name}")
        return function

    return run


def expect_equal(what, got, wanted):
    if got != wanted:
        raise AssertionError(f"{what}: got {got!r}, wanted {wanted!r}")


def expect_fault(what, call, code, message):
    try:
        result = call()
    except xc.Fault as fault:
        expect_equal(f"{what}: fault", (fault.faultCode, fault.faultString), (code, message))
        return
    raise AssertionError(f"{what}: wanted fault {code} {message!r}, got result {result!r}")


def session_proxy(tokens):
    """A proxy sending Basic sessionid:kp3, as the README shows."""
    host = ENDPOINT.replace("http://", f"http://{tokens['sessionid']}:{tokens['kp3']}@")
    return xc.ServerProxy(host, allow_none=True, use_builtin_types=True)


anonymous = xc.ServerProxy(ENDPOINT, allow_none=True, use_builtin_types=True)
state = {}


@check("anonymous system.time has no user member")
def _():
    time = anonymous.system.time()
    expect_equal("members", sorted(time), ["system", "system_tz_offset"])


@check("wrong password is fault 1001 Login failed")
def _():
    expect_fault(
        "login demo/wrong",
        lambda: anonymous.system.login({"username": "demo", "password": "wrong"}),
        1001,
        "Login failed",
    )


@check("system.login returns domain, sessionid and kp3 strings")
def _():
    tokens = anonymous.system.login(
        {"username": "demo", "password": "guest", "domain": "default", "server_name": "x"}
    )
    expect_equal("members", sorted(tokens), ["domain", "kp3", "sessionid"])
    expect_equal("domain", tokens["domain"], "default")
    for name in ("sessionid", "kp3"):
        value = tokens[name]
        if not (isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)):
            raise AssertionError(f"{name} is not 32 hex characters: {value!r}")
    if tokens["sessionid"] == tokens["kp3"]:
        raise AssertionError("sessionid equals kp3")
    state["tokens"] = tokens


@check("authenticated calls see the user")
def _():
    api = session_proxy(state["tokens"])
    time = api.system.time()
    expect_equal(
        "members", sorted(time), ["system", "system_tz_offset", "user", "user_tz_offset"]
    )
    methods = api.system.listMethods()
    for name in ("system.login", "system.logout", "system.time"):
        if name not in methods:
            raise AssertionError(f"{name} missing from {methods!r}")


@check("authenticated multicall")
def _():
    api = session_proxy(state["tokens"])
    calls = xc.MultiCall(api)
    calls.system.time()
    calls.system.phpgw_api_version()
    results = list(calls())
    expect_equal("multicall slots", len(results), 2)
    if "user" not in results[0]:
        raise AssertionError(f"system.time in a multicall lacks user: {results[0]!r}")


@check("logout returns GOODBYE XOXO")
def _():
    tokens = state["tokens"]
    api = session_proxy(tokens)
    goodbye = api.system.logout({"sessionid": tokens["sessionid"], "kp3": tokens["kp3"]})
    expect_equal("logout", goodbye, {"GOODBYE": "XOXO"})


@check("the same calls with the logged-out session are refused: 1001 Session expired")
def _():
    api = session_proxy(state["tokens"])
    expect_fault("system.time", lambda: api.system.time(), 1001, "Session expired")
    expect_fault("system.listMethods", lambda: api.system.listMethods(), 1001, "Session expired")
    tokens = state["tokens"]
    expect_fault(
        "second logout",
        lambda: anonymous.system.logout({"sessionid": tokens["sessionid"], "kp3": tokens["kp3"]}),
        1001,
        "Session expired",
    )


@check("logout with the session's own Basic credentials")
def _():
    tokens = anonymous.system.login({"username": "demo", "password": "guest"})
    api = session_proxy(tokens)
    expect_equal("user member", "user" in api.system.time(), True)
    expect_equal("logout", api.system.logout({}), {"GOODBYE": "XOXO"})
    expect_fault("after logout", lambda: api.system.time(), 1001, "Session expired")


@check("a new login still works after logouts")
def _():
    tokens = anonymous.system.login({"username": "demo", "password": "guest"})
    if tokens["sessionid"] == state["tokens"]["sessionid"]:
        raise AssertionError("a session id was reused")
    expect_equal("user member", "user" in session_proxy(tokens).system.time(), True)


print(f"\n{passed} passed, {len(failures)} failed")
if failures:
    print("FAILURES:")
    for failure in failures:
        print(f"  {failure}")
    sys.exit(1)
