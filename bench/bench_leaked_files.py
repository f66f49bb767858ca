# ruff: noqa: E501  (the corpus below is data: one case per entry, its text on one line)
"""Benchmark: commonly leaked files and formats, keysweep against its peers, from nothing.

Generates (at run time, from --seed; nothing realistic is ever committed) a labelled corpus
under bench/work/leaked-files/corpus: one file per case, each named as the real file would be
(.env, .netrc, .pgpass, .git-credentials, ~/.docker/config.json, .npmrc, .pypirc, Maven
settings.xml, FileZilla/WinSCP configs, Rails/Django/Laravel secrets, shell dotfiles, private
keys in every container, provider tokens, database URIs, ...), with the credential *type* it
holds; and decoys of every kind (placeholders and references, example keys, public keys and
certificates, lock-file hashes, UUIDs, commit ids, template expressions, ...) that must not be
reported. Values come from scanner.rules.templates' generators (templates such as {{alnum:32}} and
{{token_crc:ghp}} expand with a per-case seed).

Scoring is per file, as a user sees it: a file holding a secret counts as found when the tool
reports anything in it; a decoy file counts as flagged when the tool reports anything in it.
Every tool runs with its default rules and settings, in the same run:

- keysweep: ``keysweep scan DIR --format json --all-files`` (default --min-confidence), and
  again with ``--min-confidence low`` (row ``keysweep-low``);
- gitleaks: ``gitleaks dir DIR -f json -r OUT``; betterleaks: ``betterleaks DIR -s -o OUT.json``;
- kingfisher: ``kingfisher scan DIR --no-validate -f json``;
- detect-secrets: ``detect-secrets scan DIR --all-files``.

A missing tool is reported and skipped. Nothing here talks to the network (every peer's
validation is off).

    python bench/bench_leaked_files.py
    python bench/bench_leaked_files.py --tools keysweep,kingfisher --verbose
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from scanner.rules.templates import expand_template

BENCH_DIR = Path(__file__).resolve().parent
WORK = BENCH_DIR / "work" / "leaked-files"
CORPUS = WORK / "corpus"
REPORTS = WORK / "reports"
NL = "\\n"  # a literal backslash-n, as a PEM key is written inside JSON or code strings


@dataclass(frozen=True)
class Case:
    path: str  # relative to the corpus
    kind: str  # credential type, or "decoy:<what>"
    text: str  # with templates
    # a file inside the file (a Kubernetes Secret's data): with templates, base64-encoded where
    # ``text`` says @INNER@
    inner: str = ""

    @property
    def decoy(self) -> bool:
        return self.kind.startswith("decoy:")


def _pem(label: str, lines: int = 6, sep: str = "\n") -> str:
    body = sep.join("{{base64:64}}" for _ in range(lines))
    return f"-----BEGIN {label}-----{sep}{body}{sep}{{{{base64:40}}}}=={sep}-----END {label}-----"


def _uuid() -> str:
    return "{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}"


POSITIVES: list[Case] = [
    # shell dotfiles and .env files
    Case(
        "home/.bashrc", "github-token", "alias ll='ls -l'\nexport GITHUB_TOKEN={{token_crc:ghp}}\n"
    ),
    Case(
        "home/.zshrc",
        "openai-key",
        "export OPENAI_API_KEY=sk-proj-{{urlsafe:74}}T3BlbkFJ{{urlsafe:74}}\n",
    ),
    Case(
        "laravel/.env",
        "laravel-app-key",
        "APP_NAME=Shop\nAPP_ENV=production\nAPP_KEY=base64:{{base64:43}}=\nDB_HOST=10.0.0.5\n",
    ),
    Case(
        "app/.env",
        "env-password",
        "DB_HOST=db.internal\nDB_USER=shop\nDB_PASSWORD={{alnum:14}}{{digits:3}}\n",
    ),
    Case("api/.env.production", "env-api-key", "PAYMENTS_API_KEY={{alnum:40}}\nSENTRY_ENV=prod\n"),
    Case("svc/.env", "redis-uri", "REDIS_URL=redis://:{{alnum:28}}@cache.acme-prod.io:6379/0\n"),
    # credential stores
    Case(
        "home/.netrc",
        "netrc",
        "machine api.acme-prod.io\n  login deploy\n  password {{alnum:22}}\n",
    ),
    Case("home/.pgpass", "pgpass", "db.acme-prod.io:5432:orders:orders:{{alnum:20}}\n"),
    Case(
        "home/.git-credentials", "git-credentials", "https://deploy:{{alnum:24}}@git.acme-prod.io\n"
    ),
    Case(
        "home/.docker/config.json",
        "docker-auth",
        '{\n  "auths": {\n    "registry.acme-prod.io": {\n      "auth": "{{basic_auth|base64}}"\n    }\n  }\n}\n',
    ),
    Case(
        "k8s/regcred.yaml",
        "docker-auth",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\n"
        "type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: @INNER@\n",
        inner='{"auths":{"registry.acme-prod.io":{"auth":"{{basic_auth|base64}}"}}}',
    ),
    Case(
        "web/.npmrc",
        "npmrc",
        "registry=https://npm.acme-prod.io/\n//npm.acme-prod.io/:_authToken={{urlsafe:40}}\n",
    ),
    Case(
        "home/.pypirc",
        "pypirc",
        "[distutils]\nindex-servers = internal\n\n[internal]\nrepository = https://pypi.acme-prod.io\nusername = ci\npassword = {{alnum:24}}\n",
    ),
    Case(
        "home/.m2/settings.xml",
        "maven-settings",
        "<settings>\n  <servers>\n    <server>\n      <id>releases</id>\n      <username>ci</username>\n      <password>{{alnum:20}}</password>\n    </server>\n  </servers>\n</settings>\n",
    ),
    Case(
        "FileZilla/sitemanager.xml",
        "filezilla",
        '<FileZilla3>\n <Servers>\n  <Server>\n   <Host>ftp.acme-prod.io</Host>\n   <User>upload</User>\n   <Pass encoding="base64">{{base64:20}}</Pass>\n  </Server>\n </Servers>\n</FileZilla3>\n',
    ),
    Case(
        "WinSCP/WinSCP.ini",
        "winscp",
        "[Sessions\\deploy@sftp.acme-prod.io]\nHostName=sftp.acme-prod.io\nUserName=deploy\nPassword={{hex:64}}\n",
    ),
    Case("web/.htpasswd", "htpasswd", "admin:$apr1${{alnum:8}}${{alnum:22}}\n"),
    Case(
        "etc/shadow",
        "shadow",
        "root:*:19000:0:99999:7:::\ndeploy:$6${{alnum:16}}${{alnum:86}}:19000:0:99999:7:::\n",
    ),
    Case(
        "home/.aws/credentials",
        "aws",
        "[default]\naws_access_key_id = {{aws_key_id}}\naws_secret_access_key = {{aws_secret}}\n",
    ),
    Case(
        "home/.s3cfg",
        "aws",
        "[default]\naccess_key = {{aws_key_id}}\nsecret_key = {{aws_secret}}\n",
    ),
    # frameworks
    Case(
        "rails/config/secrets.yml", "rails-secret", "production:\n  secret_key_base: {{hex:128}}\n"
    ),
    Case("rails/config/master.key", "rails-master-key", "{{hex:32}}\n"),
    Case(
        "rails/config/database.yml",
        "database-config",
        "production:\n  adapter: postgresql\n  username: shop\n  password: {{alnum:18}}{{digits:2}}\n",
    ),
    Case(
        "django/mysite/settings.py",
        "django-secret",
        "DEBUG = False\nSECRET_KEY = '{{alnum:20}}#{{alnum:16}}@{{alnum:14}}'\n",
    ),
    Case(
        "php/wp-config.php",
        "wordpress-config",
        "<?php\ndefine( 'DB_NAME', 'wp' );\ndefine( 'DB_PASSWORD', '{{alnum:16}}!{{digits:2}}' );\n",
    ),
    Case(
        "sublime/sftp-config.json",
        "sftp-config",
        '{\n  "type": "sftp",\n  "host": "sftp.acme-prod.io",\n  "user": "deploy",\n  "password": "{{alnum:18}}{{digits:3}}"\n}\n',
    ),
    Case(
        "dotnet/appsettings.json",
        "azure-storage",
        '{\n  "Storage": "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={{base64:86}}==;EndpointSuffix=core.windows.net"\n}\n',
    ),
    Case(
        "compose/docker-compose.yml",
        "postgres-uri",
        "services:\n  web:\n    environment:\n      DATABASE_URL: postgres://shop:{{alnum:22}}@db.acme-prod.io:5432/shop\n",
    ),
    Case(
        "node/config.js",
        "mongodb-uri",
        "module.exports = { mongo: 'mongodb+srv://app:{{alnum:16}}@cluster0.ab1cd.mongodb.net/prod' };\n",
    ),
    # private keys in every container
    Case("keys/id_rsa", "private-key", _pem("RSA PRIVATE KEY") + "\n"),
    Case("keys/id_ed25519", "private-key", _pem("OPENSSH PRIVATE KEY") + "\n"),
    Case("keys/server.key", "private-key", _pem("ENCRYPTED PRIVATE KEY") + "\n"),
    Case(
        "keys/deploy.ppk",
        "private-key",
        "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\nComment: deploy\nPublic-Lines: 2\n{{base64:64}}\n{{base64:20}}\nPrivate-Lines: 2\n{{base64:64}}\n{{base64:64}}\nPrivate-MAC: {{hex:64}}\n",
    ),
    Case(
        "keys/release.asc",
        "private-key",
        _pem("PGP PRIVATE KEY BLOCK").replace("-----\n", "-----\n\n", 1) + "\n",
    ),
    Case(
        "gcp/service-account.json",
        "gcp-service-account",
        '{\n  "type": "service_account",\n  "project_id": "acme-prod",\n  "private_key_id": "{{hex:40}}",\n  "private_key": "'
        + _pem("PRIVATE KEY", 4, NL)
        + NL
        + '",\n  "client_email": "ci@acme-prod.iam.gserviceaccount.com"\n}\n',
    ),
    Case(
        "py/keys.py", "private-key", 'SIGNING_KEY = "' + _pem("EC PRIVATE KEY", 3, NL) + NL + '"\n'
    ),
    # the same keys as base64 of their DER encoding on one line, without the PEM armour
    Case(
        "snowflake/.env",
        "private-key",
        "SNOWFLAKE_ACCOUNT=acme-prod\nSNOWFLAKE_USER=loader\nSNOWFLAKE_PRIVATE_KEY={{der_key:rsa}}\n",
    ),
    Case(
        "ios/appsettings.json",
        "private-key",
        '{\n  "apns": {\n    "keyId": "{{upper:10}}",\n    "authKey": "{{der_key:ec8}}"\n  }\n}\n',
    ),
    Case(
        "ios/fastlane/.env",
        "private-key",
        "MATCH_GIT_BRANCH=certs\nBUILD_CERTIFICATE_BASE64={{der_key:p12}}\n",
    ),
    # provider tokens in their usual homes
    Case(
        "android/res/values/keys.xml",
        "google-api-key",
        '<resources>\n  <string name="maps_key">AIza{{urlsafe:35}}</string>\n</resources>\n',
    ),
    Case(
        "bot/settings.ini",
        "slack-token",
        "[slack]\nbot_token = xoxb-{{digits:11}}-{{digits:13}}-{{alnum:24}}\n",
    ),
    Case("shop/stripe.rb", "stripe-key", "Stripe.api_key = 'sk_live_{{alnum:24}}'\n"),
    Case(
        "mail/sendgrid.env", "sendgrid-key", "SENDGRID_API_KEY=SG.{{urlsafe:22}}.{{urlsafe:43}}\n"
    ),
    Case(
        "sms/twilio.py",
        "twilio-key",
        "# twilio client\nclient = Client('AC{{hex:32}}', '{{hex:32}}')\n",
    ),
    Case(
        "ai/anthropic.py",
        "anthropic-key",
        'client = Anthropic(api_key="sk-ant-api03-{{urlsafe:93}}AA")\n',
    ),
    Case(
        "ai/hf.sh",
        "huggingface-token",
        "huggingface-cli login --token hf_{{upper:10}}{{lower:24}}\n",
    ),
    Case(
        "bot/telegram.py",
        "telegram-token",
        'bot = telebot.TeleBot("{{digits:10}}:AA{{urlsafe:33}}")\n',
    ),
    Case(
        "ci/discord.yml",
        "discord-webhook",
        "webhook: https://discord.com/api/webhooks/{{digits:18}}/{{urlsafe:68}}\n",
    ),
    Case("ci/.gitlab-ci.yml", "gitlab-token", "variables:\n  GITLAB_API: glpat-{{urlsafe:20}}\n"),
    Case("web/.npmrc.ci", "npm-token", "//registry.npmjs.org/:_authToken={{token_crc:npm}}\n"),
    Case(
        "ci/dockerhub.sh",
        "dockerhub-pat",
        "echo dckr_pat_{{urlsafe:27}} | docker login -u acme --password-stdin\n",
    ),
    Case(
        "web/.env.local",
        "supabase-service-role",
        "NEXT_PUBLIC_SUPABASE_URL=https://{{lower:20}}.supabase.co\n"
        "NEXT_PUBLIC_SUPABASE_ANON_KEY={{supabase_jwt:anon}}\n"
        "SUPABASE_SERVICE_ROLE_KEY={{supabase_jwt:service}}\n",
    ),
    Case(
        "api/supabase.ts",
        "supabase-service-role",
        "export const admin = createClient(process.env.SUPABASE_URL!, '{{supabase_jwt:service}}')\n",
    ),
    Case(
        "k8s/supabase-secret.yaml",
        "supabase-service-role",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: supabase\ntype: Opaque\ndata:\n"
        "  SUPABASE_SERVICE_ROLE_KEY: {{supabase_jwt:service|base64}}\n",
    ),
    Case(
        "api/.env.server",
        "supabase-secret-key",
        "SUPABASE_SECRET_KEY=sb_secret_{{urlsafe:22}}_{{alnum:8}}\n",
    ),
    Case(
        "ai/openrouter.ts",
        "openrouter-key",
        "const r = await fetch('https://openrouter.ai/api/v1/chat/completions', {\n"
        "  headers: { Authorization: 'Bearer sk-or-v1-{{hex:64}}' },\n})\n",
    ),
    Case(
        "ai/.env.bedrock",
        "aws-bedrock-key",
        "AWS_REGION=us-east-1\nAWS_BEARER_TOKEN_BEDROCK={{bedrock_api_key:long}}\n",
    ),
    Case(
        "ai/bedrock_client.py",
        "aws-bedrock-key",
        'client = OpenAI(base_url=BEDROCK_URL, api_key="{{bedrock_api_key:short}}")\n',
    ),
    Case(
        "ci/deploy-functions.sh",
        "supabase-access-token",
        "export SUPABASE_ACCESS_TOKEN=sbp_{{hex:40}}\nsupabase functions deploy\n",
    ),
]

DECOYS: list[Case] = [
    Case(
        "app/.env.example",
        "decoy:placeholders",
        "DB_PASSWORD=\nAPI_KEY=your_api_key_here\nSECRET_KEY=changeme\nTOKEN=<your-token>\nAWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}\n",
    ),
    Case(
        "compose/docker-compose.prod.yml",
        "decoy:references",
        "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n      API_TOKEN: $(cat /run/secrets/token)\n      SECRET_KEY: '%SECRET_KEY%'\n",
    ),
    Case(
        "helm/values.yaml",
        "decoy:templates",
        'auth:\n  password: {{lbrace}} .Values.db.password {{rbrace}}\n  apiKey: {{lbrace}} required "key" .Values.key {{rbrace}}\n',
    ),
    Case(
        "django/prod_settings.py",
        "decoy:env-lookup",
        "import os\nSECRET_KEY = os.environ['DJANGO_SECRET_KEY']\nDB_PASSWORD = os.getenv('DB_PASSWORD')\n",
    ),
    Case(
        "docs/aws.md",
        "decoy:aws-example",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    ),
    Case(
        "docs/db.md",
        "decoy:example-uri",
        "DATABASE_URL=postgres://user:password@localhost:5432/app\nREDIS_URL=redis://localhost:6379/0\n",
    ),
    Case(
        "keys/id_rsa.pub",
        "decoy:public-key",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{{base64:43}} deploy@ci\n",
    ),
    Case(
        "keys/server.pem",
        "decoy:certificate",
        _pem("CERTIFICATE") + "\n" + _pem("PUBLIC KEY") + "\n",
    ),
    Case(
        "tls/.env",
        "decoy:certificate",
        "TLS_CERT_KEY={{der_key:cert}}\nJWT_PUBLIC_KEY={{der_key:public}}\n",
    ),
    Case(
        "web/package-lock.json",
        "decoy:lock-hashes",
        '{\n  "packages": {\n    "node_modules/left-pad": {\n      "integrity": "sha512-{{base64:86}}=="\n    }\n  }\n}\n',
    ),
    Case("go/go.sum", "decoy:lock-hashes", "github.com/acme/lib v1.2.3 h1:{{base64:43}}=\n"),
    Case(
        "api/ids.json",
        "decoy:uuids",
        '{"request_id": "' + _uuid() + '", "token_id": "' + _uuid() + '"}\n',
    ),
    Case(
        "ci/release.yml",
        "decoy:commit-ids",
        "secret_scan_commit: {{hex:40}}\ntoken_rev: {{hex:40}}\n",
    ),
    Case(
        "web/logo.html", "decoy:base64-image", '<img src="data:image/png;base64,{{base64:600}}">\n'
    ),
    Case(
        "tf/main.tf",
        "decoy:terraform-vars",
        'resource "aws_db_instance" "db" {\n  password = var.db_password\n  username = "admin"\n}\n',
    ),
    Case("web/.npmrc.example", "decoy:npm-env", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"),
    Case(
        "home/.netrc.example",
        "decoy:netrc-placeholder",
        "machine example.com\n  login user\n  password changeme\n",
    ),
    Case(
        "config/settings.yml",
        "decoy:config-names",
        "password_min_length: 12\ntoken_expiry: 3600\nsecret_name: prod/db\napi_key_header: X-Api-Key\ntoken_url: https://auth.acme-prod.io/oauth/token\n",
    ),
    Case(
        "py/test_auth.py",
        "decoy:test-words",
        "def test_login():\n    assert login('alice', password='secret') is True\n",
    ),
    Case(
        "web/src/supabaseClient.js",
        "decoy:supabase-public-keys",
        "const supabase = createClient('https://{{lower:20}}.supabase.co',\n"
        "  '{{supabase_jwt:anon}}')\n"
        "export const publishable = 'sb_publishable_{{urlsafe:22}}_{{alnum:8}}'\n",
    ),
    Case(
        "docker/supabase/.env",
        "decoy:supabase-demo-keys",
        "# the self-hosting example's documented keys\n"
        "ANON_KEY={{supabase_jwt:anon}}\nSERVICE_ROLE_KEY={{supabase_jwt:demo}}\n",
    ),
    Case(
        "k8s/regcred-template.yaml",
        "decoy:docker-placeholder",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\n"
        "type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: @INNER@\n",
        inner='{"auths":{"registry.example.com":{"auth":"dXNlcjpjaGFuZ2VtZQ=="}}}',
    ),
    Case(
        "k8s/supabase-public.yaml",
        "decoy:supabase-public-keys",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: supabase-web\ntype: Opaque\ndata:\n"
        "  SUPABASE_ANON_KEY: {{supabase_jwt:anon|base64}}\n",
    ),
    Case(
        "ai/test_bedrock.py",
        "decoy:bedrock-test-value",
        "# base64 of BedrockAPIKey-test-key-..., no account: what a unit test passes around\n"
        "KEY = 'ABSKQmVkcm9ja0FQSUtleS10ZXN0LWtleS0xMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw'\n",
    ),
    Case(
        "js/app.min.js",
        "decoy:minified",
        "var a=function(t){return t.token||t.secret};var k='{{alnum:20}}';\n",
    ),
]


def write_corpus(seed: int) -> list[tuple[Case, str]]:
    if WORK.exists():
        shutil.rmtree(WORK)
    CORPUS.mkdir(parents=True)
    REPORTS.mkdir(parents=True)
    # its own repository: keysweep takes its project root (and config) from there, not from
    # this checkout, whose config skips bench/work/
    subprocess.run(["git", "init", "-q", str(CORPUS)], check=True)
    out = []
    for case in POSITIVES + DECOYS:
        text = expand_template(case.text, f"{seed}:{case.path}")
        if case.inner:
            inner = expand_template(case.inner, f"{seed}:{case.path}:inner")
            text = text.replace("@INNER@", base64.b64encode(inner.encode()).decode())
        target = CORPUS / case.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        out.append((case, text))
    return out


def _rel(path: str) -> str:
    p = Path(path)
    try:
        return (
            (p if p.is_absolute() else CORPUS / p)
            .resolve()
            .relative_to(CORPUS.resolve())
            .as_posix()
        )
    except ValueError:
        return p.as_posix()


def _run(argv: list[str], ok: tuple[int, ...]) -> None:
    proc = subprocess.run(argv, cwd=CORPUS, capture_output=True, check=False)
    if proc.returncode not in ok:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{Path(argv[0]).name} exited {proc.returncode}: {' | '.join(tail)}")


def run_keysweep(extra: list[str]) -> set[str]:
    out = REPORTS / f"keysweep{'-'.join(extra)}.json"
    cmd = [sys.executable, "-m", "scanner", "scan", str(CORPUS), "--all-files", "-f", "json"]
    _run([*cmd, *extra, "-o", str(out)], (0, 1))
    return {_rel(f["path"]) for f in json.loads(out.read_text())["findings"]}


def run_gitleaks(binary: str) -> set[str]:
    out = REPORTS / "gitleaks.json"
    flags = ["--no-banner", "--log-level", "error", "-f", "json", "-r", str(out)]
    _run([binary, "dir", str(CORPUS), *flags], (0, 1))
    return {_rel(f["File"]) for f in json.loads(out.read_text() or "[]") or []}


def run_betterleaks(binary: str) -> set[str]:
    out = REPORTS / "betterleaks.json"
    _run([binary, str(CORPUS), "--no-banner", "-s", "-l", "error", "-o", str(out)], (0, 1))
    data = json.loads(out.read_text()) if out.exists() else {}
    return {_rel(f["location"]["path"]) for f in data.get("findings") or []}


def run_kingfisher(binary: str) -> set[str]:
    out = REPORTS / "kingfisher.json"
    flags = ["--no-validate", "--no-update-check", "-f", "json", "-o", str(out)]
    _run([binary, "scan", str(CORPUS), *flags], (0, 200, 205))
    return {_rel(i["finding"]["path"]) for i in json.loads(out.read_text()).get("findings") or []}


def run_detect_secrets(binary: str) -> set[str]:
    proc = subprocess.run(
        [binary, "scan", str(CORPUS), "--all-files"], cwd=CORPUS, capture_output=True, check=True
    )
    return {_rel(name) for name in json.loads(proc.stdout)["results"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--tools", default="keysweep,keysweep-low,gitleaks,betterleaks,kingfisher,detect-secrets"
    )
    parser.add_argument("--verbose", action="store_true", help="list missed and flagged files")
    args = parser.parse_args(argv)
    cases = write_corpus(args.seed)
    runners = {
        "keysweep": lambda: run_keysweep([]),
        "keysweep-low": lambda: run_keysweep(["--min-confidence", "low"]),
        "gitleaks": lambda: run_gitleaks(shutil.which("gitleaks") or "gitleaks"),
        "betterleaks": lambda: run_betterleaks(shutil.which("betterleaks") or "betterleaks"),
        "kingfisher": lambda: run_kingfisher(shutil.which("kingfisher") or "kingfisher"),
        "detect-secrets": lambda: run_detect_secrets(
            shutil.which("detect-secrets") or "detect-secrets"
        ),
    }
    results: dict[str, set[str]] = {}
    for name in args.tools.split(","):
        try:
            results[name] = runners[name]()
        except (OSError, RuntimeError, subprocess.CalledProcessError, KeyError) as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
    kinds: dict[str, list[str]] = defaultdict(list)
    for case, _ in cases:
        if not case.decoy:
            kinds[case.kind].append(case.path)
    decoys = [c.path for c, _ in cases if c.decoy]
    tools = list(results)
    print(f"{len(kinds)} credential types in {len(POSITIVES)} files, {len(decoys)} decoy files")
    print("type".ljust(22) + "".join(t.rjust(15) for t in tools))
    for kind, paths in sorted(kinds.items()):
        cells = [f"{sum(p in results[t] for p in paths)}/{len(paths)}" for t in tools]
        print(kind.ljust(22) + "".join(c.rjust(15) for c in cells))
    found = [sum(c.path in results[t] for c, _ in cases if not c.decoy) for t in tools]
    types = [sum(all(p in results[t] for p in paths) for paths in kinds.values()) for t in tools]
    flagged = [sum(p in results[t] for p in decoys) for t in tools]
    print("files found".ljust(22) + "".join(f"{n}/{len(POSITIVES)}".rjust(15) for n in found))
    print("types fully found".ljust(22) + "".join(f"{n}/{len(kinds)}".rjust(15) for n in types))
    print(
        "decoy files flagged".ljust(22) + "".join(f"{n}/{len(decoys)}".rjust(15) for n in flagged)
    )
    if args.verbose:
        for t in tools:
            missed = [c.path for c, _ in cases if not c.decoy and c.path not in results[t]]
            noisy = [p for p in decoys if p in results[t]]
            print(f"\n{t}: missed {missed}\n{t}: flagged decoys {noisy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
