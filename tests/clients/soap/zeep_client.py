#!/usr/bin/env python3
"""zeep (document/literal WSDL) through login, addressbook listing, create, read, delete,
logout against a running groupware server started with --demo.

Usage: zeep_client.py BASE_URL. Exits non-zero naming what failed.
"""

import sys

import requests
import zeep
from zeep.transports import Transport

BASE = sys.argv[1].rstrip("/")


def main():
    session = requests.Session()
    anonymous = zeep.Client(BASE + "/soap?wsdl", transport=Transport(session=session))
    ops = dir(anonymous.service)
    assert "system_login" in ops, ops
    assert "addressbook_boaddressbook_read_entries" not in ops, "anonymous WSDL lists private methods"
    tokens = anonymous.service.system_login(params={"username": "demo", "password": "guest"})
    print("login:", tokens["domain"])
    assert tokens["sessionid"] and tokens["kp3"]

    # The caller's own WSDL lists the methods their run rights allow.
    session.auth = (tokens["sessionid"], tokens["kp3"])
    api = zeep.Client(BASE + "/soap?wsdl", transport=Transport(session=session))
    rows = api.service.addressbook_boaddressbook_read_entries(
        params={"start": 0, "limit": 10, "query": ""}
    )
    names = [row["n_given"] for row in rows]
    print("listing:", names)
    assert "Ada" in names, names

    new_id = api.service.addressbook_boaddressbook_add(
        params={"n_given": "Zeep", "n_family": "Literal", "email": "zeep@example.org"}
    )
    print("created:", new_id)
    assert isinstance(new_id, int) and new_id > 0, new_id

    record = api.service.addressbook_boaddressbook_read(params={"id": new_id})
    print("read:", record["n_given"], record["n_family"], record["last_mod"])
    assert record["n_given"] == "Zeep" and record["email"] == "zeep@example.org", record

    assert api.service.addressbook_boaddressbook_delete(id=str(new_id)) is True
    try:
        api.service.addressbook_boaddressbook_read(params={"id": new_id})
        raise AssertionError("a deleted contact can still be read")
    except zeep.exceptions.Fault as fault:
        print("deleted:", fault.message)

    bye = api.service.system_logout(params={"sessionid": tokens["sessionid"], "kp3": tokens["kp3"]})
    print("logout:", bye["GOODBYE"])
    assert bye["GOODBYE"] == "XOXO"

    try:
        api.service.addressbook_boaddressbook_read_entries(params={"start": 0})
        raise AssertionError("the ended session still works")
    except zeep.exceptions.Fault as fault:
        print("after logout:", fault.code, fault.message)
        assert "Session" in fault.message or "expired" in fault.message, fault.message


main()
print("zeep: OK")
