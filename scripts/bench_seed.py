#!/usr/bin/env python3
"""Seeds the HTTP benchmark: logs in, adds contacts over XML-RPC, prepares wrk's inputs.

usage: bench_seed.py URL USER PASSWORD CONTACTS OUTDIR

Writes OUTDIR/auth (the Basic header value for sessionid:kp3), OUTDIR/request.xml (the
read_entries call wrk posts) and OUTDIR/response.xml (one real response, the ceiling
server's canned body). Adds contacts only when the addressbook holds fewer than CONTACTS.
"""
import base64
import sys
import urllib.request
import xmlrpc.client

url, user, password, contacts, outdir = sys.argv[1:6]
contacts = int(contacts)

anonymous = xmlrpc.client.ServerProxy(url)
tokens = anonymous.system.login({"username": user, "password": password})
auth = base64.b64encode(f"{tokens['sessionid']}:{tokens['kp3']}".encode()).decode()
host = url.replace("http://", f"http://{tokens['sessionid']}:{tokens['kp3']}@")
api = xmlrpc.client.ServerProxy(host, allow_none=True)

have = len(api.addressbook.boaddressbook.read_entries({"start": 0, "limit": 0}))
cities = ["Berlin", "Hamburg", "München", "Köln", "Leipzig"]
for n in range(have, contacts):
    api.addressbook.boaddressbook.add({
        "n_given": f"Given{n}",
        "n_family": f"Family{n:05d}",
        "n_prefix": "Dr.",
        "org_name": f"Organisation {n % 17}",
        "org_unit": "Research & Development",
        "title": "Engineer",
        "email": f"person{n}@example.org",
        "tel_work": f"+49 30 {n:07d}",
        "tel_cell": f"+49 170 {n:07d}",
        "adr_one_street": f"Hauptstraße {n % 200 + 1}",
        "adr_one_locality": cities[n % len(cities)],
        "adr_one_postalcode": f"{10000 + n}",
    })

request = xmlrpc.client.dumps(({"start": 0, "limit": 25},),
                              methodname="addressbook.boaddressbook.read_entries")
with open(f"{outdir}/auth", "w") as f:
    f.write(auth)
with open(f"{outdir}/request.xml", "w") as f:
    f.write(request)
req = urllib.request.Request(url, data=request.encode(), method="POST", headers={
    "Content-Type": "text/xml", "Authorization": f"Basic {auth}"})
with urllib.request.urlopen(req) as reply:
    body = reply.read()
result = xmlrpc.client.loads(body)[0][0]
assert len(result) == 25, f"expected 25 contacts, got {len(result)}"
with open(f"{outdir}/response.xml", "wb") as f:
    f.write(body)
print(f"seeded: {max(have, contacts)} contacts, response {len(body)} bytes")
