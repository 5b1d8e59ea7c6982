"""Run on the VM: open N slow TLS connections to nginx (a header byte every 2 s, from the
VM's own non-loopback address), then publish one valid message from 127.0.0.1 and time
the answer. Bounded: stops by itself after --seconds. Prints one JSON object."""

import argparse
import json
import select
import socket
import ssl
import subprocess
import time

parser = argparse.ArgumentParser()
parser.add_argument("--address", required=True, help="the VM's own address the slow clients come from")
parser.add_argument("--count", type=int, default=150)
parser.add_argument("--seconds", type=int, default=30)
parser.add_argument("--publish", required=True, help="command that publishes one valid message")
args = parser.parse_args()

ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
start = time.monotonic()
slow, refused = [], 0
for _ in range(args.count):
    try:
        raw = socket.create_connection((args.address, 443), timeout=5, source_address=(args.address, 0))
        conn = ctx.wrap_socket(raw)
        conn.sendall(b"POST /lalert/publish HTTP/1.1\r\n")
        conn.setblocking(False)
        slow.append({"sock": conn, "opened": time.monotonic(), "closed": None})
    except OSError:
        refused += 1

time.sleep(3)
before = time.monotonic()
published = subprocess.run(args.publish, shell=True, capture_output=True, text=True, timeout=60)
publish_seconds = time.monotonic() - before

next_byte = time.monotonic()
while time.monotonic() - start < args.seconds and any(c["closed"] is None for c in slow):
    now = time.monotonic()
    if now >= next_byte:
        for c in slow:
            if c["closed"] is None:
                try:
                    c["sock"].send(b"X")
                except (OSError, ssl.SSLError):
                    c["closed"] = now
        next_byte = now + 2
    readable, _, _ = select.select([c["sock"] for c in slow if c["closed"] is None], [], [], 0.5)
    for sock in readable:
        c = next(c for c in slow if c["sock"] is sock)
        try:
            if not sock.recv(4096):
                c["closed"] = time.monotonic()
        except ssl.SSLWantReadError:
            pass
        except (OSError, ssl.SSLError):
            c["closed"] = time.monotonic()
for c in slow:
    c["sock"].close()
held = [c["closed"] - c["opened"] for c in slow if c["closed"] is not None]
print(
    json.dumps(
        {
            "opened": len(slow),
            "refused": refused,
            "closed_by_server": len(held),
            "longest_held_s": round(max(held), 1) if held else None,
            "publish_rc": published.returncode,
            "publish_out": published.stdout.strip()[-300:],
            "publish_seconds": round(publish_seconds, 2),
        }
    )
)
