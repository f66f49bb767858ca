"""The generic layer: placeholder/reference filter, per-alphabet entropy floors, Docker auth
decoding, and the rules that use them, through the whole detector."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
from support.repo import Repo
from support.run import keysweep

from scanner.detect import Detector
from scanner.models import Fragment
from scanner.rules import load_rules
from scanner.rules.checks import basic_auth_base64, generic_secret_value, not_placeholder
from scanner.rules.templates import expand_template

DETECTOR = Detector(load_rules())


@pytest.mark.parametrize(
    "value",
    [
        "${DB_PASSWORD}",
        "$(cat /run/secrets/db)",
        "%DB_PASSWORD%",
        "{{ db_password }}",
        "<your-key>",
        "changeme",
        "xxxxxxxxxxxx",
        "your_api_key_here",
        "",
        "true",
        "12345678",
        "/etc/app/secret.txt",
        "https://vault.acme.io/v1/secret",
        "settings.SECRET_KEY",
        "process.env.API_KEY",
        "api-key-file.json",
        "prefix-{{alnum:32}}",
        "self.org_admin_token)",  # WebClient(token=self.org_admin_token)
        "getattr(configuration",  # SECRET_KEY = getattr(configuration, 'SECRET_KEY')
        "EMAIL.get(",  # EMAIL_HOST_PASSWORD = EMAIL.get('PASSWORD')
        "models/users/token.md",  # mkdocs nav: - Token: 'models/users/token.md'
        "Aws::Credentials.new(",  # credentials: Aws::Credentials.new(key_id, secret)
    ],
)
def test_placeholders_and_references_are_never_secrets(value: str) -> None:
    assert not not_placeholder(value)
    assert not generic_secret_value(value)


@pytest.mark.parametrize(
    "value",
    [
        "App\\Http\\Middleware\\VerifyCsrfToken::class",  # laravel's config/sanctum.php
        "Illuminate\\Foundation\\Http\\Middleware\\ValidateCsrfToken::class",
        "resource/AllowRotationLambdaArn",  # "secretsmanager:resource/AllowRotationLambdaArn"
        "rn:aws:iam::123:role/AUTH_AWS_IAM",  # an ARN, its first letter lost
        "-mongo}@mongodb:27017/",  # ${MONGO_PASSWORD:-mongo}@mongodb:27017/
        "?required}",
        "csrftoken})",
        ".bin2hex(random_bytes(16)).PHP_EOL",
        "400.v35420b_922dcb_",  # a Jenkins plugin's version
        "\\u8a8d\\u8a3c\\u60c5\\u5831",  # a Java messages file's Japanese label
        "Contrase\\u00F1a",
        "密码至少需要8个字符",
        "Changethis1!",
        "?$feed_credential",  # feed_credential="?$feed_credential"
        "DomRendererFactory2",  # token: DomRendererFactory2 (an Angular class)
        "bXlzcWxwYXNzd29yZA==",  # base64 of "mysqlpassword" in a Kubernetes Secret
        "c0NhbGVpbzEyMw==",  # base64 of a weak password ("sCaleio123")
    ],
)
def test_code_versions_and_words_are_no_generic_secret(value: str) -> None:
    """Values under secret-named keys in real public repositories that are not secrets."""
    assert not generic_secret_value(value)


@pytest.mark.parametrize(
    "value",
    [
        "t&9mru2_k$t8e2-9uq-wu2a1)9v*us&j3i#lsqkt(lbx*vh1cu",  # a Django key: "(" in it
        "kJ8(2mQ)xZ9pLw3",  # a call's shape, and more after it
        "Xk2\\u0041d9sLq0Pz7",  # an escape of ASCII is no word of a language
        "9.Xk29dj3kd9/sLq0Pz",  # a digit and a dot first, a "/" later
        "WGsyOWRqM2tkOXNMcTBQeg==",  # base64 of a random value
        "c6k30kKqovA5NoTfKxMVRmnKKVwd7jaF4OB2xshQVEA=",  # base64 of random bytes
        "Xkqjdhwpzmvn7",
    ],
)
def test_random_values_with_code_characters_stay_secrets(value: str) -> None:
    assert generic_secret_value(value)


@pytest.mark.parametrize(
    "value",
    ["2016-09-08T21:47:36Z", "2024-01-02 10:00:00", "2025-03-01T00:00:00.000+00:00", "2024-01-02"],
)
def test_a_timestamp_is_no_secret(value: str) -> None:
    """ "PasswordLastUsed": "2016-09-08T21:47:36Z" in AWS SDK examples: when, not what."""
    assert not generic_secret_value(value)


@pytest.mark.parametrize(
    ("template", "plain", "random_enough"),
    [
        ("admin123", True, False),  # a weak password: only the low-confidence rule
        ("{{hex:32}}", True, True),
        ("{{hex:8}}", True, False),  # too short for hex
        ("{{alnum:24}}", True, True),
        ("{{lower:6}}{{digits:2}}", True, False),
        ("{{alnum:12}}!{{digits:3}}", True, True),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn", True, False),  # typed, not drawn
        ("Zq{{alnum:6}}" + "12345678" + "{{alnum:6}}", True, False),
    ],
)
def test_entropy_floor_by_alphabet(template: str, plain: bool, random_enough: bool) -> None:
    value = expand_template(template, "floor")
    assert not_placeholder(value) is plain
    assert generic_secret_value(value) is random_enough


@pytest.mark.parametrize(
    ("decoded", "expected"),
    [
        ("ci:s3cretPassw0rd", True),
        ("ci:changeme", False),
        ("no-colon-here", False),
        (":pw12345", False),
    ],
)
def test_docker_auth_is_decoded(decoded: str, expected: bool) -> None:
    assert basic_auth_base64(base64.b64encode(decoded.encode()).decode()) is expected


def _rules(text: str, path: str) -> list[tuple[str, str | None]]:
    findings = DETECTOR.scan(Fragment.from_text(expand_template(text, path), path))
    return [(f.rule_id, f.confidence) for f in findings]


@pytest.mark.parametrize(
    ("text", "path", "expected"),
    [
        ("DB_PASSWORD=admin123\n", ".env", [("env-plain-password", "low")]),
        ("DB_PASSWORD=admin123\n", "docs/setup.md", []),
        ("PAYMENTS_API_KEY={{alnum:32}}\n", ".env", [("generic-secret-assignment", "medium")]),
        ("PAYMENTS_API_KEY={{alnum:32}}\n", "app/main.py", []),
        ("APP_KEY=base64:{{base64:43}}=\n", ".env", [("laravel-app-key", "high")]),
        (
            "machine git.acme.io login ci password {{alnum:20}}\n",
            ".netrc",
            [("netrc-password", "high")],
        ),
        (
            '{"auths": {"r.acme.io": {"auth": "{{basic_auth|base64}}"}}}',
            "config.json",
            [("docker-config-auth", "high")],
        ),
        ("admin:$apr1${{alnum:8}}${{alnum:22}}\n", ".htpasswd", [("password-hash", "high")]),
        # tox factor lines: a token-like factor name, a requirement pin or an assignment as value
        ("deps =\n    py3.13-notiktoken: anyio==4.14.2\n", "tox.ini", []),
        ("deps =\n    py3.14-notiktoken: backports.asyncio.runner==1.2.0\n", "tox.ini", []),
        ("setenv =\n    notiktoken: _TESTPATH=tests/integrations/openai\n", "tox.ini", []),
        (
            "setenv =\n    notiktoken: API_TOKEN={{alnum:32}}\n",
            "tox.ini",
            [("generic-secret-assignment", "medium")],
        ),
        ('{"nextPageToken": "{{base64:56}}"}', "regions-paged-1.json", []),
        (
            "SECRET_KEY = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'\n",
            "netbox/configuration_testing.py",
            [],
        ),
        ("client = WebClient(token=self.org_admin_token)\n", "test_admin_settings.py", []),
        ("client = WebClient(token=team_admin_token)\n", "test_admin_settings.py", []),
        (
            'client = WebClient(token="{{alnum:24}}")\n',
            "test_admin_settings.py",
            [("generic-secret-assignment", "medium")],
        ),
    ],
)
def test_generic_and_credential_file_rules(
    text: str, path: str, expected: list[tuple[str, str]]
) -> None:
    assert _rules(text, path) == expected


@pytest.mark.parametrize("login", ["deploy:Tr0ub4dor&3xyzQ", "deploy:changeme"])
def test_a_kubernetes_image_pull_secret_is_decoded(login: str) -> None:
    """A .dockerconfigjson is the Docker config in base64, whose auth is base64 again: the
    decoder reads the file with the auth kept as it is (its token reading), where the rule
    finds it. It used to be missed: the auth was decoded too, and the rule never saw it."""
    auth = base64.b64encode(login.encode()).decode()
    config = json.dumps({"auths": {"registry.acme.io": {"auth": auth}}})
    text = (
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n"
        f"  .dockerconfigjson: {base64.b64encode(config.encode()).decode()}\n"
    )
    found = DETECTOR.scan(Fragment.from_text(text, "pull-secret.yaml"))
    if login.endswith("changeme"):  # a placeholder password: the rule's check says no
        assert found == []
        return
    assert [(f.rule_id, f.secret, f.encoding, f.line) for f in found] == [
        ("docker-config-auth", auth, "base64", 5)
    ]


def test_a_key_file_is_found_by_its_path_alone(tmp_path: Path) -> None:
    # config/master.key holds 32 hex characters and nothing else: no keyword wakes the
    # prefilter, the path does (scan, history and staged alike)
    key = secrets.token_hex(16)
    repo = Repo(tmp_path / "app")
    repo.commit({"config/master.key": key + "\n", "config/notes.txt": key + "\n"}, "add")
    repo.write({"config/credentials/production.key": key})
    repo.git("add", "config/credentials/production.key")

    def paths(*args: str) -> set[str]:
        run = keysweep(*args, "--format", "json", cwd=repo.path)
        return {f["path"] for f in run.report["findings"] if f["rule_id"] == "rails-master-key"}

    assert paths("scan", ".") == {"config/master.key", "config/credentials/production.key"}
    assert paths("history", ".") == {"config/master.key"}
    assert paths("staged") == {"config/credentials/production.key"}
    assert not DETECTOR.wants((key + "\n").encode(), "config/notes.txt")
    assert DETECTOR.wants((key + "\n").encode(), "config/master.key")
