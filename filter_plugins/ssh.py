"""SSH filters: pure functions over public keys and permits, no I/O.

{{ keys | anshin_invalid_ssh_keys }}             keys that are not OpenSSH public keys
{{ '2027-03-31' | anshin_is_date }}              a real day written YYYY-MM-DD
{{ '2027-03-31' | anshin_expiry_epoch }}         end of that day in JST, as epoch seconds
"""

import base64
import binascii
import datetime
import os
import struct
import sys

_SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _SHARED not in sys.path:  # the one home of the JST clock (module_utils/anshin_common.py)
    sys.path.append(_SHARED)
from anshin_common import JST  # noqa: E402

KEY_TYPES = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
}


def _valid_key(line):
    """type, Base64 blob whose first field repeats the type (the wire format), optional comment."""
    if not isinstance(line, str) or "\n" in line.strip():
        return False
    parts = line.split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        return False
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        return blob[4 : 4 + length].decode("ascii") == parts[0] and len(blob) > 4 + length
    except (binascii.Error, struct.error, UnicodeDecodeError, ValueError):
        return False


def anshin_invalid_ssh_keys(keys):
    """The entries of a list that are not single-line OpenSSH public keys."""
    return [key for key in keys or [] if not _valid_key(key)]


def anshin_is_date(day):
    """True for a real calendar day written YYYY-MM-DD."""
    try:
        datetime.datetime.strptime(str(day), "%Y-%m-%d")
    except ValueError:
        return False
    return len(str(day)) == 10


def anshin_expiry_epoch(day):
    """Epoch seconds of the last second of a YYYY-MM-DD day in JST (a permit's last day).

    Raises ValueError for anything else, so a bad date never passes silently.
    """
    date = datetime.datetime.strptime(str(day), "%Y-%m-%d")
    end = date.replace(hour=23, minute=59, second=59, tzinfo=JST)
    return int(end.timestamp())


class FilterModule:
    def filters(self):
        return {
            "anshin_invalid_ssh_keys": anshin_invalid_ssh_keys,
            "anshin_expiry_epoch": anshin_expiry_epoch,
            "anshin_is_date": anshin_is_date,
        }
