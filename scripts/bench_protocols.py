#!/usr/bin/env python3
"""Server processor time per read_entries call, protocol by protocol.

usage: bench_protocols.py URL USER PASSWORD SERVER_PID [CALLS] [ROUNDS]

Logs in over XML-RPC, then for each protocol (XML-RPC, JSON-RPC, SOAP 1.1 rpc/encoded,
SOAP 1.1 document/literal) makes CALLS sequential read_entries({start: 0, limit: 25})
calls over one keep-alive connection and reads the server's user + system clock ticks
from /proc/SERVER_PID/stat before and after. Rounds alternate the protocols, so a change
in the machine's speed touches all of them alike; prints each round and the median
microseconds of server time per call. Every reply is checked (status 200, no fault, 25
records' worth of ids) before it counts.
"""
import base64
import http.client
import json
import os
import statistics
import sys
import urllib.parse
import xmlrpc.client

url, user, password, pid = sys.argv[1:5]
calls = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 3
base = urllib.parse.urlparse(url)
tick = os.sysconf("SC_CLK_TCK")

tokens = xmlrpc.client.ServerProxy(f"{url}/xmlrpc").system.login(
    {"username": user, "password": password}
)
auth = "Basic " + base64.b64encode(
    f"{tokens['sessionid']}:{tokens['kp3']}".encode()
).decode()

READ = "addressbook.boaddressbook.read_entries"
XMLRPC = xmlrpc.client.dumps(({"start": 0, "limit": 25},), READ).encode()
JSONRPC = json.dumps(
    {"jsonrpc": "2.0", "method": READ, "params": [{"start": 0, "limit": 25}], "id": 1}
).encode()
SOAP_ENCODED = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
    '<ns:addressbook_boaddressbook_read_entries xmlns:ns="urn:groupware"><params>'
    '<start xsi:type="xsd:int">0</start><limit xsi:type="xsd:int">25</limit>'
    "</params></ns:addressbook_boaddressbook_read_entries></s:Body></s:Envelope>"
).encode()
SOAP_LITERAL = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    '<addressbook_boaddressbook_read_entries xmlns="urn:groupware:literal"><params>'
    "<start>0</start><limit>25</limit>"
    "</params></addressbook_boaddressbook_read_entries></s:Body></s:Envelope>"
).encode()

PROTOCOLS = [
    ("xmlrpc", "/xmlrpc", "text/xml", XMLRPC, b"<name>id</name>"),
    ("jsonrpc", "/jsonrpc", "application/json", JSONRPC, b'"id":'),
    ("soap-encoded", "/soap", "text/xml; charset=utf-8", SOAP_ENCODED, b"<id xsi:type"),
    ("soap-literal", "/soap", "text/xml; charset=utf-8", SOAP_LITERAL, b"<id>"),
]


def server_ticks():
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run(path, content_type, body, marker):
    connection = http.client.HTTPConnection(base.hostname, base.port)
    headers = {"Content-Type": content_type, "Authorization": auth}
    if path == "/soap":
        headers["SOAPAction"] = '""'
    before = server_ticks()
    for _ in range(calls):
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        reply = response.read()
        if response.status != 200 or reply.count(marker) < 25 or b"ault" in reply:
            sys.exit(f"{path}: unexpected reply {response.status}: {reply[:300]!r}")
    after = server_ticks()
    connection.close()
    return (after - before) * 1e6 / tick / calls


results = {name: [] for name, *_ in PROTOCOLS}
for round_number in range(1, rounds + 1):
    line = []
    for name, *request in PROTOCOLS:
        per_call = run(*request)
        results[name].append(per_call)
        line.append(f"{name} {per_call:.0f} us")
    print(f"round {round_number}: " + ", ".join(line), flush=True)
print(
    "MEDIAN server time per call: "
    + ", ".join(f"{name} {statistics.median(v):.0f} us" for name, v in results.items())
)
