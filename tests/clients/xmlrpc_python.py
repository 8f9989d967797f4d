#!/usr/bin/env python3
"""Drive a running groupware server (started with --enable-interop) with Python's stdlib
xmlrpc.client, the way real Python clients do.

Usage: xmlrpc_python.py BASE_URL [SEED]

Runs introspection, system.multicall, the full validator1 suite with random data, an
interop.echo round-trip of every type, and the fault codes of bad input (some through raw
http.client, since xmlrpc.client cannot send malformed documents). Prints one line per check
and exits non-zero if any check failed, listing the failures at the end.
"""

import datetime
import http.client
import math
import os
import random
import socket
import string
import sys
import traceback
import urllib.parse
import xmlrpc.client as xc

socket.setdefaulttimeout(60)

BASE = sys.argv[1].rstrip("/")
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else int.from_bytes(os.urandom(4), "big")
rng = random.Random(SEED)
ENDPOINT = BASE + "/xmlrpc"

# Two proxies: builtin types (bytes, datetime) and the classic wrappers (Binary, DateTime).
builtin = xc.ServerProxy(ENDPOINT, allow_none=True, use_builtin_types=True)
classic = xc.ServerProxy(ENDPOINT, allow_none=True)

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
    if type(got) is not type(wanted) or got != wanted:
        raise AssertionError(f"{what}: wanted {wanted!r} ({type(wanted).__name__}), "
                             f"got {got!r} ({type(got).__name__})")


def expect_fault(what, code, call):
    try:
        result = call()
    except xc.Fault as fault:
        if fault.faultCode != code:
            raise AssertionError(f"{what}: wanted fault {code}, got fault {fault.faultCode} "
                                 f"{fault.faultString!r}") from None
        if not isinstance(fault.faultString, str) or not fault.faultString:
            raise AssertionError(f"{what}: empty faultString") from None
        return fault
    raise AssertionError(f"{what}: wanted fault {code}, got result {result!r}")


def random_text(length=None):
    alphabet = string.ascii_letters + string.digits + " <>&'\"\t\n" + "éüß€中文😀"
    length = rng.randint(0, 40) if length is None else length
    return "".join(rng.choice(alphabet) for _ in range(length))


def random_int():
    return rng.randint(-(2**31), 2**31 - 1)


def random_datetime():
    return datetime.datetime(rng.randint(1900, 2100), rng.randint(1, 12), rng.randint(1, 28),
                             rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))


def raw_post(body, path="/xmlrpc", content_type="text/xml"):
    """POST bytes with http.client; returns (status, headers dict, body bytes)."""
    url = urllib.parse.urlsplit(BASE)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def raw_fault(what, body, code):
    status, headers, payload = raw_post(body)
    if status != 200:
        raise AssertionError(f"{what}: faults are HTTP 200, got {status}: {payload!r}")
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type")
    if content_type != "text/xml; charset=utf-8":
        raise AssertionError(f"{what}: Content-Type {content_type!r}")
    return expect_fault(what, code, lambda: xc.loads(payload, use_builtin_types=True))


print(f"python {sys.version.split()[0]}, server {BASE}, seed {SEED}")

# ------------------------------------------------------------------ introspection

VALIDATOR = [
    "validator1.arrayOfStructsTest",
    "validator1.countTheEntities",
    "validator1.easyStructTest",
    "validator1.echoStructTest",
    "validator1.manyTypesTest",
    "validator1.moderateSizeArrayCheck",
    "validator1.nestedStructTest",
    "validator1.simpleStructReturnTest",
]


@check("system.listMethods")
def _():
    methods = builtin.system.listMethods()
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise AssertionError(f"not a list of strings: {methods!r}")
    wanted = ["system.listMethods", "system.methodHelp", "system.methodSignature",
              "system.multicall", "system.getCapabilities", "interop.echo"] + VALIDATOR
    missing = [name for name in wanted if name not in methods]
    if missing:
        raise AssertionError(f"missing {missing} in {methods}")


@check("system.methodHelp")
def _():
    for name in VALIDATOR + ["interop.echo", "system.listMethods"]:
        text = builtin.system.methodHelp(name)
        if not isinstance(text, str) or not text.strip():
            raise AssertionError(f"{name}: help {text!r}")
    expect_fault("methodHelp(unknown)", -32601,
                 lambda: builtin.system.methodHelp("no.such.method"))


@check("system.methodSignature")
def _():
    expect_equal("manyTypesTest", builtin.system.methodSignature("validator1.manyTypesTest"),
                 [["array", "int", "boolean", "string", "double", "dateTime.iso8601", "base64"]])
    expect_equal("easyStructTest", builtin.system.methodSignature("validator1.easyStructTest"),
                 [["int", "struct"]])
    expect_equal("simpleStructReturnTest",
                 builtin.system.methodSignature("validator1.simpleStructReturnTest"),
                 [["struct", "int"]])
    expect_fault("methodSignature(unknown)", -32601,
                 lambda: builtin.system.methodSignature("no.such.method"))


@check("system.getCapabilities")
def _():
    capabilities = builtin.system.getCapabilities()
    for name in ["xmlrpc", "system.multicall", "introspect", "faultcode_interop"]:
        entry = capabilities.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("specUrl"), str) \
                or not isinstance(entry.get("specVersion"), int):
            raise AssertionError(f"{name}: {entry!r}")


# ------------------------------------------------------------------ multicall


@check("MultiCall mixing success and fault")
def _():
    multi = xc.MultiCall(builtin)
    multi.validator1.simpleStructReturnTest(3)
    multi.interop.echo("before")
    multi.no.such.method()
    multi.interop.echo("after")
    results = multi()
    expect_equal("slot 1", results[0], {"times10": 30, "times100": 300, "times1000": 3000})
    expect_equal("slot 2", results[1], "before")
    expect_fault("slot 3", -32601, lambda: results[2])
    expect_equal("slot 4", results[3], "after")
    # Iterating raises the first fault met (Python's MultiCall behaviour).
    seen = []
    try:
        for item in results:
            seen.append(item)
    except xc.Fault as fault:
        expect_equal("iterated fault code", fault.faultCode, -32601)
    else:
        raise AssertionError("iterating did not raise the fault")
    expect_equal("iterated before the fault", len(seen), 2)


@check("system.multicall slot shapes")
def _():
    slots = builtin.system.multicall([
        {"methodName": "validator1.easyStructTest", "params": [{"moe": 1, "larry": 2, "curly": 3}]},
        {"methodName": "no.such.method", "params": []},
        {"methodName": "system.multicall", "params": [[]]},
        {"methodName": "interop.echo", "params": [1, 2]},
        {"methodName": "interop.echo", "params": [None]},
    ])
    expect_equal("slot count", len(slots), 5)
    expect_equal("success slot", slots[0], [6])
    for index, code in [(1, -32601), (2, None), (3, 1004)]:
        slot = slots[index]
        if not isinstance(slot, dict) or sorted(slot) != ["faultCode", "faultString"]:
            raise AssertionError(f"slot {index + 1} is not a fault struct: {slot!r}")
        if code is not None and slot["faultCode"] != code:
            raise AssertionError(f"slot {index + 1}: wanted {code}, got {slot!r}")
    expect_equal("nil slot", slots[4], [None])


# ------------------------------------------------------------------ validator1 suite

ROUNDS = 5


@check("validator1.arrayOfStructsTest")
def _():
    for _ in range(ROUNDS):
        items = [{"moe": random_int() // 4, "larry": random_int() // 4, "curly": rng.randint(-1000, 1000),
                  "extra": random_text(5)} for _ in range(rng.randint(0, 30))]
        expect_equal("sum of curly", builtin.validator1.arrayOfStructsTest(items),
                     sum(item["curly"] for item in items))


@check("validator1.countTheEntities")
def _():
    for _ in range(ROUNDS):
        text = random_text(rng.randint(0, 200))
        expect_equal(f"counts of {text!r}", builtin.validator1.countTheEntities(text), {
            "ctLeftAngleBrackets": text.count("<"),
            "ctRightAngleBrackets": text.count(">"),
            "ctAmpersands": text.count("&"),
            "ctApostrophes": text.count("'"),
            "ctQuotes": text.count('"'),
        })


@check("validator1.easyStructTest")
def _():
    for _ in range(ROUNDS):
        moe, larry, curly = (rng.randint(-10**6, 10**6) for _ in range(3))
        expect_equal("sum", builtin.validator1.easyStructTest(
            {"moe": moe, "larry": larry, "curly": curly}), moe + larry + curly)
    # A sum beyond 32 bits comes back as <i8>, which Python reads.
    big = 2**31 - 1
    expect_equal("sum beyond i32", builtin.validator1.easyStructTest(
        {"moe": big, "larry": big, "curly": big}), 3 * big)


def random_struct(depth=0):
    result = {}
    for _ in range(rng.randint(0, 6)):
        kind = rng.choice(["int", "str", "float", "bool", "date", "bytes", "list", "dict", "none"])
        key = random_text(rng.randint(1, 10))
        if kind == "int":
            result[key] = random_int()
        elif kind == "str":
            result[key] = random_text()
        elif kind == "float":
            result[key] = rng.uniform(-1e9, 1e9)
        elif kind == "bool":
            result[key] = rng.random() < 0.5
        elif kind == "date":
            result[key] = random_datetime()
        elif kind == "bytes":
            result[key] = os.urandom(rng.randint(0, 50))
        elif kind == "none":
            result[key] = None
        elif kind == "list" and depth < 3:
            result[key] = [random_int(), random_text(), random_struct(depth + 1)]
        elif kind == "dict" and depth < 3:
            result[key] = random_struct(depth + 1)
    return result


@check("validator1.echoStructTest")
def _():
    for _ in range(ROUNDS):
        value = random_struct()
        got = builtin.validator1.echoStructTest(value)
        expect_equal("echoed struct", got, value)
        expect_equal("member order", list(got), list(value))


@check("validator1.manyTypesTest")
def _():
    for _ in range(ROUNDS):
        params = [random_int(), rng.random() < 0.5, random_text(), rng.uniform(-1e6, 1e6),
                  random_datetime(), os.urandom(rng.randint(0, 64))]
        got = builtin.validator1.manyTypesTest(*params)
        expect_equal("six values", got, params)
        for index, (g, p) in enumerate(zip(got, params)):
            if type(g) is not type(p):
                raise AssertionError(f"param {index + 1}: type {type(g).__name__}, "
                                     f"wanted {type(p).__name__}")
    # The classic wrappers too.
    moment = xc.DateTime("20240102T03:04:05")
    got = classic.validator1.manyTypesTest(1, True, "s", 1.5, moment, xc.Binary(b"\x00\xff"))
    if not isinstance(got[4], xc.DateTime) or got[4].value != "20240102T03:04:05":
        raise AssertionError(f"DateTime came back as {got[4]!r}")
    if not isinstance(got[5], xc.Binary) or got[5].data != b"\x00\xff":
        raise AssertionError(f"Binary came back as {got[5]!r}")


@check("validator1.moderateSizeArrayCheck")
def _():
    for _ in range(ROUNDS):
        items = [random_text(rng.randint(1, 20)) for _ in range(rng.randint(100, 200))]
        expect_equal("first + last", builtin.validator1.moderateSizeArrayCheck(items),
                     items[0] + items[-1])


@check("validator1.nestedStructTest")
def _():
    for _ in range(ROUNDS):
        calendar = {}
        for year in (1999, 2000, 2001):
            months = {}
            for month in range(1, 13):
                months[f"{month:02}"] = {f"{day:02}": {} for day in range(1, 29)}
            calendar[str(year)] = months
        moe, larry, curly = (rng.randint(-1000, 1000) for _ in range(3))
        calendar["2000"]["04"]["01"] = {"moe": moe, "larry": larry, "curly": curly}
        calendar["2000"]["04"]["02"] = {"moe": 99999, "larry": 1, "curly": 1}
        expect_equal("sum at 2000-04-01", builtin.validator1.nestedStructTest(calendar),
                     moe + larry + curly)


@check("validator1.simpleStructReturnTest")
def _():
    for number in [rng.randint(-10**5, 10**5) for _ in range(ROUNDS)] + [0, 2**31 - 1, -(2**31)]:
        expect_equal(f"n={number}", builtin.validator1.simpleStructReturnTest(number),
                     {"times10": number * 10, "times100": number * 100, "times1000": number * 1000})


# ------------------------------------------------------------------ interop.echo

ECHO_VALUES = [
    ("int", 0), ("int", 1), ("int", -1), ("int", 2**31 - 1), ("int", -(2**31)),
    ("boolean", True), ("boolean", False),
    ("string", ""), ("string", "plain"), ("string", "  spaced  "), ("string", "<&>\"'"),
    ("string", "]]>"), ("string", "é€中😀"), ("string", "tab\tnewline\n"),
    ("double", 0.0), ("double", 1.5), ("double", -2.25), ("double", 0.1), ("double", 1e-7),
    ("double", 1e300), ("double", 5e-324), ("double", 123456789.123456789),
    ("datetime", datetime.datetime(2024, 1, 2, 3, 4, 5)),
    ("datetime", datetime.datetime(1900, 12, 31, 23, 59, 59)),
    ("bytes", b""), ("bytes", bytes(range(256))),
    ("list", []), ("list", [1, "two", 3.0, [None], {}]),
    ("dict", {}), ("dict", {"b": 1, "a": {"nested": [True, b"x"]}, "": "empty key"}),
    ("None", None),
]


@check("interop.echo of every type (builtin types)")
def _():
    for kind, value in ECHO_VALUES:
        expect_equal(f"echo {kind} {value!r}", builtin.interop.echo(value), value)


@check("interop.echo of negative zero keeps the sign")
def _():
    got = builtin.interop.echo(-0.0)
    if not (isinstance(got, float) and got == 0.0 and math.copysign(1.0, got) == -1.0):
        raise AssertionError(f"got {got!r}")


@check("interop.echo with Binary and DateTime wrappers")
def _():
    got = classic.interop.echo(xc.Binary(b"\x00abc\xff"))
    if not isinstance(got, xc.Binary) or got.data != b"\x00abc\xff":
        raise AssertionError(f"Binary: {got!r}")
    got = classic.interop.echo(xc.DateTime(datetime.datetime(2024, 1, 2, 3, 4, 5)))
    if not isinstance(got, xc.DateTime) or got.value != "20240102T03:04:05":
        raise AssertionError(f"DateTime: {got!r}")
    got = classic.interop.echo(b"raw bytes")
    if not isinstance(got, xc.Binary) or got.data != b"raw bytes":
        raise AssertionError(f"bytes via classic proxy: {got!r}")


def echo_raw(value_xml):
    body = ("<?xml version='1.0'?>\n<methodCall>\n<methodName>interop.echo</methodName>\n"
            f"<params>\n<param>\n<value>{value_xml}</value>\n</param>\n</params>\n</methodCall>\n")
    status, _, payload = raw_post(body.encode())
    if status != 200:
        raise AssertionError(f"HTTP {status}: {payload!r}")
    (result,), _ = xc.loads(payload, use_builtin_types=True)
    return result, payload.decode("utf-8")


@check("interop.echo of big ints (xmlrpc.client refuses to send them, so raw)")
def _():
    for value_xml, wanted in [("<i8>9007199254740993</i8>", 9007199254740993),
                              ("<i8>-9223372036854775808</i8>", -(2**63)),
                              ("<int>3000000000</int>", 3000000000),
                              ("<i8>42</i8>", 42)]:
        got, text = echo_raw(value_xml)
        expect_equal(value_xml, got, wanted)
        fits = -(2**31) <= wanted < 2**31
        tag = "<int>" if fits else "<i8>"
        if tag not in text and not (fits and "<i4>" in text):
            raise AssertionError(f"{value_xml} should come back as {tag}: {text}")
    # Python itself refuses to marshal them: document that this is client-side.
    try:
        xc.dumps((2**31,))
    except OverflowError:
        pass
    else:
        raise AssertionError("xmlrpc.client marshalled an int beyond i32")


@check("interop.echo of dateTime spellings comes back compact")
def _():
    for spelling in ["20240102T03:04:05", "2024-01-02T03:04:05", "20240102T030405",
                     "20240102T03:04:05Z", "20240102T04:04:05+01:00"]:
        got, _ = echo_raw(f"<dateTime.iso8601>{spelling}</dateTime.iso8601>")
        expect_equal(spelling, got, datetime.datetime(2024, 1, 2, 3, 4, 5))


# ------------------------------------------------------------------ faults


@check("fault -32601 for an unknown method")
def _():
    expect_fault("no.such.method", -32601, lambda: builtin.no.such.method())
    expect_fault("validator1.nope", -32601, lambda: builtin.validator1.nope(1))


@check("fault 1004 for wrong parameters")
def _():
    cases = [
        ("easyStructTest()", lambda: builtin.validator1.easyStructTest()),
        ("easyStructTest(1)", lambda: builtin.validator1.easyStructTest(1)),
        ("easyStructTest({moe})", lambda: builtin.validator1.easyStructTest({"moe": 1})),
        ("easyStructTest(s, s)", lambda: builtin.validator1.easyStructTest({}, {})),
        ("simpleStructReturnTest('x')", lambda: builtin.validator1.simpleStructReturnTest("x")),
        ("manyTypesTest(1)", lambda: builtin.validator1.manyTypesTest(1)),
        ("arrayOfStructsTest([1])", lambda: builtin.validator1.arrayOfStructsTest([1])),
        ("nestedStructTest({})", lambda: builtin.validator1.nestedStructTest({})),
        ("moderateSizeArrayCheck([])", lambda: builtin.validator1.moderateSizeArrayCheck([])),
        ("countTheEntities([])", lambda: builtin.validator1.countTheEntities([])),
        ("interop.echo()", lambda: builtin.interop.echo()),
        ("interop.echo(1, 2)", lambda: builtin.interop.echo(1, 2)),
        ("system.methodHelp()", lambda: builtin.system.methodHelp()),
        ("system.multicall('x')", lambda: builtin.system.multicall("x")),
    ]
    for what, call in cases:
        expect_fault(what, 1004, call)


@check("fault -32700 for malformed XML (raw http.client)")
def _():
    raw_fault("unclosed", b"<methodCall><methodName>interop.echo</methodName>", -32700)
    raw_fault("garbage", b"not xml at all", -32700)
    raw_fault("DOCTYPE", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>"
                         b"<methodCall><methodName>interop.echo</methodName></methodCall>", -32700)


@check("fault -32701 for an unsupported encoding (raw http.client)")
def _():
    raw_fault("EBCDIC-XYZ", b"<?xml version='1.0' encoding='EBCDIC-XYZ'?><methodCall>"
                            b"<methodName>interop.echo</methodName></methodCall>", -32701)


@check("fault -32600 for a document that is not a call (raw http.client)")
def _():
    raw_fault("<foo/>", b"<foo/>", -32600)
    raw_fault("no methodName", b"<methodCall><params/></methodCall>", -32600)


@check("HTTP: ISO-8859-1 request is decoded")
def _():
    body = (b"<?xml version='1.0' encoding='ISO-8859-1'?><methodCall><methodName>interop.echo"
            b"</methodName><params><param><value><string>caf\xe9</string></value></param>"
            b"</params></methodCall>")
    status, _, payload = raw_post(body)
    (result,), _ = xc.loads(payload)
    expect_equal("decoded", result, "café")


@check("HTTP: text/plain is refused with 415")
def _():
    status, _, _ = raw_post(xc.dumps(("x",), "interop.echo").encode(), content_type="text/plain")
    expect_equal("status", status, 415)


@check("HTTP: GET /xmlrpc is the documentation page, PUT is 405")
def _():
    url = urllib.parse.urlsplit(BASE)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        connection.request("GET", "/xmlrpc")
        response = connection.getresponse()
        expect_equal("GET status", response.status, 200)
        expect_equal("GET type", response.getheader("Content-Type"), "text/html; charset=utf-8")
        response.read()
        connection.request("PUT", "/xmlrpc")
        response = connection.getresponse()
        expect_equal("PUT status", response.status, 405)
        response.read()
    finally:
        connection.close()


print()
print(f"{passed} passed, {len(failures)} failed (seed {SEED})")
if failures:
    print("\nFAILURES:")
    for failure in failures:
        print(f"  - {failure}")
    sys.exit(1)
