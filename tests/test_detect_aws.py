"""AWS detection: every form people write credentials in, and every decoy that must stay quiet.

One parametrized table of (text, expected rule ids). Keys, secrets and tokens are generated at
run time (tests/support/keys.py), so nothing realistic is committed.
"""

from __future__ import annotations

import base64
import json
import random
import string
import urllib.parse
from dataclasses import dataclass

import pytest
from support.keys import hex_string, key_id, random_b64, secret_key, session_token

from scanner.detect import Detector
from scanner.models import Fragment
from scanner.rules import load_rules
from scanner.rules.aws_account import account_id_from_key_id
from scanner.rules.checks import not_words

ID = "aws-access-key-id"
SK = "aws-secret-access-key"
TOK = "aws-session-token"

K = key_id(1)
S = secret_key(1)
S_SLASH = secret_key(2, slash=True)
S_PLAIN = secret_key(3, plain=True)
KA = key_id(4, "ASIA")
T = session_token(1)
K2, S2 = key_id(5), secret_key(5)


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    expect: tuple[str, ...]
    path: str = "file.txt"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def pct(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def hexesc(text: str) -> str:
    return "".join(f"\\x{ord(c):02x}" for c in text)


def html_escaped(text: str) -> str:
    """``text`` as Go's html/template writes it into a page (``+`` is ``&#43;``), with ``/``
    as OWASP ESAPI writes it (``&#x2f;``)."""
    return text.replace("+", "&#43;").replace("/", "&#x2f;")


BUNDLE_FILLER = ";".join(f"var v{i}=function(a,b){{return a+b*{i}}}" for i in range(300))

FOUND: list[Case] = [
    Case("dotenv", f"AWS_ACCESS_KEY_ID={K}\nAWS_SECRET_ACCESS_KEY={S}\n", (ID, SK), ".env"),
    Case(
        "dotenv-local-export-quoted",
        f'export AWS_ACCESS_KEY_ID="{K}"\nexport AWS_SECRET_ACCESS_KEY="{S}"\n',
        (ID, SK),
        ".env.local",
    ),
    Case(
        "dotenv-production-spaces",
        f"AWS_ACCESS_KEY_ID = {K}\nAWS_SECRET_ACCESS_KEY = {S}\n",
        (ID, SK),
        ".env.production",
    ),
    Case(
        "envrc-single-quotes-comment",
        f"export AWS_SECRET_ACCESS_KEY='{S}' # prod\n",
        (SK,),
        ".envrc",
    ),
    Case(
        "dotenv-crlf", f"AWS_ACCESS_KEY_ID={K}\r\nAWS_SECRET_ACCESS_KEY={S}\r\n", (ID, SK), ".env"
    ),
    Case("commented-out", f"# AWS_SECRET_ACCESS_KEY={S}\n// aws_access_key_id: {K}\n", (ID, SK)),
    Case(
        "ini-profiles",
        f"[default]\naws_access_key_id = {K}\naws_secret_access_key = {S}\n\n"
        f"[prod]\naws_access_key_id={K2}\naws_secret_access_key={S2}\nregion=eu-west-1\n",
        (ID, SK, ID, SK),
        "credentials",
    ),
    Case(
        "shell-aws-configure", f"aws configure set aws_secret_access_key {S}\n", (SK,), "setup.sh"
    ),
    Case(
        "makefile",
        f"AWS_ACCESS_KEY_ID ?= {K}\nAWS_SECRET_ACCESS_KEY ?= {S}\n",
        (ID, SK),
        "Makefile",
    ),
    Case(
        "dockerfile-env",
        f"FROM python:3.11\nENV AWS_ACCESS_KEY_ID={K} AWS_SECRET_ACCESS_KEY={S}\n",
        (ID, SK),
        "Dockerfile",
    ),
    Case(
        "docker-compose",
        f"services:\n  app:\n    environment:\n      - AWS_ACCESS_KEY_ID={K}\n"
        f"      - AWS_SECRET_ACCESS_KEY={S}\n",
        (ID, SK),
        "docker-compose.yml",
    ),
    Case(
        "k8s-secret-data-base64",
        f"apiVersion: v1\nkind: Secret\ndata:\n  AWS_ACCESS_KEY_ID: {b64(K)}\n"
        f"  AWS_SECRET_ACCESS_KEY: {b64(S)}\n",
        (ID, SK),
        "secret.yaml",
    ),
    Case(
        "k8s-secret-only-secret-base64",
        f"kind: Secret\ndata:\n  aws_secret_access_key: {b64(S + chr(10))}\n",
        (SK,),
        "secret.yaml",
    ),
    Case(
        "k8s-secret-credentials-file-base64",
        "kind: Secret\ndata:\n  credentials: "
        + b64(f"[default]\naws_access_key_id = {K}\naws_secret_access_key = {S}\n")
        + "\n",
        (ID, SK),
        "secret.yaml",
    ),
    Case(
        "k8s-stringdata",
        f"kind: Secret\nstringData:\n  AWS_ACCESS_KEY_ID: {K}\n  AWS_SECRET_ACCESS_KEY: {S}\n",
        (ID, SK),
        "secret.yaml",
    ),
    Case(
        "terraform-provider",
        f'provider "aws" {{\n  region     = "us-east-1"\n  access_key = "{K}"\n'
        f'  secret_key = "{S}"\n}}\n',
        (ID, SK),
        "main.tf",
    ),
    Case(
        "terraform-provider-secret-only",
        f'provider "aws" {{\n  secret_key = "{S}"\n}}\n',
        (SK,),
        "main.tf",
    ),
    Case("tfvars", f'aws_access_key = "{K}"\naws_secret_key = "{S}"\n', (ID, SK), "prod.tfvars"),
    Case(
        "helm-values",
        f"aws:\n  accessKeyId: {K}\n  secretAccessKey: {S}\n",
        (ID, SK),
        "values.yaml",
    ),
    Case("helm-nested", f"aws:\n  credentials:\n    secret: {S}\n", (SK,), "values.yaml"),
    Case("ansible", f'aws_access_key: "{K}"\naws_secret_key: "{S}"\n', (ID, SK), "vars.yml"),
    Case(
        "github-actions",
        f"jobs:\n  deploy:\n    env:\n      AWS_ACCESS_KEY_ID: {K}\n"
        f"      AWS_SECRET_ACCESS_KEY: {S}\n",
        (ID, SK),
        ".github/workflows/deploy.yml",
    ),
    Case(
        "gitlab-ci",
        f'variables:\n  AWS_ACCESS_KEY_ID: "{K}"\n  AWS_SECRET_ACCESS_KEY: "{S}"\n',
        (ID, SK),
        ".gitlab-ci.yml",
    ),
    Case(
        "python-boto3",
        f'client = boto3.client("s3", aws_access_key_id="{K}", aws_secret_access_key="{S}")\n',
        (ID, SK),
        "app.py",
    ),
    Case(
        "javascript-sdk",
        f'const s3 = new AWS.S3({{accessKeyId: "{K}", secretAccessKey: "{S}"}});\n',
        (ID, SK),
        "app.js",
    ),
    Case("typescript", f'const secretAccessKey: string = "{S}";\n', (SK,), "config.ts"),
    Case(
        "go-static-credentials",
        f'creds := credentials.NewStaticCredentials("{K}", "{S}", "")\n',
        (ID, SK),
        "main.go",
    ),
    Case(
        "java-basic-credentials",
        f'AWSCredentials c = new BasicAWSCredentials("{K}", "{S}");\n',
        (ID, SK),
        "App.java",
    ),
    Case(
        "properties-aws-secretkey",
        f"aws.accessKeyId={K}\naws.secretKey={S}\n",
        (ID, SK),
        "app.properties",
    ),
    Case(
        "properties-spring",
        f"cloud.aws.credentials.secret-key={S}\n",
        (SK,),
        "application.properties",
    ),
    Case(
        "xml-hadoop",
        f"<property>\n  <name>fs.s3a.secret.key</name>\n  <value>{S}</value>\n</property>\n",
        (SK,),
        "core-site.xml",
    ),
    Case(
        "xml-elements",
        f"<accessKey>{K}</accessKey>\n<secretKey>{S}</secretKey>\n",
        (ID, SK),
        "settings.xml",
    ),
    Case(
        "json",
        json.dumps({"AccessKeyId": K, "SecretAccessKey": S}, indent=2),
        (ID, SK),
        "creds.json",
    ),
    Case(
        "json-slash-escaped",
        '{"aws_secret_access_key": "' + S_SLASH.replace("/", "\\/") + '"}',
        (SK,),
        "config.json",
    ),
    Case(
        "jupyter-cell-source",
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "source": ["import boto3\n", f'aws_secret_access_key = "{S}"\n'],
                        "outputs": [],
                    }
                ]
            }
        ),
        (SK,),
        "analysis.ipynb",
    ),
    Case(
        "jupyter-output",
        json.dumps({"outputs": [{"output_type": "stream", "text": [f"{K}\n", f"{S_SLASH}\n"]}]}),
        (ID, SK),
        "analysis.ipynb",
    ),
    Case(
        "markdown",
        f"## Setup\n\n```ini\naws_access_key_id = {K}\naws_secret_access_key = {S}\n```\n",
        (ID, SK),
        "README.md",
    ),
    Case(
        "minified-bundle",
        BUNDLE_FILLER + f';var cfg={{accessKeyId:"{K}",secretAccessKey:"{S}"}};' + BUNDLE_FILLER,
        (ID, SK),
        "bundle.min.js",
    ),
    Case(
        "url-awsaccesskeyid",
        f"https://bucket.s3.amazonaws.com/a.txt?AWSAccessKeyId={K}&Expires=1700000000"
        f"&Signature={pct(random_b64(1, 28))}",
        (ID,),
    ),
    Case(
        "url-x-amz-credential",
        f"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={K}"
        f"%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={hex_string(1, 64)}",
        (ID,),
    ),
    Case(
        "url-percent-encoded-secret",
        f"https://x.test/cb?aws_secret_access_key={pct(S_SLASH)}&x=1",
        (SK,),
    ),
    Case("url-userinfo", f"s3://{K}:{S_PLAIN}@my-bucket/path\n", (ID, SK)),
    Case("url-userinfo-percent", f"s3://{K}:{pct(S_SLASH)}@my-bucket/path\n", (ID, SK)),
    Case("secret-near-key-without-keyword", f"id: {K}\nvalue: {S}\n", (ID, SK), "notes.txt"),
    Case(
        "session-credentials",
        f"aws_access_key_id={KA}\naws_secret_access_key={S}\naws_session_token={T}\n",
        (ID, SK, TOK),
        "credentials",
    ),
    Case("security-token-legacy", f"export AWS_SECURITY_TOKEN={T}\n", (TOK,), ".env"),
    Case(
        "sts-json-output",
        json.dumps(
            {
                "Credentials": {
                    "AccessKeyId": KA,
                    "SecretAccessKey": S,
                    "SessionToken": T,
                    "Expiration": "2024-01-01T00:00:00Z",
                }
            },
            indent=4,
        ),
        (ID, SK, TOK),
        "sts.json",
    ),
    Case(
        "presigned-url-security-token",
        f"https://b.s3.amazonaws.com/k?X-Amz-Credential={KA}%2F20240101%2Fus-east-1%2Fs3"
        f"%2Faws4_request&X-Amz-Security-Token={pct(T + '/+==')}&X-Amz-Date=20240101T000000Z",
        (ID, TOK),
    ),
    Case(
        "iam-console-csv",
        f"User name,Password,Access key ID,Secret access key,Console login link\n"
        f"deploy,,{K},{S},https://123456789012.signin.aws.amazon.com/console\n",
        (ID, SK),
        "deploy_credentials.csv",
    ),
    Case(
        "iam-accesskeys-csv", f"Access key ID,Secret access key\r\n{K},{S}\r\n", (ID, SK), "a.csv"
    ),
    Case(
        "powershell",
        f"Set-AWSCredential -AccessKey {K} -SecretKey {S} -StoreAs default\n",
        (ID, SK),
        "setup.ps1",
    ),
    Case(
        "php-array",
        f"'credentials' => [\n    'key'    => '{K}',\n    'secret' => '{S}',\n],\n",
        (ID, SK),
        "config.php",
    ),
    Case("ruby", f"Aws::Credentials.new('{K}', '{S}')\n", (ID, SK), "aws.rb"),
    Case("csharp", f'var c = new BasicAWSCredentials("{K}", "{S}");\n', (ID, SK), "Program.cs"),
    Case(
        "s3cfg",
        f"[default]\naccess_key = {K}\nhost_base = s3.amazonaws.com\nsecret_key = {S}\n",
        (ID, SK),
        ".s3cfg",
    ),
    Case("rclone", f"[s3]\ntype = s3\nsecret_access_key = {S}\n", (SK,), "rclone.conf"),
    Case("yaml-folded", f"aws_secret_access_key: >-\n  {S}\n", (SK,), "vars.yml"),
    Case(
        "json-unicode-escaped-slash",
        '{"AWS_SECRET_ACCESS_KEY": "' + S_SLASH.replace("/", "\\u002f") + '"}',
        (SK,),
        "x.json",
    ),
    Case(
        "aws-cli-flags",
        f"aws configure --profile ci --aws-access-key-id {K} --aws-secret-access-key {S}\n",
        (ID, SK),
        "ci.sh",
    ),
    Case("abia-and-acca", f"a = {key_id(7, 'ABIA')}\nb = {key_id(8, 'ACCA')}\n", (ID, ID)),
    Case("key-id-in-json-newline-escape", '{"text": "key\\n' + K + '\\n"}', (ID,), "out.json"),
]

SILENT: list[Case] = [
    Case(
        "aws-doc-examples",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        (),
    ),
    Case("ends-with-example", f"AWS_ACCESS_KEY_ID={K[:13]}EXAMPLE\n", ()),
    Case("secret-ends-with-examplekey", f"AWS_SECRET_ACCESS_KEY={S[:30]}EXAMPLEKEY\n", ()),
    Case("placeholder-x", "aws_access_key_id = AKIAXXXXXXXXXXXXXXXX\n", ()),
    Case("placeholder-env-ref", "AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}\n", ()),
    Case("placeholder-angle", "aws_secret_access_key = <your-secret-key>\n", ()),
    Case("placeholder-your-secret-here", "aws_secret_access_key: your-secret-here\n", ()),
    Case("placeholder-changeme", "AWS_SECRET_ACCESS_KEY=changeme\n", ()),
    Case(
        "placeholder-gha-secret",
        "AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n",
        (),
    ),
    Case("placeholder-terraform-var", "secret_key = var.aws_secret_key\n", ()),
    Case("patterned-test", "aws_access_key_id = AKIATESTTESTTESTTEST\n", ()),
    Case("patterned-repeat", "aws_access_key_id = AKIAAAAAAAAAAAAAAAAA\n", ()),
    Case("patterned-abcd", "aws_access_key_id = AKIAABCDABCDABCDABCD\n", ()),
    Case(
        "arn",
        "role_arn = arn:aws:iam::123456789012:role/service-role/AWSLambdaBasicExecution\n",
        (),
    ),
    Case("account-id", "aws_account_id = 123456789012\n", ()),
    Case("uuid", "aws_secret = 3f2504e0-4f89-11d3-9a0c-0305e82c3301\n", ()),
    Case("sha1-with-context", f"aws_secret_access_key = {hex_string(1, 40)}\n", ()),
    Case("sha1-upper-with-context", f"aws_secret_access_key = {hex_string(2, 40).upper()}\n", ()),
    Case(
        "git-commit-near-key",
        f"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\ncommit {hex_string(3, 40)}\n",
        (),
    ),
    Case("sha256-with-context", f"aws_secret_sha256 = {hex_string(4, 64)}\n", ()),
    Case(
        "base64-image",
        f"aws logo: data:image/png;base64,{random_b64(2, 3000)}==\n",
        (),
        "page.html",
    ),
    Case("random-identifier-no-context", f"request_id = {S}\netag: {S2}\n", (), "log.txt"),
    Case("random-identifier-far-from-key", f"key = {K}\n\n\n\n\n\n\nblob = {S}\n", (ID,), "x.txt"),
    *[
        Case(f"iam-unique-id-{prefix.lower()}", f"UserId: {prefix}{key_id(9)[4:]}\n", ())
        for prefix in ("AIDA", "AROA", "AGPA", "AIPA", "ANPA", "ANVA", "APKA", "ASCA")
    ],
    Case("key-id-lowercase", f"aws_access_key_id = {K.lower()}\n", ()),
    Case("key-id-bad-base32", "aws_access_key_id = AKIA" + "Q0189" + K[9:] + "\n", ()),
    Case("key-id-inside-longer-token", f"x = X{K}\ny = {K}Z\n", ()),
    Case("secret-41-chars", f"aws_secret_access_key = {S}Q\n", ()),
    Case("secret-39-chars", f"aws_secret_access_key = {S[:39]}\n", ()),
    Case("secret-no-uppercase", f"aws_secret_access_key = {S.lower()}\n", ()),
    *[  # English placeholders of 40 characters: entropy above the floor, mixed case
        Case(f"secret-spelled-out-{i}", f"aws_secret_access_key: {text}\n", ())
        for i, text in enumerate(
            ("PutYourAwsSecretAccessKeyRightHereNow123", "ThisIsNotARealSecretKeyJustAPlaceholder1")
        )
    ],
    *[  # typed sequences: every character distinct, so the entropy floor lets them through
        Case(f"secret-alphabet-sequence-{i}", f'aws_secret_access_key = "{text}"\n', ())
        for i, text in enumerate(
            (
                string.ascii_uppercase + string.ascii_lowercase[:14],
                string.ascii_lowercase + string.digits + "ABCD",
                string.digits + "abcdefghij" + "ABCDEFGHIJ" + string.digits,
            )
        )
    ],
    Case("session-token-placeholder", "AWS_SESSION_TOKEN=${AWS_SESSION_TOKEN}\n", ()),
    Case("session-token-too-short", f"aws_session_token = {random_b64(3, 80)}\n", ()),
    Case("long-base64-no-token-context", f"thumbnail = {random_b64(4, 600)}\n", ()),
    Case("inline-keysweep-allow", f"AWS_SECRET_ACCESS_KEY={S}  # keysweep:allow\n", ()),
    Case("inline-gitleaks-allow", f"AWS_ACCESS_KEY_ID={K} # gitleaks:allow\n", ()),
    Case("inline-pragma", f"aws_secret_access_key = '{S}'  # pragma: allowlist secret\n", ()),
    Case("cloudformation-ref", "AwsSecretAccessKey: !Ref SecretAccessKeyParameter\n", ()),
    Case("go-sum-hashes", f"github.com/aws/aws-sdk-go v1.44.0 h1:{random_b64(5, 43)}=\n", ()),
    Case(
        "npm-integrity-near-aws",
        f'"aws-sdk": {{"integrity": "sha512-{random_b64(6, 86)}=="}}\n',
        (),
        "package-lock.json",
    ),
    Case("key-id-in-path-segment", f"s3://bucket/{K}X/object\n", ()),
    Case("empty", "", ()),
]


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_rules())


@pytest.mark.parametrize("case", FOUND + SILENT, ids=lambda c: c.name)
def test_detection_table(detector: Detector, case: Case) -> None:
    findings = detector.scan(Fragment.from_text(case.text, case.path))
    assert sorted(f.rule_id for f in findings) == sorted(case.expect)
    if case.expect:
        assert detector.wants(case.text.encode())


@pytest.mark.parametrize("case", [c for c in SILENT if not c.expect], ids=lambda c: c.name)
def test_decoys_stay_silent_in_every_context(detector: Detector, case: Case) -> None:
    """A decoy inside a JSON document or a YAML block must not turn into a finding either."""
    for wrapped in (
        json.dumps({"value": case.text}),
        "config:\n  " + case.text.replace("\n", "\n  "),
    ):
        assert [f.rule_id for f in detector.scan(Fragment.from_text(wrapped, "w.txt"))] == []


def test_pairing_nearest_first(detector: Detector) -> None:
    text = (
        f"[a]\naws_access_key_id = {K}\naws_secret_access_key = {S}\n"
        f"[b]\naws_access_key_id = {K2}\naws_secret_access_key = {S2}\n"
    )
    findings = detector.scan(Fragment.from_text(text, "credentials"))
    ids = [f for f in findings if f.rule_id == ID]
    assert [f.secret for f in ids] == [K, K2]
    first, second = ids
    # each INI section is a block: a secret of section [a] is never offered to [b]'s key ID
    assert [p.secret for p in first.paired] == [S]
    assert [p.secret for p in second.paired] == [S2]
    assert first.paired[0].kind == "secret_access_key"
    assert first.paired[0].distance == 1
    assert first.paired[0].line == 3
    assert first.paired[0].rule_id == SK


def test_session_credentials_pair_with_asia_key(detector: Detector) -> None:
    text = f"aws_access_key_id={KA}\naws_secret_access_key={S}\naws_session_token={T}\n"
    (key,) = [f for f in detector.scan(Fragment.from_text(text)) if f.rule_id == ID]
    assert [(p.kind, p.secret) for p in key.paired] == [
        ("secret_access_key", S),
        ("session_token", T),
    ]


def test_account_id_enrichment(detector: Detector) -> None:
    old_style = key_id(10, new_style=False)
    text = f"a={K}\nb={old_style}\n"
    findings = detector.scan(Fragment.from_text(text))
    assert findings[0].account_id is not None and len(findings[0].account_id) == 12
    assert findings[1].secret == old_style and findings[1].account_id is None


def test_encoded_findings_point_at_the_encoded_text(detector: Detector) -> None:
    encoded = b64(S)
    text = f"kind: Secret\ndata:\n  AWS_SECRET_ACCESS_KEY: {encoded}\n"
    (finding,) = detector.scan(Fragment.from_text(text, "s.yaml"))
    assert finding.secret == S
    assert finding.encoding == "base64"
    assert (finding.line, finding.column) == (3, 26)
    assert (finding.end_line, finding.end_column) == (3, 26 + len(encoded))


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (f"aws_secret_access_key={pct(S_SLASH)}", "percent"),
        ('{"aws_secret_access_key":"' + S_SLASH.replace("/", "\\/") + '"}', "json-escape"),
        (f"AWS_SECRET_ACCESS_KEY: {b64(S)}", "base64"),
        (
            "creds: " + b64('{"aws_secret_access_key": "' + S_SLASH.replace("/", "\\/") + '"}'),
            "base64+json-escape",
        ),
        (f'aws_secret_access_key = "{hexesc(S)}"', "hex-escape"),
        (
            f"<td>aws_secret_access_key</td><td>{html_escaped(S_SLASH)}</td>",
            "html-entity",
        ),
    ],
    ids=["percent", "json-escape", "base64", "nested", "hex-escape", "html-entity"],
)
def test_encoding_is_reported(detector: Detector, text: str, encoding: str) -> None:
    findings = [f for f in detector.scan(Fragment.from_text(text)) if f.rule_id == SK]
    assert [(f.secret in (S, S_SLASH), f.encoding) for f in findings] == [(True, encoding)]


@pytest.mark.parametrize("hyperscan", [True, False], ids=["hyperscan", "re2"])
def test_a_key_in_obfuscated_javascript_is_found(hyperscan: bool) -> None:
    """javascript-obfuscator writes every string one \\x escape a character: no keyword is
    left in the text but the escaped forms of the rules' own (\\x41\\x4b\\x49\\x41)."""
    if hyperscan:
        pytest.importorskip("hyperscan")
    detector = Detector(load_rules(), use_hyperscan=hyperscan)
    upper_hex = hexesc(S).upper().replace("\\X", "\\x")  # \\x4B as well as \\x4b
    text = f"var _0x3f2a=['{hexesc(K)}','{upper_hex}','s3'];"
    found = detector.scan(Fragment.from_text(text, "app.min.js"))
    assert {(f.rule_id, f.secret, f.encoding) for f in found} == {
        (ID, K, "hex-escape"),
        (SK, S, "hex-escape"),
    }


@pytest.mark.parametrize("hyperscan", [True, False], ids=["hyperscan", "re2"])
def test_a_key_in_an_html_page_is_found(hyperscan: bool) -> None:
    """A key written in numeric character references: in part (what HTML encoders make of
    ``/`` and ``+``, the key ID beside it to pair with) or whole (``&#65;&#75;...``, a page
    that hides it from scrapers, no keyword left in the text but the escaped forms)."""
    if hyperscan:
        pytest.importorskip("hyperscan")
    detector = Detector(load_rules(), use_hyperscan=hyperscan)
    secret = S_SLASH  # holds a "/" and a "+"
    page = (
        "<table><tr><th>Access key ID</th><td>" + K + "</td></tr>\n"
        "<tr><th>Secret access key</th><td>" + html_escaped(secret) + "</td></tr></table>\n"
    )
    found = detector.scan(Fragment.from_text(page, "credentials.html"))
    assert [(f.rule_id, f.secret, f.encoding) for f in found] == [
        (ID, K, None),
        (SK, secret, "html-entity"),
    ]
    assert [p.secret for p in found[0].paired] == [secret]
    encoded = html_escaped(secret)
    column = page.splitlines()[1].index(encoded) + 1
    assert (found[1].line, found[1].column, found[1].end_column) == (
        2,
        column,
        column + len(encoded),
    )
    decimal = "".join(f"&#{ord(c)};" for c in K)
    upper_hex = "".join(f"&#x{ord(c):02X};" for c in S)
    hidden = f'<span data-k="{decimal}" data-s="{upper_hex}"></span>'
    found = detector.scan(Fragment.from_text(hidden, "index.html"))
    assert {(f.rule_id, f.secret, f.encoding) for f in found} == {
        (ID, K, "html-entity"),
        (SK, S, "html-entity"),
    }


def test_plain_finding_is_not_duplicated_by_decoding(detector: Detector) -> None:
    text = f"X-Amz-Credential={K}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
    findings = detector.scan(Fragment.from_text(text))
    assert [(f.rule_id, f.encoding) for f in findings] == [(ID, None)]


def test_line_and_column_are_one_based_characters(detector: Detector) -> None:
    text = f"# héllo wörld\n  clé = «{K}»\n"
    (finding,) = detector.scan(Fragment.from_text(text))
    assert (finding.line, finding.column) == (2, 10)
    assert (finding.end_line, finding.end_column) == (2, 30)
    assert finding.path == "<text>"


# -- the last few percent (issue 12, step 6) -------------------------------------------------
FILLER = "".join(f"LOG_LEVEL_{i}=info\n" for i in range(90))


@pytest.mark.parametrize(
    ("text", "paired"),
    [
        # an environment dump: ID, secret and token 90 and 120 lines apart, each alone
        (
            f"AWS_ACCESS_KEY_ID={KA}\n{FILLER}AWS_SECRET_ACCESS_KEY={S}\n{FILLER[:900]}"
            f"AWS_SESSION_TOKEN={T}\n",
            [("secret_access_key", S), ("session_token", T)],
        ),
        # a multi-line dict literal: the secret 12 lines below its key ID
        (
            "creds = {\n"
            f'    "aws_access_key_id": "{K}",\n'
            + "".join(f'    "option_{i}": {i},\n' for i in range(12))
            + f'    "aws_secret_access_key": "{S}",\n}}\n',
            [("secret_access_key", S)],
        ),
        # two key IDs: no guessing at a distance
        (
            f"AWS_ACCESS_KEY_ID={K}\n{FILLER}AWS_SECRET_ACCESS_KEY={S}\nBACKUP_KEY_ID={K2}\n",
            [],
        ),
    ],
    ids=["env-dump", "dict-literal", "two-ids"],
)
def test_lone_key_id_and_secret_pair_at_any_distance(
    detector: Detector, text: str, paired: list[tuple[str, str]]
) -> None:
    key = next(f for f in detector.scan(Fragment.from_text(text)) if f.rule_id == ID)
    assert [(p.kind, p.secret) for p in key.paired] == paired


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (  # a Postman collection's awsv4 auth: key/value pairs
            '"auth": {"type": "awsv4", "awsv4": [\n'
            f'  {{"key": "accessKey", "value": "{K}", "type": "string"}},\n'
            f'  {{"key": "secretKey", "value": "{S}", "type": "string"}}]}}',
            [(ID, K), (SK, S)],
        ),
        (  # an SDK constructor: the token is the third positional argument
            f'session = boto3.Session("{KA}", "{S}", "{T}")',
            [(ID, KA), (SK, S), (TOK, T)],
        ),
        (  # the same, one argument a line (.NET's SessionAWSCredentials, Java's create)
            f'var c = new SessionAWSCredentials(\n    "{KA}",\n    "{S}",\n    "{T}");',
            [(ID, KA), (SK, S), (TOK, T)],
        ),
        (  # the instance-metadata credentials document
            "{\n"
            f'  "AccessKeyId" : "{KA}",\n  "SecretAccessKey" : "{S}",\n  "Token" : "{T}",\n'
            '  "Expiration" : "2024-01-01T06:00:00Z"\n}',
            [(ID, KA), (SK, S), (TOK, T)],
        ),
    ],
    ids=["postman-awsv4", "sdk-positional-token", "sdk-positional-token-multiline", "imds-json"],
)
def test_aws_forms_without_keywords(
    detector: Detector, text: str, expect: list[tuple[str, str]]
) -> None:
    findings = detector.scan(Fragment.from_text(text, "export.json"))
    assert sorted((f.rule_id, f.secret) for f in findings) == sorted(expect)
    key = next(f for f in findings if f.rule_id == ID)
    assert {p.secret for p in key.paired} == {v for r, v in expect if r != ID}


def test_jwt_session_token_is_reported_whole(detector: Detector) -> None:
    def part(seed: int, n: int) -> str:
        return random_b64(seed, n).replace("+", "-").replace("/", "_")

    jwt = f"eyJ{part(1, 30)}.eyJ{part(2, 240)}.{part(3, 86)}"
    text = f"AWS_ACCESS_KEY_ID={KA}\nAWS_SECRET_ACCESS_KEY={S}\nAWS_SESSION_TOKEN={jwt}\n"
    findings = detector.scan(Fragment.from_text(text))
    assert [f.secret for f in findings if f.rule_id == TOK] == [jwt]
    key = next(f for f in findings if f.rule_id == ID)
    assert ("session_token", jwt) in [(p.kind, p.secret) for p in key.paired]


def test_a_real_shaped_session_token_with_runs_is_found(detector: Detector) -> None:
    """Real STS tokens encode bytes 0xFF as a run of "/" near their start; the token rule's
    check refused any run of six, so every such token (localstack's recorded snapshots hold
    twenty) was missed, or reported by the generic rule cut to 200 characters."""
    token = "IQoJb3JpZ2luX2VjEMv" + "/" * 10 + "wEaCXVzLWVhc3QtMSJH" + random_b64(9, 860)
    text = (
        "{\n"
        f'  "AWS_ACCESS_KEY_ID": "{KA}",\n'
        f'  "AWS_SECRET_ACCESS_KEY": "{S}",\n'
        f'  "AWS_SESSION_TOKEN": "{token}"\n'
        "}\n"
    )
    findings = detector.scan(Fragment.from_text(text, "test_lambda.snapshot.json"))
    assert [(f.rule_id, f.secret) for f in findings if f.rule_id == TOK] == [(TOK, token)]
    key = next(f for f in findings if f.rule_id == ID)
    assert ("session_token", token) in [(p.kind, p.secret) for p in key.paired]


@pytest.mark.parametrize("wraps", [1, 2])
@pytest.mark.parametrize("minimum", ["low", "medium"])
def test_kubernetes_secret_reports_the_decoded_session_token(minimum: str, wraps: int) -> None:
    """A base64-wrapped STS token is itself base64-shaped, so the token rule matched both the
    wrapping and the token: the wrapping was reported and paired, and --verify would have
    sent it to STS. The decoded reading of the same rule wins, and a reading of the wrapping
    by another rule (the generic one, at the default confidence) is the wrapping too. Wrapped
    twice, the token reading of the outer span is the inner wrapping: the deeper one wins."""
    detector = Detector(load_rules().at_least(minimum), min_confidence=minimum)
    token = session_token(2, 436)

    def wrap(value: str) -> str:
        for _ in range(wraps):
            value = base64.b64encode(value.encode()).decode()
        return value

    text = (
        "kind: Secret\ndata:\n"
        f"  AWS_ACCESS_KEY_ID: {wrap(KA)}\n"
        f"  AWS_SECRET_ACCESS_KEY: {wrap(S)}\n"
        f"  AWS_SESSION_TOKEN: {wrap(token)}\n"
    )
    findings = detector.scan(Fragment.from_text(text, "secret.yaml"))
    layers = "+".join(["base64"] * wraps)
    assert sorted((f.rule_id, f.secret, f.encoding) for f in findings) == sorted(
        [(ID, KA, layers), (SK, S, layers), (TOK, token, layers)]
    )
    key = next(f for f in findings if f.rule_id == ID)
    assert {(p.kind, p.secret) for p in key.paired} == {
        ("secret_access_key", S),
        ("session_token", token),
    }


def test_a_credentials_file_in_base64_is_not_also_a_generic_password() -> None:
    """`credentials: <base64 of ~/.aws/credentials>`: the generic rule read the base64 value
    after the secret-named key as a password; the decoded text holds the three secrets, which
    are the findings (a plain reading inside an encoded span, by a rule no surer than a
    decoded finding there, reads the encoding)."""
    detector = Detector(load_rules().at_least("medium"), min_confidence="medium")
    token = session_token(3)
    wrapped = base64.b64encode(
        f"[default]\naws_access_key_id={KA}\naws_secret_access_key={S}\n"
        f"aws_session_token={token}\n".encode()
    ).decode()
    text = f"kind: Secret\ndata:\n  credentials: {wrapped}\n"
    findings = detector.scan(Fragment.from_text(text, "secret.yaml"))
    assert sorted((f.rule_id, f.secret, f.encoding) for f in findings) == sorted(
        [(ID, KA, "base64"), (SK, S, "base64"), (TOK, token, "base64")]
    )


@pytest.mark.parametrize("wraps", [1, 2], ids=["base64", "base64-x2"])
def test_jwt_session_token_inside_base64_is_reported_whole(detector: Detector, wraps: int) -> None:
    """A Kubernetes Secret's data holds the token base64-encoded: the decoder decodes the
    JWT's claims too (for secrets inside them), and keeps a reading with the JWT whole,
    which is the token. It used to be missed: only the decoded claims were scanned."""

    def part(seed: int, n: int) -> str:
        return random_b64(seed, n).replace("+", "-").replace("/", "_")

    def encoded(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    # MinIO's STS: readable claims, so the decoder decodes them
    claims = {"accessKey": part(5, 20).upper(), "exp": 1700003600, "parent": "minio-admin"}
    jwt = f"{encoded({'alg': 'HS512', 'typ': 'JWT'})}.{encoded(claims)}.{part(7, 86)}"
    value = jwt
    for _ in range(wraps):
        value = base64.b64encode(value.encode()).decode()
    text = f"kind: Secret\ndata:\n  AWS_SESSION_TOKEN: {value}\n"
    (found,) = [f for f in detector.scan(Fragment.from_text(text)) if f.rule_id == TOK]
    assert found.secret == jwt
    assert found.encoding == "+".join(["base64"] * wraps)
    assert (found.line, found.column) == (3, text.splitlines()[2].index(value) + 1)


def test_s3cmd_config_secret_far_below_its_key_id(detector: Detector) -> None:
    """`s3cmd --configure` writes its options in alphabetical order: secret_key some 60 lines
    below access_key, with no AWS word near it; the file name is the context."""
    options = "".join(f"option_{i} = False\n" for i in range(60))
    text = f"[default]\naccess_key = {K}\n{options}secret_key = {S}\nsend_chunk = 65536\n"
    findings = detector.scan(Fragment.from_text(text, "home/.s3cfg"))
    assert sorted((f.rule_id, f.secret) for f in findings) == [
        (ID, K),
        ("aws-secret-access-key-s3cfg", S),
    ]
    key = next(f for f in findings if f.rule_id == ID)
    assert [(p.kind, p.secret) for p in key.paired] == [("secret_access_key", S)]
    elsewhere = detector.scan(Fragment.from_text(text, "settings.ini"))
    assert "aws-secret-access-key-s3cfg" not in {f.rule_id for f in elsewhere}


def test_percent_encoded_token_is_one_finding(detector: Detector) -> None:
    """A presigned URL's X-Amz-Security-Token: a run of 100+ plain characters between two
    escapes is a piece of the encoded token, not a second (truncated) token."""
    body = T.replace("/", "A").replace("+", "B")
    token = body[:20] + "/" + body[21:180] + "+" + body[181:]
    url = (
        "https://b.s3.amazonaws.com/o?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={KA}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
        f"&X-Amz-Security-Token={pct(token)}&X-Amz-Signature={hex_string(7, 64)}\n"
    )
    findings = detector.scan(Fragment.from_text(url, "url.txt"))
    tokens = [(f.secret, f.encoding) for f in findings if f.rule_id == TOK]
    assert tokens == [(token, "percent")]


# ----------------------------------------------------------------------- Amazon Bedrock keys

BEDROCK = "aws-bedrock-api-key"
BEDROCK_SHORT = "aws-bedrock-short-term-api-key"


def bedrock_long_term(account: str, user: str = "BedrockAPIKey-x7q2") -> str:
    """``ABSK`` + base64 of an IAM service-specific credential, as IAM issues it."""
    credential = f"{user}-at-{account}:{random_b64(20, 44)}"
    return "ABSK" + b64(credential)


def bedrock_short_term(signer: str, *, token: str | None = T) -> str:
    """``bedrock-api-key-`` + base64 of a presigned CallWithBearerToken URL."""
    security = f"&X-Amz-Security-Token={pct(token)}" if token else ""
    url = (
        "bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={signer}%2F20260101%2Fus-east-1%2Fbedrock%2Faws4_request"
        f"&X-Amz-Date=20260101T000000Z&X-Amz-Expires=43200{security}"
        f"&X-Amz-SignedHeaders=host&X-Amz-Signature={hex_string(21, 64)}&Version=1"
    )
    return "bedrock-api-key-" + b64(url)


@pytest.mark.parametrize("user", ["BedrockAPIKey-x7q2", "ci.bedrock@team-a"])
def test_bedrock_long_term_key_names_its_account_and_user(detector: Detector, user: str) -> None:
    key = bedrock_long_term("123456789012", user)
    text = f"AWS_BEARER_TOKEN_BEDROCK={key}\n"
    (finding,) = detector.scan(Fragment.from_text(text, ".env"))
    assert (finding.rule_id, finding.secret, finding.confidence) == (BEDROCK, key, "high")
    assert finding.account_id == "123456789012"
    assert finding.notes == (f"IAM user {user}",)


@pytest.mark.parametrize(
    "credential",
    [
        "BedrockAPIKey-test-key-1234567890abcdefghijklmnopqrstuvwxyz",  # names no account
        "BedrockAPIKey-x7q2-at-12345:" + "A" * 44,  # not a 12-digit account
        "BedrockAPIKey x7q2-at-123456789012:" + "A" * 44,  # no IAM user name has a space
        "BedrockAPIKey-x7q2-at-123456789012",  # no password
    ],
)
def test_bedrock_long_term_shape_without_a_credential_is_silent(
    detector: Detector, credential: str
) -> None:
    text = f'key = "ABSK{b64(credential)}"\n'
    assert detector.scan(Fragment.from_text(text)) == []


def test_bedrock_short_term_key_is_one_finding(detector: Detector) -> None:
    """The key ID that signed it and its session token are inside the key (base64 of a
    percent-encoded URL): parts of that one secret, not findings of their own."""
    signer = key_id(22, "ASIA")
    key = bedrock_short_term(signer)
    (finding,) = detector.scan(Fragment.from_text(f"export AWS_BEARER_TOKEN_BEDROCK={key}\n"))
    assert (finding.rule_id, finding.secret) == (BEDROCK_SHORT, key)
    assert finding.account_id == account_id_from_key_id(signer) is not None
    assert finding.notes == (f"signed with access key {signer}",)
    old_style = bedrock_short_term(key_id(23, "AKIA", new_style=False), token=None)
    (finding,) = detector.scan(Fragment.from_text(f"token: {old_style}\n"))
    assert finding.rule_id == BEDROCK_SHORT and finding.account_id is None


def test_bedrock_short_term_prefix_without_a_presigned_url_is_silent(detector: Detector) -> None:
    head = bedrock_short_term(key_id(24, "ASIA"))[:120]  # the URL's start, then no signature
    text = f"token = {head}{random_b64(25, 300)}\n"
    assert [f.rule_id for f in detector.scan(Fragment.from_text(text))] == []


def test_a_name_forty_letters_long_is_no_secret(detector: Detector) -> None:
    """A YAML key of a serverless.yml (aws/serverless examples), 40 letters in words, next to
    AWS::SSM types: the secret rule's context holds, the value is a name."""
    text = (
        "    StackeryEnvConfiggithubSecretAsString:\n"
        "      Type: AWS::SSM::Parameter::Value<String>\n"
        "    StackeryEnvConfigslackWebhookURLAsString:\n"
        "      Type: AWS::SSM::Parameter::Value<String>\n"
    )
    assert detector.scan(Fragment.from_text(text, "serverless.yml")) == []


def test_random_secrets_are_seldom_read_as_words() -> None:
    """``not-words`` reads letters only: random secrets hold a digit, "+" or "/" but once in
    4,000, and of those letters-only ones it drops about one in a hundred."""
    rng = random.Random(20261203)
    letters = string.ascii_letters
    dropped = sum(
        not not_words("".join(rng.choice(letters) for _ in range(40))) for _ in range(5000)
    )
    assert dropped < 100
    assert all(not_words(secret_key(i)) for i in range(200))
