#!/usr/bin/env python3
"""Starting a `cdp` for the test scripts without flakes.

Ports come from the kernel (bind to port 0), not from a random number that
may collide with another listener or an outgoing connection's ephemeral port.
Waiting ends when /ready answers, when the process exits (its log is printed
and the start retried on a fresh port if the address was taken), or after
60 s.

    from serve import start                 # Python scripts
    proc, base = start(bin, env, log_path)

    port=$(python3 scripts/serve.py free-port)            # shell scripts
    python3 scripts/serve.py wait "$port" "$pid" "$log"
"""
import os
import socket
import subprocess
import sys
import time
import urllib.request

DEADLINE_S = 60


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(log_path):
    try:
        with open(log_path, "rb") as f:
            return f.read()[-4000:].decode("utf-8", "replace")
    except OSError:
        return ""


def wait(port, alive, log_path):
    """True once /ready answers; False if the process died; exits after the deadline."""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2)
            return True
        except Exception:
            if not alive():
                return False
            time.sleep(0.05)
    sys.exit(f"cdp did not answer /ready on port {port} within {DEADLINE_S} s; its log:\n{_tail(log_path)}")


def start(binary, env, log_path, port=None, attempts=3):
    """Start `cdp` on `port` (or a free one); returns (process, base URL)."""
    for _ in range(attempts):
        p = port or free_port()
        proc = subprocess.Popen([binary], env=dict(env, CDP_BIND=f"127.0.0.1:{p}"), stdout=open(log_path, "ab"),
                                stderr=subprocess.STDOUT)
        if wait(p, lambda: proc.poll() is None, log_path):
            return proc, f"http://127.0.0.1:{p}"
        if port is None and "in use" in _tail(log_path).lower():
            continue
        break
    sys.exit(f"cdp exited while starting (status {proc.returncode}); its log:\n{_tail(log_path)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["free-port"]:
        print(free_port())
    elif sys.argv[1:2] == ["wait"] and len(sys.argv) == 5:
        port, pid, log_path = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

        def alive():
            try:
                os.kill(pid, 0)
            except OSError:
                return False
            # A zombie (exited, not yet reaped by the shell) counts as dead.
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().split(") ")[-1][:1] != "Z"
            except OSError:
                return False

        if not wait(port, alive, log_path):
            sys.exit(f"cdp exited while starting; its log:\n{_tail(log_path)}")
    else:
        sys.exit(__doc__)
