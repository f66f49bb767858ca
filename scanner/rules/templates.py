"""AWS-shaped fake values, and the template language rule examples are written in.

Rule ``examples`` are literal text committed to a repository, so they say ``{{aws_key_id}}``
or ``{{aws_secret|base64}}`` and :func:`expand_template` fills in deterministic, realistic
values at load time: no real-looking key ever sits in a YAML file. The same generators serve
keysweep's tests and benchmarks, which build their fixture keys at run time for the same
reason (the project scans itself clean).

Every generator takes a ``random.Random``: the same seed gives the same value, everywhere.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import urllib.parse
import zlib

from scanner.aws_ids import BASE32, LONG_TERM_PREFIX, NEW_STYLE_FIRST
from scanner.entropy import shannon_entropy
from scanner.errors import RuleError

BASE64 = string.ascii_letters + string.digits + "+/"  # the alphabet of a secret access key
SESSION_TOKEN_PREFIX = "IQoJb3JpZ2luX2Vj"  # how STS session tokens start (base64 of a header)
# Words that mark a value as a placeholder (the AWS rules' stopwords): a generated value never
# contains one, so it is always reported as the real key it imitates.
_PLACEHOLDER_WORDS = ("EXAMPLE", "TEST", "FAKE", "DUMMY", "SAMPLE", "XXXX")


def aws_key_id(
    rng: random.Random, prefix: str = LONG_TERM_PREFIX, *, new_style: bool = True
) -> str:
    """``prefix`` + 16 base32 characters, varied enough to pass the rules' entropy floor.

    A ``new_style`` ID (5th character in Q-Z or 2-7) encodes an account id; an old-style one
    (``AKIAI...``, ``AKIAJ...``) does not.
    """
    while True:
        first = rng.choice(NEW_STYLE_FIRST if new_style else "IJ")
        body = first + "".join(rng.choice(BASE32) for _ in range(15))
        if len(set(body)) >= 10 and not any(word in body for word in _PLACEHOLDER_WORDS):
            return prefix + body


def aws_secret(rng: random.Random, *, slash: bool = False, plain: bool = False) -> str:
    """40 characters of the base64 alphabet that look like a real secret access key.

    ``slash=True`` guarantees a ``/`` and a ``+`` (to exercise percent and JSON escapes);
    ``plain=True`` guarantees neither (so the value survives a URL unencoded).
    """
    alphabet = BASE64[:62] if plain else BASE64
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(40))
        if slash:
            value = value[:10] + "/" + value[11:25] + "+" + value[26:]
        if (
            shannon_entropy(value) >= 4.6
            and any(c.isupper() for c in value)
            and any(c.islower() for c in value)
            and any(c.isdigit() for c in value)
            and not any(word in value.upper() for word in _PLACEHOLDER_WORDS)
        ):
            return value


def aws_session_token(rng: random.Random, length: int = 372) -> str:
    """A session-token-shaped base64 string of ``length`` characters. Half of them (by the
    seed) hold the run of ``/`` that many real STS tokens have near their start, where the
    token encodes bytes 0xFF (``IQoJb3JpZ2luX2VjEMv//////////wEa...``)."""
    head = SESSION_TOKEN_PREFIX
    if rng.random() < 0.5:
        head += "E" + rng.choice(BASE64) + rng.choice(BASE64) + "/" * 10 + "wEa"
    return head + "".join(rng.choice(BASE64) for _ in range(length - len(head)))


BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


# Supabase's legacy API keys are HS256 JWTs whose claims name the project and its role
# (cloud keys: iss, ref, role, iat, exp in that order; self-hosted keys: role, iss, iat, exp).
# ``demo`` is the service key of Supabase's self-hosting example (iss "supabase-demo"), public.
_SUPABASE_CLAIMS = {
    "service": ("supabase", "service_role", True),
    "anon": ("supabase", "anon", True),
    "selfhost": ("supabase", "service_role", False),
    "demo": ("supabase-demo", "service_role", False),
}


def _base64url_json(value: dict[str, object]) -> str:
    text = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def supabase_jwt(rng: random.Random, kind: str = "service") -> str:
    """A Supabase legacy API key of ``kind`` (``_SUPABASE_CLAIMS``), signed with random bytes."""
    issuer, role, cloud = _SUPABASE_CLAIMS[kind]
    issued = 1_600_000_000 + rng.randrange(200_000_000)
    claims: dict[str, object]
    if cloud:
        ref = "".join(rng.choice(string.ascii_lowercase) for _ in range(20))
        claims = {"iss": issuer, "ref": ref, "role": role}
    else:
        claims = {"role": role, "iss": issuer}
    claims.update(iat=issued, exp=issued + 315_360_000)
    header = _base64url_json({"alg": "HS256", "typ": "JWT"})
    signature = base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")
    return f"{header}.{_base64url_json(claims)}.{signature}"


def bedrock_api_key(rng: random.Random, kind: str = "long") -> str:
    """An Amazon Bedrock API key (``scanner.rules.checks``): ``long`` (``ABSK``, an IAM
    service-specific credential of a console-made user), ``user`` (the same for a named IAM
    user) or ``short`` (``bedrock-api-key-``, a presigned URL signed with an ``ASIA`` key ID
    and a session token)."""
    if kind in ("long", "user"):
        suffix = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(4))
        user = f"BedrockAPIKey-{suffix}" if kind == "long" else f"svc-bedrock.{suffix}"
        account = "".join(rng.choice(string.digits) for _ in range(12))
        password = base64.b64encode(rng.randbytes(33)).decode()
        text = f"{user}-at-{account}:{password}"
        return "ABSK" + base64.b64encode(text.encode()).decode()
    key_id = aws_key_id(rng, "ASIA")
    token = urllib.parse.quote(aws_session_token(rng), safe="")
    signature = "".join(rng.choice(string.hexdigits[:16]) for _ in range(64))
    url = (
        "bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={key_id}%2F20260101%2Fus-east-1%2Fbedrock%2Faws4_request"
        f"&X-Amz-Date=20260101T000000Z&X-Amz-Expires=43200&X-Amz-Security-Token={token}"
        f"&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}&Version=1"
    )
    return "bedrock-api-key-" + base64.b64encode(url.encode()).decode()


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element: ``tag``, the length in its shortest form, ``content``."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def _der_integer(rng: random.Random, nbytes: int) -> bytes:
    """A positive INTEGER of ``nbytes`` random bytes (top bit set, so a 0x00 leads)."""
    return tlv(0x02, b"\x00" + bytes((rng.randrange(0x80, 0x100),)) + rng.randbytes(nbytes - 1))


_RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")  # rsaEncryption, NULL
_EC_P256_ALGORITHM = bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107")
_PBES2 = bytes.fromhex("06092a864886f70d01050d")
_PBKDF2 = bytes.fromhex("06092a864886f70d01050c")
_ROUNDS = bytes.fromhex("02020800")  # 2048
_SHA256 = bytes.fromhex("300c06082a864886f70d02090500")  # hmacWithSHA256, NULL
_AES256_CBC = bytes.fromhex("060960864801650304012a")
_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")
DER_KEY_KINDS = ("rsa", "pkcs1", "ec", "ec8", "ed25519", "enc", "p12", "public", "cert")


def der_key(rng: random.Random, kind: str = "rsa") -> str:
    """Base64 of a DER-encoded key of ``kind`` with random numbers (the layout real keys have,
    no working key): ``rsa`` (PKCS#8, RSA 2048), ``pkcs1`` (PKCS#1 RSA 2048), ``ec`` (SEC1,
    P-256), ``ec8`` (PKCS#8, P-256), ``ed25519`` (PKCS#8); under a password: ``enc`` (PKCS#8
    EncryptedPrivateKeyInfo, PBES2 with PBKDF2 and AES-256-CBC) and ``p12`` (a PKCS#12 bundle);
    and, for negative examples, the public key of an RSA key (``public``) and a
    certificate-shaped SEQUENCE (``cert``)."""
    version = tlv(0x02, b"\x00")
    ec_point = tlv(0x03, b"\x00\x04" + rng.randbytes(64))
    if kind in ("rsa", "pkcs1"):
        sizes = (256, 3, 256, 128, 128, 128, 128, 128)
        numbers = b"".join(_der_integer(rng, n) for n in sizes)
        der = tlv(0x30, version + numbers)
        if kind == "rsa":
            der = tlv(0x30, version + _RSA_ALGORITHM + tlv(0x04, der))
    elif kind in ("ec", "ec8"):
        oid = _EC_P256_ALGORITHM[-10:]  # prime256v1
        ec = tlv(0x02, b"\x01") + tlv(0x04, rng.randbytes(32))
        der = tlv(0x30, ec + tlv(0xA0, oid) + tlv(0xA1, ec_point))
        if kind == "ec8":
            der = tlv(0x30, version + _EC_P256_ALGORITHM + tlv(0x04, der))
    elif kind == "ed25519":
        key = tlv(0x04, tlv(0x04, rng.randbytes(32)))
        der = tlv(0x30, version + tlv(0x30, bytes.fromhex("06032b6570")) + key)
    elif kind == "enc":
        pbkdf2 = tlv(0x30, _PBKDF2 + tlv(0x30, tlv(0x04, rng.randbytes(16)) + _ROUNDS + _SHA256))
        aes = tlv(0x30, _AES256_CBC + tlv(0x04, rng.randbytes(16)))
        scheme = tlv(0x30, _PBES2 + tlv(0x30, pbkdf2 + aes))
        der = tlv(0x30, scheme + tlv(0x04, rng.randbytes(1232)))
    elif kind == "p12":
        data = tlv(0x30, _PKCS7_DATA + tlv(0xA0, tlv(0x04, rng.randbytes(1200))))
        mac = tlv(0x30, tlv(0x04, rng.randbytes(32)) + tlv(0x04, rng.randbytes(8)) + _ROUNDS)
        der = tlv(0x30, tlv(0x02, b"\x03") + data + mac)
    elif kind == "public":
        rsa = tlv(0x30, _der_integer(rng, 256) + tlv(0x02, b"\x01\x00\x01"))
        der = tlv(0x30, _RSA_ALGORITHM + tlv(0x03, b"\x00" + rsa))
    else:  # cert: tbsCertificate (version [0], serial, ...), signature algorithm, signature
        tbs = tlv(0x30, tlv(0xA0, tlv(0x02, b"\x02")) + _der_integer(rng, 16) + ec_point)
        der = tlv(0x30, tbs + _RSA_ALGORITHM + tlv(0x03, b"\x00" + rng.randbytes(256)))
    return base64.b64encode(der).decode()


def base62_checksum(body: str) -> str:
    """CRC32 of ``body`` in base62, six characters: the suffix of GitHub and npm tokens."""
    value = zlib.crc32(body.encode("ascii"))
    out = ""
    while value:
        value, digit = divmod(value, 62)
        out = BASE62[digit] + out
    return out.rjust(6, "0")


def checksummed_token(rng: random.Random, prefix: str) -> str:
    """``prefix_`` + 30 random base62 characters + their CRC32 checksum (GitHub/npm format)."""
    body = "".join(rng.choice(BASE62) for _ in range(30))
    return f"{prefix}_{body}{base62_checksum(body)}"


# --------------------------------------------------------------------------- the templates

_TEMPLATE = re.compile(
    r"\{\{\s{0,3}([a-z0-9_]{1,32})(?::([A-Za-z0-9]{1,8}))?(#[0-9]{1,2})?"
    r"((?:\|[a-z0-9_]{1,16}){0,4})\s{0,3}\}\}"
)
_ALPHABETS = {
    "alnum": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "base64": BASE64,
    "base32": BASE32,
    "urlsafe": string.ascii_letters + string.digits + "-_",
    "digits": string.digits,
    "upper": string.ascii_uppercase,
    "lower": string.ascii_lowercase,
}
# Literal braces, for examples that show a template expression ({{lbrace}} x {{rbrace}}).
_LITERALS = {"lbrace": "{{", "rbrace": "}}"}
TEMPLATE_NAMES = (
    "aws_key_id",
    "aws_secret",
    "aws_session_token",
    "token_crc",
    "basic_auth",
    "supabase_jwt",
    "bedrock_api_key",
    "der_key",
    *_ALPHABETS,
    *_LITERALS,
)
TEMPLATE_FILTERS = ("base64", "percent", "json")


def _kind(name: str, arg: str | None, known: tuple[str, ...], where: str) -> str:
    """The kind a generator's argument names (the first of ``known`` when none is given)."""
    if arg is None:
        return known[0]
    if arg not in known:
        raise RuleError(
            f"{where}: template {{{{{name}:{arg}}}}}: unknown kind (known: {', '.join(known)})"
        )
    return arg


def _generate(m: re.Match[str], rng: random.Random, where: str) -> str:
    name, arg = m.group(1), m.group(2)
    if name == "aws_key_id":
        return aws_key_id(rng, arg or LONG_TERM_PREFIX)
    if name == "aws_secret":
        return aws_secret(rng)
    if name == "aws_session_token":
        return aws_session_token(rng)
    if name in _LITERALS:
        return _LITERALS[name]
    if name == "basic_auth":  # user:password, as Docker's "auth" and npm's _auth encode it
        user = "".join(rng.choice(_ALPHABETS["lower"]) for _ in range(8))
        return f"{user}:" + "".join(rng.choice(_ALPHABETS["alnum"]) for _ in range(20))
    if name == "supabase_jwt":
        return supabase_jwt(rng, _kind(name, arg, tuple(_SUPABASE_CLAIMS), where))
    if name == "bedrock_api_key":
        return bedrock_api_key(rng, _kind(name, arg, ("long", "user", "short"), where))
    if name == "der_key":
        return der_key(rng, _kind(name, arg, DER_KEY_KINDS, where))
    if name == "token_crc":
        if not arg:
            raise RuleError(
                f"{where}: template {{{{token_crc}}}} needs a prefix, e.g. {{{{token_crc:ghp}}}}"
            )
        return checksummed_token(rng, arg)
    if name in _ALPHABETS:
        if not arg or not arg.isdigit() or not 1 <= int(arg) <= 4096:
            raise RuleError(
                f"{where}: template {{{{{name}}}}} needs a length, e.g. {{{{{name}:32}}}}"
            )
        return "".join(rng.choice(_ALPHABETS[name]) for _ in range(int(arg)))
    raise RuleError(
        f"{where}: unknown template {{{{{name}}}}} (known: {', '.join(TEMPLATE_NAMES)})"
    )


def _apply_filters(value: str, filters: str, where: str) -> str:
    for flt in filter(None, filters.split("|")):
        if flt == "base64":
            value = base64.b64encode(value.encode()).decode()
        elif flt == "percent":
            value = urllib.parse.quote(value, safe="")
        elif flt == "json":
            value = value.replace("/", "\\/")
        else:
            raise RuleError(
                f"{where}: unknown template filter |{flt} (known: {', '.join(TEMPLATE_FILTERS)})"
            )
    return value


def expand_template(text: str, seed: str, where: str = "<template>") -> str:
    """Replace ``{{generator[:arg][#n][|filter...]}}`` templates with deterministic values.

    The same ``seed`` always gives the same text. Within one text, the same generator, argument
    and ``#n`` give the same value (filters apply on top), so ``{{aws_secret}}`` and
    ``{{aws_secret|base64}}`` are one secret in two forms; ``{{aws_secret#2}}`` is another one.
    """
    if "{{" not in text:
        return text
    rng = random.Random(seed)
    memo: dict[tuple[str, str | None, str | None], str] = {}

    def repl(m: re.Match[str]) -> str:
        key = (m.group(1), m.group(2), m.group(3))
        if key not in memo:
            memo[key] = _generate(m, rng, where)
        return _apply_filters(memo[key], m.group(4), where)

    return _TEMPLATE.sub(repl, text)
