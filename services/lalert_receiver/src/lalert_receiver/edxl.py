"""Parse a SOAP 1.1 `publish` request carrying an EDXL-DE message.

The one parser of this format in the repo: the receiver and any job that
reads stored messages use it. XML is parsed with defusedxml: DTDs, entity
declarations and external references are refused outright.
"""

import codecs
import dataclasses
import hashlib
import re
import unicodedata
import xml.etree.ElementTree as ET
from xml.etree.ElementTree import ParseError

import defusedxml
from defusedxml import ElementTree as SafeET

from . import wsse
from .errors import Reject

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
PCS_NS = "http://soap.publiccommons.ne.jp/"
EDXL_NS = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
COMMONS_NS = "http://xml.publiccommons.ne.jp/xml/edxl/"

STATUSES = ("Actual", "Exercise", "Test", "System")
TYPES = ("Report", "Update", "Cancel")
# ASCII digits only: str's \d also matches other scripts' digits (e.g. ٣)
JIS_X0402 = re.compile(r"[0-9]{6}")
REVISION = re.compile(r"[0-9]{1,18}")  # fits SQLite's 64-bit INTEGER
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([^"']*)["']""")
# byte order marks and the BOM-less UTF-16/32 openings of '<?' (XML 1.0 appendix F)
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
OPENINGS = (
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)


@dataclasses.dataclass
class Message:
    distribution_id: str
    sender_id: str
    date_time_sent: str
    status: str
    dist_type: str
    area_names: list
    area_codes: list
    document_id: str
    revision: int
    category: str
    payload: object  # ElementTree element or None
    # every Control/Status anywhere in the distribution, all its contentObjects included (通常, 訓練,
    # 試験 ...): one drill marker anywhere makes the message non-real, whatever else it carries
    control_statuses: tuple = ()
    # targetAreas without a usable jisX0402 code: ignored when another area has one (logged)
    unusable_areas: tuple = ()
    # why no code is usable (Reject arguments), when none is: refused unless the document is already
    # stored (an Update or Cancel of it may list other areas, or none)
    area_problem: tuple = ()

    @property
    def is_actual(self):
        return self.status == "Actual"


def _q(ns, name):
    return f"{{{ns}}}{name}"


def _split(tag):
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def normalise(text):
    """Identifiers, codes and statuses as one spelling: NFKC folds full-width digits and letters and joins
    NFD into NFC; invisible format characters (zero-width space, BOM, word joiner, soft hyphen) are dropped,
    so one never turns 通常 into a drill, 362018 into no code, or a Cancel's documentID into another one."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cf").strip()


# the encodings a Japanese XML document is written in (by Python's codec name), and how a declared
# label is decoded: Shift_JIS as Windows' superset (senders' ①, 髙), which the label often means. Any
# other codec is refused before authentication: punycode's decoder alone is quadratic, and a Latin-1
# label on a UTF-8 body turned a real alert into mojibake
ENCODINGS = {
    "utf-8": "utf-8",
    "utf-16": "utf-16",
    "utf-16-le": "utf-16-le",
    "utf-16-be": "utf-16-be",
    "utf-32": "utf-32",
    "utf-32-le": "utf-32-le",
    "utf-32-be": "utf-32-be",
    "ascii": "ascii",
    "shift_jis": "cp932",
    "cp932": "cp932",
    "euc_jp": "euc_jp",
    "iso2022_jp": "iso2022_jp",
}
# IANA labels of Shift_JIS that Python does not know by those names
ENCODING_ALIASES = {"windows-31j": "cp932", "x-sjis": "shift_jis", "x-shift-jis": "shift_jis", "ms_kanji": "cp932"}


def _codec(label):
    """The codec to decode a declared encoding label with; Reject when it is not one of ENCODINGS."""
    name = ENCODING_ALIASES.get(label.lower(), label)
    try:
        codec = ENCODINGS.get(codecs.lookup(name).name)
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        codec = None
    if codec is None:
        raise Reject("bad_encoding", f"unknown or unaccepted character encoding {label[:40]!r}")
    return codec


def decode_document(body):
    """The text of an XML document, decoded by its BOM, its opening bytes or its encoding
    declaration (UTF-8 when it has none). Only the encodings of ENCODINGS are accepted
    (UTF-8/16/32, Shift_JIS, EUC-JP, ISO-2022-JP); any other is refused. Raises Reject."""
    encoding = None
    for bom, name in BOMS:
        if body.startswith(bom):
            body, encoding = body[len(bom) :], name
            break
    else:
        encoding = next((name for opening, name in OPENINGS if body.startswith(opening)), None)
    if encoding is None:
        declared = XML_ENCODING.match(body[:256])
        encoding = declared.group(1).decode("ascii", "replace").strip() if declared else "utf-8"
    encoding = _codec(encoding)
    try:
        # bytes.decode refuses non-text codecs (base64, rot13, zlib) with LookupError too
        return body.decode(encoding)
    except LookupError:
        raise Reject("bad_encoding", f"unknown character encoding {encoding[:40]!r}") from None
    except (UnicodeError, ValueError) as exc:
        raise Reject("bad_encoding", f"the request is not valid {encoding[:40]}: {str(exc)[:200]}") from None


def _parse_xml(text, what="the request", reason="malformed_xml"):
    """Parse XML text with DTDs, entity declarations and external references refused. Raises Reject."""
    try:
        return SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise Reject("forbidden_dtd", "DTDs are not accepted (XML entity attacks)") from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise Reject("forbidden_dtd", "entity declarations and external references are not accepted") from None
    except (ParseError, ValueError) as exc:
        raise Reject(reason, f"{what} is not well-formed XML: {exc}") from None


def parse_request(body):
    """Return (token dict, root of EDXLDistribution, text of the request). Raises Reject."""
    text = decode_document(body)
    root = _parse_xml(text)

    ns, local = _split(root.tag)
    if local != "Envelope" or ns != SOAP11_NS:
        raise Reject("wrong_namespace", f"expected a SOAP 1.1 Envelope ({SOAP11_NS}), got {root.tag}")
    header = root.find(_q(SOAP11_NS, "Header"))
    body_el = root.find(_q(SOAP11_NS, "Body"))
    if body_el is None:
        raise Reject("wrong_namespace", "the SOAP Envelope has no Body")
    publish = body_el.find(_q(PCS_NS, "publish"))
    if publish is None:
        found = [child.tag for child in body_el]
        raise Reject("wrong_namespace", f"expected the publish operation of {PCS_NS}, got {found}")
    distributions = list(publish.iter(_q(EDXL_NS, "EDXLDistribution")))
    if not distributions:
        raise Reject("wrong_namespace", f"publish carries no EDXLDistribution of {EDXL_NS}")
    if len(distributions) > 1:  # one is stored: the others would be acknowledged and lost
        raise Reject("multiple_documents", f"publish carries {len(distributions)} EDXLDistributions; send one each")
    return _token(header), distributions[0], text


def spool_text(text, token):
    """The request's text for the spool file, which the web side (another contractor's servers) reads:
    without the PasswordDigest, which with the Nonce and Created beside it allows a dictionary attack on
    the shared password offline. The database keeps the request as received."""
    digest = token.get("password", "")
    return text.replace(digest, "") if len(digest) >= 20 else text


def content_digest(edxl):
    """SHA-256 of what an EDXLDistribution says: canonical XML (C14N 2.0, prefixes and
    attribute order do not matter) in NFKC, so re-spellings of one message agree."""
    canonical = ET.canonicalize(ET.tostring(edxl, encoding="unicode"), strip_text=True)
    return hashlib.sha256(unicodedata.normalize("NFKC", canonical).encode("utf-8")).hexdigest()


def _token(header):
    if header is None:
        raise Reject("missing_security", "no SOAP Header with a WS-Security UsernameToken")
    ut = header.find(f"{_q(wsse.WSSE_NS, 'Security')}/{_q(wsse.WSSE_NS, 'UsernameToken')}")
    if ut is None:
        raise Reject("missing_security", "no wsse:Security/wsse:UsernameToken in the SOAP Header")

    def text(ns, name):
        el = ut.find(_q(ns, name))
        return (el.text or "").strip() if el is not None else ""

    password = ut.find(_q(wsse.WSSE_NS, "Password"))
    return {
        "username": text(wsse.WSSE_NS, "Username"),
        "password": text(wsse.WSSE_NS, "Password"),
        "password_type": password.get("Type", "") if password is not None else "",
        "nonce": text(wsse.WSSE_NS, "Nonce"),
        "created": text(wsse.WSU_NS, "Created"),
    }


def _child_text(parent, local_name, namespaces=(EDXL_NS, COMMONS_NS)):
    for ns in namespaces:
        el = parent.find(_q(ns, local_name))
        if el is not None:
            return (el.text or "").strip()
    return None


def _identifier(parent, local_name):
    value = _child_text(parent, local_name)
    return normalise(value) if value is not None else None


def _required(parent, local_name, what=None):
    value = _identifier(parent, local_name)
    if not value:
        raise Reject("missing_field", f"{what or local_name} is missing or empty")
    return value


def _all(parent, local_name):
    """The children of that local name in either namespace, in document order."""
    return [el for el in parent if el.tag in (_q(EDXL_NS, local_name), _q(COMMONS_NS, local_name))]


def parse_edxl(edxl):
    """Fields of BRIEF §2 from an EDXLDistribution element. Raises Reject."""
    # a second distributionStatus that says otherwise makes it that: Actual only when every one says so
    statuses = [normalise(el.text or "") for el in _all(edxl, "distributionStatus")]
    if not statuses or not statuses[0]:
        raise Reject("missing_field", "distributionStatus is missing or empty")
    for status in statuses:
        if status not in STATUSES:
            raise Reject("bad_field", f"distributionStatus must be one of {STATUSES}, got {status!r}")
    status = next((s for s in statuses if s != "Actual"), "Actual")
    dist_type = _required(edxl, "distributionType")
    if dist_type not in TYPES:
        raise Reject("bad_field", f"distributionType must be one of {TYPES}, got {dist_type!r}")

    # every code of every targetArea: one in Tokushima keeps the message, wherever it is listed
    named, unusable = {}, []  # code -> the name of its first area
    for area in _all(edxl, "targetArea"):
        name = _child_text(area, "areaName") or ""
        found = [normalise(el.text or "") for el in _all(area, "jisX0402")]
        bad = []
        for code in found:  # one pass: a `not in` over the bad ones would be quadratic in a crafted area
            if JIS_X0402.fullmatch(code):
                named.setdefault(code, name)
            else:
                bad.append(code)
        if bad or not found:
            unusable.append((name, tuple(bad)))
    codes, names = list(named), list(named.values())
    area_problem = ()
    if not codes:
        area_problem = (
            ("bad_field", f"no targetArea has a 6-digit jisX0402 code: {unusable[:5]!r}")
            if unusable
            else ("missing_field", "targetArea with jisX0402 is missing")
        )

    contents = [el for ns in (COMMONS_NS, EDXL_NS) for el in edxl.findall(_q(ns, "contentObject"))]
    if not contents:
        raise Reject("missing_field", "contentObject is missing")
    content = contents[0]
    document_id = _required(content, "documentID")
    others = {_identifier(el, "documentID") for el in contents[1:]} - {None, "", document_id}
    if others:  # one document is stored per message: the others would be acknowledged and lost
        raise Reject("multiple_documents", f"contentObjects of other documents ({sorted(others)[:3]!r}); send one each")
    embedded = _embedded_documents(edxl)
    raw_revision = _required(content, "documentRevision")
    # 0 is some senders' first issue; revisions must still increase (store.py)
    if not REVISION.fullmatch(raw_revision):
        raise Reject(
            "bad_field", f"documentRevision must be a whole number of up to 18 digits, got {raw_revision[:40]!r}"
        )

    return Message(
        distribution_id=_required(edxl, "distributionID"),
        sender_id=_identifier(edxl, "senderID") or "",
        date_time_sent=_child_text(edxl, "dateTimeSent") or "",
        status=status,
        dist_type=dist_type,
        area_names=names,
        area_codes=codes,
        document_id=document_id,
        revision=int(raw_revision),
        category=_identifier(content, "category") or "",
        payload=_payload(content, embedded),
        control_statuses=tuple(status for root in (edxl, *embedded) for status in _control_statuses(root)),
        unusable_areas=tuple(unusable),
        area_problem=area_problem,
    )


def _embedded_documents(edxl, depth=3):
    """The documents embedded as text: a JMA document keeps its own <?xml?> declaration only inside CDATA
    or escaped, and its Control/Status must count like an element's (a 訓練 sent that way was shown as
    real). Parsed like the request, and refused when not well-formed; text inside such a document is
    looked into too, and refused deeper than `depth` levels."""
    found, level = [], [edxl]
    for deeper in range(depth + 1):
        nested = []
        for parent in level:
            for el in parent.iter():
                text = el.text or ""
                if _split(el.tag)[1] != "embeddedXMLContent" or len(el) or not text.lstrip().startswith("<"):
                    continue
                if deeper == depth:
                    raise Reject("malformed_payload", f"documents embedded as text more than {depth} levels deep")
                nested.append(
                    _parse_xml(XML_DECLARATION.sub("", text, 1), "a document embedded as text", "malformed_payload")
                )
        found += nested
        level = nested
    return found


def _payload(content, embedded):
    """The embedded document: the first Report (JMA, Public Commons), else the first element outside
    the EDXL/commons namespaces; under the contentObject first, then among the documents sent as text."""
    foreign = [el for el in content.iter() if el is not content and _split(el.tag)[0] not in (EDXL_NS, COMMONS_NS)]
    foreign += [el for root in embedded for el in root.iter() if _split(el.tag)[0] not in (EDXL_NS, COMMONS_NS)]
    return next((el for el in foreign if _split(el.tag)[1] == "Report"), foreign[0] if foreign else None)


def _control_statuses(root):
    """Every Control/Status under root, its whole text (`通常<x/>訓練` is not 通常)."""
    for control in root.iter():
        if _split(control.tag)[1] == "Control":
            for child in control:
                if _split(child.tag)[1] == "Status":
                    yield "".join(child.itertext()).strip()
