"""Drives Segment's real Python library (segment-analytics-python) against a running cdp.

Env: CDP_URL, WRITE_KEY (a source's write key), ADMIN_KEY, RUN (a unique prefix).
Sends identify + track + page + alias for two users, flushes, reads the profiles back through
/api/v1/profiles/lookup, then resends the same messageIds and checks nothing doubled.
"""
import json
import os
import sys
import urllib.parse
import urllib.request

from segment.analytics import Client

URL, WRITE_KEY, ADMIN_KEY, RUN = (os.environ[k] for k in ("CDP_URL", "WRITE_KEY", "ADMIN_KEY", "RUN"))
errors = []


def lookup(kind, value):
    q = urllib.parse.urlencode({"type": kind, "value": value})
    req = urllib.request.Request(f"{URL}/api/v1/profiles/lookup?{q}", headers={"X-Api-Key": ADMIN_KEY})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def timeline(pid):
    req = urllib.request.Request(f"{URL}/api/v1/profiles/{pid}/events?limit=100", headers={"X-Api-Key": ADMIN_KEY})
    with urllib.request.urlopen(req) as r:
        return json.load(r)["items"]


def send_all(client):
    for n, (user, email, phone) in enumerate([("py-u1", "an.py@example.vn", "0912 100 001"), ("py-u2", "binh.py@example.vn", "+84 912 100 002")]):
        user, anon = f"{RUN}-{user}", f"{RUN}-anon-{n}"
        client.page(anonymous_id=anon, name="Sữa tươi", properties={"url": "https://shop.example.vn/sua-tuoi"}, message_id=f"{RUN}-py-page-{n}")
        client.identify(user, {"email": email, "phone": phone, "name": f"Khách {n}"}, message_id=f"{RUN}-py-identify-{n}")
        client.track(user, "Order Completed", {"order_id": f"{RUN}-PY-{n}", "revenue": 350000 + n}, message_id=f"{RUN}-py-track-{n}")
        client.alias(anon, user, message_id=f"{RUN}-py-alias-{n}")
    client.flush()


def check():
    for n, (user, email, phone) in enumerate([("py-u1", "an.py@example.vn", "+84912100001"), ("py-u2", "binh.py@example.vn", "+84912100002")]):
        user, anon = f"{RUN}-{user}", f"{RUN}-anon-{n}"
        p = lookup("user_id", user)
        ids = {(i["type"], i["value"]) for i in p["identities"]}
        want = {("user_id", user), ("anonymous_id", anon), ("email", email), ("phone", phone)}
        assert want <= ids, f"identities {ids} lack {want - ids}"
        assert p["traits"]["name"] == f"Khách {n}", p["traits"]
        assert lookup("email", email.upper())["id"] == p["id"]
        events = timeline(p["id"])
        kinds = sorted(e["type"] for e in events)
        assert kinds == ["alias", "identify", "page", "track"], kinds
        assert p["event_count"] == 4, p["event_count"]
        order = next(e for e in events if e["type"] == "track")
        assert order["event"] == "Order Completed" and order["properties"]["revenue"] == 350000 + n
        assert order["context"]["library"]["name"] == "analytics-python", order["context"]


for gzip in (True, False):  # the second pass resends the same messageIds, uncompressed
    client = Client(WRITE_KEY, host=URL, gzip=gzip, on_error=lambda e, batch: errors.append(repr(e)), max_retries=2)
    send_all(client)
    client.join()
    assert not errors, errors
    check()
print("segment-analytics-python: 2 passed, 0 failed")
