"""Minimal zabbix_get (Debian packages no zabbix-get): one passive check over the Zabbix protocol.

python3 zabbix_get.py HOST PORT KEY     prints the value; exit 1 on ZBX_NOTSUPPORTED
"""

import socket
import struct
import sys

host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
payload = key.encode()
with socket.create_connection((host, port), timeout=10) as conn:
    conn.sendall(b"ZBXD\x01" + struct.pack("<Q", len(payload)) + payload)
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
if data[:5] != b"ZBXD\x01":
    sys.exit(f"not a Zabbix answer: {data[:40]!r}")
length = struct.unpack("<Q", data[5:13])[0]
value = data[13 : 13 + length].decode()
if value.startswith("ZBX_NOTSUPPORTED"):
    print(value.replace("\0", ": "), file=sys.stderr)
    sys.exit(1)
print(value)
