"""WS-Security UsernameToken with PasswordDigest, as L-Alert uses it.

PasswordDigest = Base64(SHA1(nonce + created + password)), where nonce is
the decoded bytes of the Base64 Nonce element and created the literal text
of wsu:Created.
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import os

from .errors import Reject

WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
MAX_NONCE_BYTES = 1024
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"


def password_digest(nonce, created, password):
    """Base64(SHA1(nonce bytes + created + password))."""
    raw = hashlib.sha1(nonce + created.encode("utf-8") + password.encode("utf-8")).digest()
    return base64.b64encode(raw).decode("ascii")


def format_created(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_token(username, password, nonce=None, created=None):
    """A token dict (what a sender signs with); nonce bytes and created text optional."""
    nonce = os.urandom(16) if nonce is None else nonce
    created = format_created(datetime.datetime.now(datetime.timezone.utc)) if created is None else created
    return {
        "username": username,
        "password": password_digest(nonce, created, password),
        "password_type": PASSWORD_DIGEST,
        "nonce": base64.b64encode(nonce).decode("ascii"),
        "created": created,
    }


def parse_created(text):
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Reject("bad_timestamp", f"wsu:Created is not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise Reject("bad_timestamp", "wsu:Created must carry a time zone (Z or +09:00)")
    return moment


def replay_key(nonce):
    """What the replay check remembers: the nonce's bytes, in canonical Base64."""
    return base64.b64encode(nonce).decode("ascii")


def verify(token, username, password, now, window_seconds):
    """Check user, digest and freshness. Returns the nonce bytes (for replay checks).

    The replay check itself needs storage and is done by the caller, keyed by
    replay_key(nonce bytes), never by the text as sent.
    """
    for key in ("username", "password", "nonce", "created"):
        if not token.get(key):
            raise Reject("missing_security", f"UsernameToken lacks {key}")
    if token.get("password_type") and token["password_type"] != PASSWORD_DIGEST:
        raise Reject("bad_digest", "only PasswordDigest passwords are accepted")
    try:
        nonce = base64.b64decode(token["nonce"], validate=True)
    except (binascii.Error, ValueError):
        raise Reject("bad_digest", "Nonce is not valid Base64") from None
    # one spelling per nonce: '...OA==' and '...OB==' decode to the same bytes, and a
    # replay must not pass by re-spelling the padding bits
    if base64.b64encode(nonce).decode("ascii") != token["nonce"]:
        raise Reject("bad_digest", "Nonce is not canonical Base64 (non-zero padding bits)")
    if len(nonce) < 8:
        raise Reject("bad_digest", "Nonce is shorter than 8 bytes")
    # kept for twice the window: a bound on what one request may make the receiver remember
    # (senders' nonces are 16 bytes; a 100,000-byte one was accepted)
    if len(nonce) > MAX_NONCE_BYTES:
        raise Reject("bad_digest", f"Nonce is longer than {MAX_NONCE_BYTES} bytes")
    expected = password_digest(nonce, token["created"], password)
    # compare user and digest in constant time, and both, so neither leaks first
    user_ok = hmac.compare_digest(token["username"].encode(), username.encode())
    digest_ok = hmac.compare_digest(token["password"].encode(), expected.encode())
    if not (user_ok and digest_ok):
        raise Reject("bad_digest", "authentication failed: unknown user or wrong password digest")
    created = parse_created(token["created"])
    skew = abs((now - created).total_seconds())
    if skew > window_seconds:
        raise Reject(
            "stale_timestamp",
            f"wsu:Created {token['created']} is {int(skew)} s away from the receiver's clock "
            f"(window {window_seconds} s)",
        )
    return nonce
