"""The registry of what a rule can ask for by name: ``checks: [...]`` and ``enrich: [...]``.

A *check* returns True when the candidate secret still looks real; the detector drops the
candidate otherwise. An *enrichment* derives a new :class:`~scanner.models.Finding` from a
finding of the rule (offline, no network). :data:`CHECKS` and :data:`ENRICHMENTS` are the one
list of names: the pack loader validates ``checks:``/``enrich:`` against them and the detector
runs what they hold, so a name is known exactly when it is implemented.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise

from scanner.entropy import shannon_entropy
from scanner.models import Finding
from scanner.rules.aws_account import account_id_from_key_id
from scanner.rules.templates import base62_checksum

_HEX = re.compile(r"[0-9a-fA-F]+")
_RUN = re.compile(r"(.)\1{5}")


@functools.cache
def _run_of(length: int) -> re.Pattern[str]:
    """A run of ``length`` equal characters (``length`` >= 1)."""
    return re.compile(r"(.)\1{" + str(length - 1) + "}", re.DOTALL)


def not_hex(secret: str) -> bool:
    """Pure hex strings (SHA-1 digests, git commit ids) are not secrets of base64 alphabets."""
    return _HEX.fullmatch(secret) is None


def mixed_case(secret: str) -> bool:
    """Random base64 text of 40 characters has both cases (P(no upper) is about 1e-9)."""
    return any(c.isupper() for c in secret) and any(c.islower() for c in secret)


# A word: a capital and lower-case letters, lower-case letters, or capitals an acronym
# stands in (URL in WebhookURLAsString).
_WORD_SEGMENT = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


def not_words(secret: str) -> bool:
    """Letters only, read as words of four letters or more on average, are a name
    (``StackeryEnvConfigslackWebhookURLAsString``, a YAML key 40 letters long), not a
    random value: 40 random base64 characters are letters only one time in 4,000, and then
    change case every other letter."""
    if not secret.isalpha():
        return True
    return len(_WORD_SEGMENT.findall(secret)) * 4 > len(secret)


def _periodic(text: str) -> bool:
    """True when ``text`` repeats a unit of up to 8 characters (``abcabcab``)."""
    n = len(text)
    for period in range(1, min(9, n // 2 + 1)):
        if text[:period] * (n // period) + text[: n % period] == text:
            return True
    return False


# ``_sequential`` compares each byte with its neighbour in C: the bytes after ``_UP`` (or
# ``_DOWN``) equal the next ones exactly where the text steps up (or down) by one. A byte 0xFF
# would step "up" to 0x00 through the table's wrap, so such texts (and any character past
# U+00FF) take the loop. A 10 MB file of 800-character session tokens scanned in 3.06 s with
# the loops (of the two checks), in 1.05 s without.
_UP = bytes((i + 1) & 0xFF for i in range(256))
_DOWN = bytes((i - 1) & 0xFF for i in range(256))


def _sequential(text: str, length: int = 8) -> bool:
    """True when ``text`` holds ``length`` consecutive characters of the alphabet in order,
    up or down (``ABCDEFGH``, ``12345678``, ``zyxwvuts``): typed, not drawn at random (in 40
    random base64 characters such a run has a chance of about 1e-11)."""
    if len(text) < length:
        return False
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return _sequential_loop(text, length)
    if b"\xff" in raw:
        return _sequential_loop(text, length)
    steps = len(raw) - 1
    following = int.from_bytes(raw[1:], "big")
    same = bytes(length - 1)  # that many steps in a row: that many zero bytes
    for table in (_UP, _DOWN):
        stepped = int.from_bytes(raw[:-1].translate(table), "big")
        if same in (following ^ stepped).to_bytes(steps, "big"):
            return True
    return False


def _sequential_loop(text: str, length: int) -> bool:
    """``_sequential`` one character at a time, for any text."""
    up = down = 1
    for prev, cur in pairwise(text):
        step = ord(cur) - ord(prev)
        up = up + 1 if step == 1 else 1
        down = down + 1 if step == -1 else 1
        if up >= length or down >= length:
            return True
    return False


def not_repetitive(secret: str) -> bool:
    """Rejects runs of six equal characters, short periods, runs of eight consecutive
    characters of the alphabet, and too few distinct characters."""
    if _RUN.search(secret):
        return False
    if _periodic(secret) or _sequential(secret):
        return False
    return len(set(secret)) >= min(10, len(secret) // 3)


def binary_token_shape(secret: str) -> bool:
    """A base64 token of binary data (an STS session token): runs of ``A`` and ``/`` encode
    runs of zero and 0xFF bytes, its structure (``IQoJb3JpZ2luX2VjEMv//////////wEa...``),
    not a fake's: ``not-repetitive`` refused every real token with such a run. Fakes fail:
    a short period, eight consecutive characters of the alphabet, fewer than 20 distinct
    characters (a third of a shorter token), or one character repeated over an eighth of it."""
    if _periodic(secret) or _sequential(secret):
        return False
    # the longest run of one character at most an eighth of the token: no run one longer
    if _run_of(len(secret) // 8 + 1).search(secret):
        return False
    return len(set(secret)) >= min(20, len(secret) // 3)


def aws_key_id_shape(secret: str) -> bool:
    """The 16 characters after the prefix of a key ID look random, not patterned.

    ``AKIATESTTESTTESTTEST`` or ``AKIAAAAABBBBCCCCDDDD``-style fakes fail: a period of up to 8
    characters, a run of 5 equal characters, or fewer than 6 distinct characters.
    """
    body = secret[4:]
    if _periodic(body) or len(set(body)) < 6:
        return False
    return re.search(r"(.)\1{4}", body) is None


def crc32_base62_suffix(secret: str) -> bool:
    """GitHub (``ghp_``, ``gho_``, ...) and npm (``npm_``) tokens of 40 characters end in the
    base62 CRC32 of their 30 random characters: a typo, a truncated or an invented token fails.
    Longer tokens (other formats under the same prefixes) are not checked."""
    if len(secret) != 40 or secret[3] != "_":
        return True
    return base62_checksum(secret[4:34]) == secret[34:]


# Values of secret-named settings that are not secrets: references, templates, placeholders.
_REFERENCE = re.compile(
    r"^(?:\$|%[A-Za-z_(]|\{\{|\{%|<%|#\{|<|\[|\{|@|!|&|\*[A-Za-z])"  # ${X} $(cmd) %X% {{ x }}
    r"|^\?\$[A-Za-z_{]"  # "?$feed_credential": a query string's start, then a variable
    r"|^(?:/|\./|\.\./|~/|[A-Za-z]:\\)"  # paths
    r"|^[a-z][a-z0-9+.\-]{1,20}://"  # URLs (credentials in URLs have their own rules)
    r"|^arn:"  # AWS resource names
    # ... and an ARN's body, wherever it stands ("rn:aws:iam::123:role/x" lost its first letter)
    r"|(?:^|:)aws(?:-[a-z\-]{1,20})?:[a-z0-9\-]{1,64}:[a-z0-9\-]{0,32}:[0-9]{0,12}:"
    r"|^(?:true|false|yes|no|on|off|null|none|nil|undefined|required|optional|empty)$"
    r"|^[0-9.,_:\-]{1,64}$",  # numbers, versions, times
    re.IGNORECASE,
)
_PLACEHOLDER_WORDS = (
    "your",
    "changeme",
    "change_me",
    "change-me",
    "changethis",  # full-stack-fastapi-template's placeholder, as in "Changethis1!"
    "change_this",
    "change-this",
    "example",
    "placeholder",
    "xxxx",
    "****",
    "...",
    "dummy",
    "sample",
    "redacted",
    "replace",
    "insert",
    "todo",
    "fixme",
    "getenv",
    "environ",
    "process.env",
    "env(",
    "secret_key_here",
    "notasecret",
    "not-a-secret",
    "not_a_secret",
    "password",  # MasterPassword123, mysecretpassword: test values that name themselves
    "passwd",
    "secret",
    "{{",  # template expressions anywhere in the value
    "}}",
    "${",
    "$(",
    "{%",
    "<%",
)
# Code references, not values: settings.SECRET_KEY, os_environ_name, SOME_CONSTANT.
_IDENTIFIER = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]{0,64}(?:(?:\.|::)[A-Za-z_][A-Za-z0-9_]{0,64}){1,8}(?:\(\))?$"
    r"|^[a-z]{1,20}(?:[_\-][a-z]{1,20}){0,8}$|^[A-Z]{1,20}(?:_[A-Z]{1,20}){0,8}$"
)
# ``service:Action`` (``sts:GetSessionToken``, ``s3:Get*``), as policies and chalice's
# policies.json (68 findings in its history) name them
_IAM_ACTION = re.compile(r"[a-z0-9][a-z0-9\-]{1,40}:(?P<action>[A-Za-z*]{2,128})")
# text inside a string literal (a docs search index's "def handler(token: str\n\npayload")
_ESCAPED_BREAK = re.compile(r"\\[nrt]")
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_FILE_NAME = re.compile(
    r"^[\w.\-/]{1,200}\.(?:json|ya?ml|txt|xml|pem|crt|cer|key|p12|pfx|jks|keystore|csv|log|html?"
    r"|js|ts|py|rb|php|java|go|sh|conf|cfg|ini|toml|env|lock|gz|zip|tar|enc|gpg|asc|md)$",
    re.IGNORECASE,
)
# Identifier-shaped values: snake/kebab word chains, JSONPath (CamelCase: ``_camel_words``).
_WORDS = re.compile(r"^[a-z][a-z0-9]{0,20}(?:[_\-][a-z0-9]{1,20}){2,12}$|[\[\]]")
_CAMEL = re.compile(r"[A-Z]?[a-z]+(?:[A-Z][a-z]+)*")
_CAMEL_PART = re.compile(r"[A-Z]?[a-z]+")


def _camel_words(value: str) -> bool:
    """True when ``value`` is 2 to 12 words of an optional capital and 1-20 lower-case
    letters (``^(?:[A-Z]?[a-z]{1,20}){2,12}$``, decided in linear time: as a regex that
    pattern backtracks exponentially on a long lower-case run that ends in a digit)."""
    if not _CAMEL.fullmatch(value):
        return False
    # each capital starts a word; a run of n lower-case letters is 1 to 20 letters a word
    runs: list[int] = [len(part) - part[0].isupper() for part in _CAMEL_PART.findall(value)]
    fewest = sum(-(-n // 20) for n in runs)
    return fewest <= 12 and sum(runs) >= 2


def _word_path(value: str) -> bool:
    """True for names joined by ``/``, each words (``_camel_words``): a key or resource name
    (the IAM condition key "secretsmanager:resource/AllowRotationLambdaArn", a JSON key
    read as a name and its value), not a secret."""
    parts = value.split("/")
    return len(parts) > 1 and all(_camel_words(part) for part in parts)


def _iam_action_name(name: str) -> bool:
    """``Get*``, or two or more capitalised words (``GetSessionToken``): not a password after
    a user name (``admin:Secretpassword``)."""
    return "*" in name or (_camel_words(name) and sum(c.isupper() for c in name) >= 2)


# A pinned requirement (``pydantic_core==2.46.4``, ``urllib3[socks]>=2.0``): tox.ini
# factor lines (``py3.13-openai-notiktoken: anyio==4.14.2``) give it a token-like name.
_REQUIREMENT_PIN = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._\-]{0,100}(?:\[[A-Za-z0-9,._\-]{1,100}\])?"
    r"(?:===?|[<>~!]=)[0-9][0-9A-Za-z.*+!\-]{0,40}"
)
# A value that is itself an assignment (``_TESTPATH=tests/integrations/x`` in a tox
# ``setenv`` factor line) is judged on the value it assigns.
_NESTED_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,64}=(?P<value>[^=].{0,199})")
# A PHP class by its namespace, capitalised names, with its ::class or a constant, or three
# names deep (App\Http\Middleware\VerifyCsrfToken::class: laravel's config/sanctum.php
# names it under "verify_csrf_token"), its backslashes doubled inside a string or not. A
# random value's backslash is not one of these.
_PHP_CLASS = re.compile(
    r"(?:[A-Z][A-Za-z0-9_]{0,64}\\{1,2}){1,10}[A-Z][A-Za-z0-9_]{0,64}::[A-Za-z_][A-Za-z0-9_]{0,64}"
    r"|(?:[A-Z][A-Za-z0-9_]{0,64}\\{1,2}){2,10}[A-Z][A-Za-z0-9_]{0,64}"
)
# A call, its arguments names, numbers and quoted words, that a member access or a closing
# bracket may follow: bin2hex(random_bytes(16)), self.get("token"). Replaced by a name, a
# call at a time, until the value is a chain of names (``_code``).
_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,64}\([\w\s,.:'\"=\-]{0,200}\)(?=$|[.)\];,]|::|->)")
_NAME_CHAIN = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]{0,64}(?:(?:\.|::|->)[A-Za-z_][A-Za-z0-9_]{0,64}){0,12}"
)
# What a shell parameter expansion's default leaves after the colon: ${DB_PASSWORD:-mongo}
# read as DB_PASSWORD set to "-mongo}@mongodb:27017/" (a URL's user and password part).
_EXPANSION_TAIL = re.compile(r"[-=?+][^{}]{0,199}\}")
# A version: a Jenkins plugin's (credentials:1371.vfee6b_095f0a_3 in a plugins list), a
# package's (1.4.2-rc.1).
_VERSION = re.compile(r"[0-9]{1,9}(?:\.[A-Za-z0-9_\-]{1,40}){1,6}")
# A password hash as Django stores it: algorithm, then "$"-separated fields, the last one the
# hash (pbkdf2_sha256$600000$salt$hash, sha1$salt$hex, argon2$argon2id$v=19$...$salt$hash)
_DJANGO_HASH = re.compile(
    r"(?:pbkdf2_sha(?:256|1)|argon2|bcrypt(?:_sha256)?|scrypt|sha1|md5)\$[A-Za-z0-9$=,./+]{20,300}"
)
_CLASS_NUMBER = re.compile(r"(?<=[a-z])[0-9]{1,2}$")
# A \uXXXX escape (Java properties, JSON) of a character past ASCII.
_WIDE_ESCAPE = re.compile(r"\\u(?!00[0-7])[0-9A-Fa-f]{4}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX_ONLY = re.compile(r"[0-9a-fA-F]{1,4096}")
_BASE64ISH = re.compile(r"[A-Za-z0-9+/=_\-]{1,4096}")


def _code(value: str) -> bool:
    """True for a code expression: calls (``_CALL``), then names joined by ``.``, ``::`` or
    ``->``, and closing brackets after it (``csrftoken})`` in a docs search index) or a
    separator before it (the value of "storeTaskToken" in ``storeTaskToken::Handler``)."""
    text = value.lstrip(".:").rstrip(")]};,")
    if "(" in text:
        for _ in range(4):
            reduced = _CALL.sub("f", text)
            if reduced == text:
                break
            text = reduced
    return _NAME_CHAIN.fullmatch(text) is not None and text != value


def _words_of_a_language(value: str) -> bool:
    """True when ``value`` holds a letter past ASCII, as it is or written ``\\uXXXX``: text
    of a language (a localised label under a "password" key in a messages file), not a
    value drawn by a machine, whose alphabet is ASCII."""
    return _WIDE_ESCAPE.search(value) is not None or any(
        not c.isascii() and c.isalpha() for c in value
    )


def not_placeholder(secret: str) -> bool:
    """False for references and placeholders: ``${VAR}``, ``$(cmd)``, ``%VAR%``, ``{{ x }}``,
    ``<your-key>``, ``changeme``, ``xxxx``, ``your_...``, booleans, numbers, paths, URLs
    without credentials, template expressions and code identifiers."""
    value = secret.strip().strip("\"'\\")
    if len(value) < 4 or _REFERENCE.search(value) or _IDENTIFIER.match(value):
        return False
    if _IDENTIFIER.match(value.partition("(")[0].rstrip(")")) or _code(value):
        # code: WebClient(token=self.admin_token), getattr(config, 'SECRET_KEY'), and with
        # "::" between names Aws::Credentials.new(key_id, secret) (Ruby, PHP, Rust, C++)
        return False
    if _PHP_CLASS.fullmatch(value) or _EXPANSION_TAIL.match(value) or _VERSION.fullmatch(value):
        return False
    if _FILE_NAME.match(value):  # a file holding the secret, not the secret
        return False
    action = _IAM_ACTION.fullmatch(value)
    if action and _iam_action_name(action["action"]):
        return False  # an IAM action: "GetSessionToken": "sts:GetSessionToken"
    if _WORDS.search(value) or _camel_words(value) or _word_path(value):
        return False
    low = value.lower()
    if any(word in low for word in _PLACEHOLDER_WORDS):
        return False
    return len(set(value)) > 2 and not _periodic(value)


def generic_secret_value(secret: str) -> bool:
    """A value that is no placeholder and random enough for its alphabet.

    Eight consecutive characters of the alphabet (``ABCDEFGH``) never pass.
    Hex (digests, keys) needs 16+ characters and 3.0 bits per character; base64/alphanumeric
    needs 12+ characters, 3.5 bits and two character classes; values with other symbols need
    10+ characters and 3.2 bits. Digits only never pass, nor requirement pins
    (``anyio==4.14.2``); an assignment (``NAME=value``) is judged on its value.
    """
    if not not_placeholder(secret) or _sequential(secret):  # ABCDEFGH...: typed, not drawn
        return False
    if _words_of_a_language(secret) or _DJANGO_HASH.fullmatch(secret):
        return False  # a hash has its own rule (django-password-hash)
    named = _CLASS_NUMBER.sub("", secret)
    if named != secret and _camel_words(named) and any(c.isupper() for c in named[1:]):
        return False  # a class name that ends in a number (token: DomRendererFactory2)
    if _REQUIREMENT_PIN.fullmatch(secret):
        return False
    nested = _NESTED_ASSIGNMENT.fullmatch(secret)
    if nested:
        return generic_secret_value(nested["value"])
    entropy = shannon_entropy(secret)
    if secret.isdigit() or _UUID.fullmatch(secret):  # UUIDs under secret names are mostly ids
        return False
    if _TIMESTAMP.fullmatch(secret):  # PasswordLastUsed, token_expiry: when, not what
        return False
    if _ESCAPED_BREAK.search(secret):  # a value never holds an escaped line break
        return False
    if _HEX_ONLY.fullmatch(secret):
        if len(secret) == 40 and secret.islower():  # a git object id (commit, blob)
            return False
        return len(secret) >= 16 and entropy >= 3.0
    plain = _printable_base64(secret)
    if plain is not None:
        if len(secret) >= 24 and plain.count(" ") >= 2:  # base64 of prose: encoded data
            return False
        if " " not in plain and len(plain) >= 4:  # a Kubernetes Secret's data
            return generic_secret_value(plain)  # judged on the value it encodes
    if _BASE64ISH.fullmatch(secret):
        classes = sum(
            (
                any(c.islower() for c in secret),
                any(c.isupper() for c in secret),
                any(c.isdigit() for c in secret),
            )
        )
        return len(secret) >= 12 and entropy >= 3.5 and classes >= 2
    return len(secret) >= 10 and entropy >= 3.2


def _base64_bytes(value: str, *, urlsafe: bool = False) -> bytes | None:
    """``value`` decoded from base64 (padding optional; ``urlsafe``: the ``-_`` alphabet), or
    None. (Imported here: ``keysweep staged`` loads this module.)"""
    import base64
    import binascii

    padded = value + "=" * (-len(value) % 4)
    try:
        if urlsafe:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _base64_text(value: str, encoding: str = "utf-8", *, urlsafe: bool = False) -> str | None:
    """``value`` decoded from base64 (:func:`_base64_bytes`) as text in ``encoding``, or None."""
    raw = _base64_bytes(value, urlsafe=urlsafe)
    try:
        return None if raw is None else raw.decode(encoding)
    except ValueError:
        return None


def _printable_base64(value: str) -> str | None:
    """The printable ASCII that ``value``, padded base64 of 8 characters or more, encodes:
    prose (encoded data, not a random secret) or a value (``bXlzcWxwYXNzd29yZA==``,
    "mysqlpassword", in a Kubernetes Secret); None otherwise. A random byte is printable
    ASCII one time in 2.7."""
    if len(value) < 8 or len(value) % 4:
        return None
    text = _base64_text(value, "ascii")
    return text if text is not None and text.isprintable() else None


def basic_auth_base64(secret: str) -> bool:
    """Base64 of ``user:password`` with a password that is no placeholder (Docker's ``auth``)."""
    text = _base64_text(secret)
    if text is None:
        return False
    user, sep, password = text.partition(":")
    return bool(sep and user) and text.isprintable() and not_placeholder(password)


def _jwt_claims(token: str) -> dict[str, object] | None:
    """The payload of a JWT ``header.payload.signature`` as a JSON object, or None."""
    import json

    parts = token.split(".")
    text = _base64_text(parts[1], urlsafe=True) if len(parts) == 3 else None
    if text is None:
        return None
    try:
        claims = json.loads(text)
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def supabase_service_role(secret: str) -> bool:
    """A Supabase API key JWT whose claims say ``role: service_role`` and ``iss: supabase``:
    the key that bypasses row-level security. Not the ``anon`` key (public by design), nor
    the self-hosting example's documented key (``iss: supabase-demo``)."""
    claims = _jwt_claims(secret)
    return claims is not None and (claims.get("role"), claims.get("iss")) == (
        "service_role",
        "supabase",
    )


# Amazon Bedrock API keys. A long-term key is ``ABSK`` + base64 of an IAM service-specific
# credential: ``<user>-at-<account>:<password>``, the user being the IAM user it belongs to
# (``BedrockAPIKey-<id>`` when the console made one for the key).
# A short-term key is ``bedrock-api-key-`` + base64 of a SigV4-presigned URL of the Bedrock
# control plane (``bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-...&Version=1``),
# signed by the key ID in its ``X-Amz-Credential``.
BEDROCK_LONG_TERM_PREFIX = "ABSK"
BEDROCK_SHORT_TERM_PREFIX = "bedrock-api-key-"
_BEDROCK_CREDENTIAL = re.compile(
    r"(?P<user>[A-Za-z0-9+=,.@_-]{1,64})-at-(?P<account>[0-9]{12}):[A-Za-z0-9+/]{20,200}={0,2}"
)
_BEDROCK_URL_START = "bedrock.amazonaws.com/?Action=CallWithBearerToken&"
_SIGNING_KEY = re.compile(r"[&?]X-Amz-Credential=([A-Z0-9]{20})(?:%2F|/)")
_SIGNATURE = re.compile(r"[&?]X-Amz-Signature=[0-9a-f]{64}(?:&|$)")


def _bedrock_owner(secret: str) -> tuple[str | None, str] | None:
    """The account (None: a short-term key signed with an old-style key ID, which encodes
    none) and the owner (the IAM user, or the signing key ID) of a Bedrock API key as AWS
    issues it; None for anything else."""
    if secret.startswith(BEDROCK_LONG_TERM_PREFIX):
        text = _base64_text(secret[len(BEDROCK_LONG_TERM_PREFIX) :], "ascii")
        long_term = None if text is None else _BEDROCK_CREDENTIAL.fullmatch(text)
        if long_term is None:
            return None
        return long_term.group("account"), f"IAM user {long_term.group('user')}"
    if not secret.startswith(BEDROCK_SHORT_TERM_PREFIX):
        return None
    url = _base64_text(secret[len(BEDROCK_SHORT_TERM_PREFIX) :], "ascii")
    if url is None or not url.startswith(_BEDROCK_URL_START) or not url.isprintable():
        return None
    signer = _SIGNING_KEY.search(url)
    if signer is None or _SIGNATURE.search(url) is None or " " in url:
        return None
    key_id = signer.group(1)
    return account_id_from_key_id(key_id), f"signed with access key {key_id}"


def bedrock_api_key(secret: str) -> bool:
    """An Amazon Bedrock API key that decodes to what AWS issues: a long-term key's IAM
    credential (user, account, password) or a short-term key's presigned URL."""
    return _bedrock_owner(secret) is not None


# A private key written as base64 of its DER encoding, without the PEM armour (an environment
# variable, a JSON value). DER is a tree of (tag, length, content) elements; a private key is a
# SEQUENCE whose first element is a version INTEGER, followed by what the format holds:
#   PKCS#8 (any algorithm): version 0 or 1, AlgorithmIdentifier (a SEQUENCE, OID first),
#                           OCTET STRING (the key)
#   PKCS#1 RSA, DSA:        version 0, five or more INTEGERs (n, e, d, p, q, ... or p, q, g, y, x)
#   SEC1 EC:                version 1, OCTET STRING (the private scalar), optional [0], [1]
# Certificates, public keys, CSRs and PKCS#7 start otherwise and are not keys; a PKCS#12 bundle
# (version 3) is der_encrypted_private_key's, below.
_SEQUENCE, _INTEGER, _OCTET_STRING, _OID = 0x30, 0x02, 0x04, 0x06
DerElement = tuple[int, int, int]  # tag, content start, content end


def _der_element(data: bytes, pos: int, end: int) -> DerElement | None:
    """The element at ``pos`` (tag, content start, content end) if its length is in DER's one
    minimal form and it ends by ``end``; None otherwise."""
    if pos + 2 > end:
        return None
    tag, first = data[pos], data[pos + 1]
    if first < 0x80:
        start, length = pos + 2, first
    else:
        size = first & 0x7F
        if not 1 <= size <= 3 or pos + 2 + size > end:
            return None
        start = pos + 2 + size
        length = int.from_bytes(data[pos + 2 : start], "big")
        if length < 0x80 or length >> (8 * (size - 1)) == 0:
            return None  # not the shortest form: no DER encoder writes it
    if start + length > end:
        return None
    return tag, start, start + length


def _der_children(data: bytes, start: int, end: int, limit: int = 12) -> list[DerElement] | None:
    """The first ``limit`` elements of a constructed element's content, or None when they do not
    parse (all of the content, when it has no more than ``limit``)."""
    children: list[DerElement] = []
    pos = start
    while pos < end and len(children) < limit:
        child = _der_element(data, pos, end)
        if child is None:
            return None
        children.append(child)
        pos = child[2]
    return children


def _der_sequence(secret: str) -> tuple[bytes, list[DerElement]] | None:
    """The bytes ``secret`` decodes from base64 and the elements of the SEQUENCE they hold,
    exactly and whole; None for anything else."""
    data = _base64_bytes(secret)
    if data is None:
        return None
    top = _der_element(data, 0, len(data))
    if top is None or top[0] != _SEQUENCE or top[2] != len(data):
        return None
    children = _der_children(data, top[1], top[2])
    return None if children is None else (data, children)


def _der_oid(data: bytes, element: DerElement) -> bytes | None:
    """The OID that a SEQUENCE ``element`` starts with (an AlgorithmIdentifier, a
    ContentInfo), as its DER content bytes; None when it starts otherwise."""
    if element[0] != _SEQUENCE:
        return None
    first = _der_children(data, element[1], element[2], limit=1)
    if not first or first[0][0] != _OID:
        return None
    return data[first[0][1] : first[0][2]]


def der_private_key(secret: str) -> bool:
    """Base64 that decodes, exactly and whole, to a DER private key: PKCS#8 (any algorithm),
    PKCS#1 RSA, DSA or SEC1 EC (the layouts above)."""
    parsed = _der_sequence(secret)
    if parsed is None or len(parsed[1]) < 2:
        return False
    data, children = parsed
    tag, start, end = children[0]
    if tag != _INTEGER or end - start != 1 or data[start] not in (0, 1):
        return False
    version, tags = data[start], [child[0] for child in children[1:]]
    if tags[0] == _SEQUENCE and len(tags) >= 2 and tags[1] == _OCTET_STRING:  # PKCS#8
        has_oid = _der_oid(data, children[1]) is not None
        return has_oid and children[2][2] > children[2][1]
    if version == 0:  # PKCS#1 RSA, DSA
        return len(tags) >= 5 and all(tag == _INTEGER for tag in tags[:5])
    scalar = children[1][2] - children[1][1]  # SEC1 EC
    return tags[0] == _OCTET_STRING and 16 <= scalar <= 72


# A private key under a password, in DER: an EncryptedPrivateKeyInfo (PKCS#8: the encryption
# scheme's AlgorithmIdentifier, then the encrypted key as an OCTET STRING), or a PKCS#12 bundle
# (.p12/.pfx: version 3, then a ContentInfo of PKCS#7 data or signedData).
_PASSWORD_SCHEMES = (
    bytes.fromhex("2a864886f70d0105"),  # PKCS#5: PBES1 (1.2.840.113549.1.5.x), PBES2 (.13)
    bytes.fromhex("2a864886f70d010c01"),  # PKCS#12 PBE (1.2.840.113549.1.12.1.x)
)
_PKCS7_CONTENT = (bytes.fromhex("2a864886f70d010701"), bytes.fromhex("2a864886f70d010702"))


def der_encrypted_private_key(secret: str) -> bool:
    """Base64 that decodes, exactly and whole, to a password-protected private key: a PKCS#8
    EncryptedPrivateKeyInfo, or a PKCS#12 bundle (the layouts above)."""
    parsed = _der_sequence(secret)
    if parsed is None or len(parsed[1]) < 2:
        return False
    data, children = parsed
    first, second = children[0], children[1]
    if first[0] == _SEQUENCE and len(children) == 2:  # EncryptedPrivateKeyInfo
        scheme = _der_oid(data, first)
        known = scheme is not None and scheme.startswith(_PASSWORD_SCHEMES)
        return known and second[0] == _OCTET_STRING and second[2] > second[1]
    is_v3 = first[0] == _INTEGER and data[first[1] : first[2]] == b"\x03"  # PKCS#12
    return is_v3 and _der_oid(data, second) in _PKCS7_CONTENT


CHECKS: dict[str, Callable[[str], bool]] = {
    "not-hex": not_hex,
    "mixed-case": mixed_case,
    "not-words": not_words,
    "not-repetitive": not_repetitive,
    "binary-token-shape": binary_token_shape,
    "aws-key-id-shape": aws_key_id_shape,
    "crc32-base62-suffix": crc32_base62_suffix,
    "not-placeholder": not_placeholder,
    "generic-secret-value": generic_secret_value,
    "basic-auth-base64": basic_auth_base64,
    "supabase-service-role": supabase_service_role,
    "bedrock-api-key": bedrock_api_key,
    "der-private-key": der_private_key,
    "der-encrypted-private-key": der_encrypted_private_key,
}


def aws_account_id(finding: Finding) -> Finding:
    """The AWS account id decoded offline from the key ID (None for old-style IDs)."""
    return replace(finding, account_id=account_id_from_key_id(finding.secret))


def bedrock_key_owner(finding: Finding) -> Finding:
    """Whose a Bedrock API key is, decoded offline: the account (named in a long-term key;
    from the signing key ID of a short-term one, None for an old-style ID) as ``account_id``,
    and a note naming the IAM user (long-term) or the signing access key (short-term)."""
    owner = _bedrock_owner(finding.secret)
    if owner is None:
        return finding
    account, who = owner
    return replace(finding, account_id=account, notes=(*finding.notes, who))


ENRICHMENTS: dict[str, Callable[[Finding], Finding]] = {
    "aws-account-id": aws_account_id,
    "bedrock-key-owner": bedrock_key_owner,
}
