#!/usr/bin/env python3
"""suds (rpc/encoded WSDL, ?wsdl=rpc) through login, addressbook listing, create, read,
delete, logout against a running groupware server started with --demo.

Usage: suds_client.py BASE_URL. Exits non-zero naming what failed.
"""

import base64
import sys

from suds import WebFault
from suds.client import Client
from suds.transport.http import HttpTransport

BASE = sys.argv[1].rstrip("/")


def main():
    anonymous = Client(BASE + "/soap?wsdl=rpc", cache=None)
    tokens = anonymous.service.system_login({"username": "demo", "password": "guest"})
    print("login:", tokens.domain)
    assert tokens.sessionid and tokens.kp3

    # suds only answers a 401 with credentials; send Basic auth up front, also when it
    # fetches the caller's own WSDL (which lists the methods their rights allow).
    basic = base64.b64encode(f"{tokens.sessionid}:{tokens.kp3}".encode()).decode()
    headers = {"Authorization": "Basic " + basic}

    class Authenticated(HttpTransport):
        def open(self, request):
            request.headers.update(headers)
            return HttpTransport.open(self, request)

    api = Client(BASE + "/soap?wsdl=rpc", cache=None, headers=headers, transport=Authenticated())
    rows = api.service.addressbook_boaddressbook_read_entries({"start": 0, "limit": 10, "query": ""})
    names = [row.n_given for row in rows]
    print("listing:", names)
    assert "Ada" in names, names

    new_id = api.service.addressbook_boaddressbook_add({"n_given": "Suds", "n_family": "Encoded"})
    print("created:", new_id)
    assert int(new_id) > 0

    record = api.service.addressbook_boaddressbook_read({"id": new_id})
    print("read:", record.n_given, record.n_family)
    assert record.n_given == "Suds", record

    assert api.service.addressbook_boaddressbook_delete(str(new_id)) is True
    try:
        api.service.addressbook_boaddressbook_read({"id": new_id})
        raise AssertionError("a deleted contact can still be read")
    except WebFault as fault:
        print("deleted:", fault.fault.faultstring)

    bye = api.service.system_logout({"sessionid": tokens.sessionid, "kp3": tokens.kp3})
    print("logout:", bye.GOODBYE)
    assert bye.GOODBYE == "XOXO"


main()
print("suds: OK")
