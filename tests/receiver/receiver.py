#!/usr/bin/env python3
"""A webhook receiver for the delivery tests: a real HTTP server, in a process
of its own, that verifies every request with the `standardwebhooks` package
(PyPI) and answers as told: 500 for a share of attempts, no answer (it hangs)
for another, 200 otherwise.

    receiver.py [--port N] [--seed N]

Prints `listening on PORT` once ready. Controlled over HTTP:
  PUT  /config  {"secret":"whsec_…","fail":0.3,"hang":0.1,"hang_seconds":30}
  GET  /stats   counts, the distinct webhook-ids answered 200, bad signatures,
                requests cut off before their whole body arrived (a sender killed
                mid-request; never verified, never answered)
  GET  /wait?count=N&timeout=S  answers /stats once N distinct ids were answered 200
  POST /hook    (any other POST path too) a delivery
"""
import argparse
import json
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

lock = threading.Condition()
config = {"secret": None, "fail": 0.0, "hang": 0.0, "hang_seconds": 30.0}
state = {"attempts": 0, "verified": 0, "bad_signatures": 0, "cut_off": 0, "failed": 0, "hung": 0, "ok_ids": {}, "seen_ids": set(),
         "bodies": {}, "times": {}}
rng = random.Random(0)


def stats():
    return {"attempts": state["attempts"], "verified": state["verified"], "bad_signatures": state["bad_signatures"],
            "cut_off": state["cut_off"], "answered_500": state["failed"], "hung": state["hung"], "delivered_ids": sorted(state["ok_ids"]),
            "distinct_delivered": len(state["ok_ids"]), "distinct_seen": len(state["seen_ids"]),
            "duplicates_after_200": sum(n - 1 for n in state["ok_ids"].values()),
            "bodies": state["bodies"], "received_at": state["times"]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body=None):
        data = json.dumps(body if body is not None else {}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_PUT(self):
        if self.path != "/config":
            return self.answer(404)
        with lock:
            config.update(json.loads(self.body()))
        self.answer(200, config)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/stats":
            with lock:
                return self.answer(200, stats())
        if url.path == "/wait":
            q = parse_qs(url.query)
            count, deadline = int(q["count"][0]), time.monotonic() + float(q.get("timeout", ["60"])[0])
            with lock:
                while len(state["ok_ids"]) < count and time.monotonic() < deadline:
                    lock.wait(timeout=max(0.0, deadline - time.monotonic()))
                return self.answer(200, stats())
        self.answer(404)

    def do_POST(self):
        body = self.body()
        received = time.time()
        if len(body) < int(self.headers.get("Content-Length") or 0):
            # The sender went away mid-request (killed): there is nothing to verify or answer.
            with lock:
                state["cut_off"] += 1
            self.close_connection = True
            return None
        headers = {k.lower(): v for k, v in self.headers.items()}
        with lock:
            state["attempts"] += 1
            secret = config["secret"]
            draw = rng.random()
            fail, hang, hang_seconds = config["fail"], config["hang"], config["hang_seconds"]
        try:
            if secret is None:
                raise WebhookVerificationError("no secret configured")
            Webhook(secret).verify(body, headers)
            ok_signature = True
        except Exception:
            ok_signature = False
        wid = headers.get("webhook-id", "")
        with lock:
            state["seen_ids"].add(wid)
            if not ok_signature:
                state["bad_signatures"] += 1
            else:
                state["verified"] += 1
        if not ok_signature:
            return self.answer(400, {"error": "bad signature"})
        if draw < hang:
            with lock:
                state["hung"] += 1
            time.sleep(hang_seconds)
            try:
                return self.answer(200)  # too late: the sender has given up on this attempt
            except OSError:
                return None
        if draw < hang + fail:
            with lock:
                state["failed"] += 1
            return self.answer(500, {"error": "try again"})
        with lock:
            state["ok_ids"][wid] = state["ok_ids"].get(wid, 0) + 1
            state["bodies"].setdefault(wid, json.loads(body))
            state["times"].setdefault(wid, received)
            lock.notify_all()
        self.answer(200, {"ok": True})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A sender killed or timed out mid-request resets the connection: expected here, not news.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng.seed(a.seed)
    server = Server(("127.0.0.1", a.port), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
