"""`lalert-send`: sign EDXL messages and publish them to a receiver, as L-Alert does.

Used by tests, by `bin/run` (so the demo receives real traffic) and by
monitoring drills. Prints one JSON line per message; exits 1 if any failed.
"""

import argparse
import base64
import json
import re
import ssl
import sys
import urllib.error
import urllib.request
from xml.sax.saxutils import escape

from . import edxl, wsse

XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>\s*")


# A minimal Exercise message for Tokushima City: load tests and backup tests
# publish many of them, each with its own documentID.
SYNTHETIC = """<edxlde:EDXLDistribution xmlns:edxlde="urn:oasis:names:tc:emergency:EDXL:DE:1.0"
 xmlns:commons="http://xml.publiccommons.ne.jp/xml/edxl/">
<edxlde:distributionID>{doc}-d1</edxlde:distributionID><edxlde:senderID>test@anshin-ops</edxlde:senderID>
<edxlde:dateTimeSent>2026-11-28T09:00:00+09:00</edxlde:dateTimeSent>
<edxlde:distributionStatus>Exercise</edxlde:distributionStatus><edxlde:distributionType>Report</edxlde:distributionType>
<commons:targetArea><commons:areaName>徳島市</commons:areaName><commons:jisX0402>362018</commons:jisX0402></commons:targetArea>
<commons:contentObject><commons:documentID>{doc}</commons:documentID><commons:documentRevision>1</commons:documentRevision>
<commons:category>EvacuationOrder</commons:category></commons:contentObject></edxlde:EDXLDistribution>"""


def synthetic(doc):
    """A synthetic Exercise message with documentID doc (bytes, UTF-8)."""
    return SYNTHETIC.format(doc=doc).encode("utf-8")


def envelope(message, token):
    """The SOAP 1.1 publish request carrying an EDXL document (bytes) and a token."""
    message = XML_DECL.sub(b"", message)
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{edxl.SOAP11_NS}">'
        f'<soap:Header><wsse:Security xmlns:wsse="{wsse.WSSE_NS}" xmlns:wsu="{wsse.WSU_NS}">'
        "<wsse:UsernameToken>"
        f"<wsse:Username>{escape(token['username'])}</wsse:Username>"
        f'<wsse:Password Type="{wsse.PASSWORD_DIGEST}">{token["password"]}</wsse:Password>'
        f'<wsse:Nonce EncodingType="{wsse.BASE64_BINARY}">{token["nonce"]}</wsse:Nonce>'
        f"<wsu:Created>{escape(token['created'])}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security></soap:Header>"
        f'<soap:Body><pcs:publish xmlns:pcs="{edxl.PCS_NS}"><message>'
    )
    return head.encode("utf-8") + message + b"</message></pcs:publish></soap:Body></soap:Envelope>\n"


def post(url, body, context=None, timeout=30):
    """POST a SOAP body; returns (http status, code or None, fault reason or None)."""
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            status, text = resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    code = re.search(r"<code>(-?\d+)</code>", text)
    reason = re.search(r"<pcs:reason[^>]*>([^<]*)</pcs:reason>", text)
    return status, int(code.group(1)) if code else None, reason.group(1) if reason else None


def tls_context(args):
    if args.insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=args.cafile) if args.cafile else None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lalert-send", description=__doc__)
    parser.add_argument("files", nargs="+", help="EDXL documents (or whole requests with --raw)")
    parser.add_argument("--url", default="https://127.0.0.1/lalert/publish")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password-file", required=True, help="file holding the shared password")
    parser.add_argument("--cafile", help="CA certificate to trust (self-signed receivers)")
    parser.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate")
    parser.add_argument("--raw", action="store_true", help="send files unchanged (no envelope, no signing)")
    parser.add_argument("--nonce", help="Base64 nonce to use (tests of replay protection)")
    parser.add_argument("--created", help="wsu:Created to use (tests of the time window)")
    parser.add_argument(
        "--expect", choices=["ok", "fault"], default="ok", help="what counts as success for the exit status"
    )
    args = parser.parse_args(argv)
    with open(args.password_file, encoding="utf-8") as fh:
        password = fh.read().strip()
    context = tls_context(args) if args.url.startswith("https:") else None
    nonce = base64.b64decode(args.nonce) if args.nonce else None

    failures = 0
    for path in args.files:
        with open(path, "rb") as fh:
            data = fh.read()
        body = data if args.raw else envelope(data, wsse.make_token(args.username, password, nonce, args.created))
        try:
            status, code, reason = post(args.url, body, context)
        except (OSError, urllib.error.URLError) as exc:
            status, code, reason = 0, None, f"connection: {exc}"
        ok = status == 200 and code == 0
        failures += ok != (args.expect == "ok")
        print(json.dumps({"file": path, "http": status, "code": code, "fault": reason}, ensure_ascii=False))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
