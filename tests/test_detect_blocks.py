"""Pairing within the enclosing block (issue 12, item 5): a secret far from its key ID inside
one structured block pairs with that block's key ID, each block on its own, nearest first.

Through the whole Detector on generated keys; the environment-dump case also through
``keysweep history --verify`` on a real repository against moto on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.keys import key_id, secret_key, session_token
from support.moto_server import ACCOUNT_A, MotoServer, unique
from support.repo import Repo
from support.run import keysweep

from scanner.detect import Detector
from scanner.detect.blocks import Blocks
from scanner.models import Fragment
from scanner.rules import load_rules

ID = "aws-access-key-id"
K1, K2, K3 = key_id("block-1"), key_id("block-2"), key_id("block-3")
S1, S2 = secret_key("block-1"), secret_key("block-2")
KA = key_id("block-asia", "ASIA")
T = session_token("block")


def _fill(prefix: str, n: int, line: str) -> str:
    return "".join(prefix + line.format(i=i) + "\n" for i in range(n))


JSON_FILL = _fill("    ", 10, '"option_{i}": {i},')
YAML_FILL = _fill("  ", 20, "option_{i}: {i}")
INI_FILL = _fill("", 20, "option_{i} = {i}")


def _json_object(key: str, secret: str) -> str:
    return (
        f'  {{\n    "aws_access_key_id": "{key}",\n{JSON_FILL}'
        f'    "aws_secret_access_key": "{secret}"\n  }}'
    )


CASES = [
    pytest.param(  # two JSON objects: the secret of the first is 3 lines above the second ID
        "[\n" + _json_object(K1, S1) + ",\n" + _json_object(K2, S2) + "\n]\n",
        {K1: [S1], K2: [S2]},
        id="two-json-objects",
    ),
    pytest.param(  # two Python dict literals
        f'PROD = {{\n    "aws_access_key_id": "{K1}",\n{JSON_FILL}'
        f'    "aws_secret_access_key": "{S1}",\n}}\n'
        f'STAGING = {{\n    "aws_access_key_id": "{K2}",\n{JSON_FILL}'
        f'    "aws_secret_access_key": "{S2}",\n}}\n',
        {K1: [S1], K2: [S2]},
        id="two-dict-literals",
    ),
    pytest.param(  # two YAML mappings, 20 lines between key ID and secret
        f"prod:\n  aws_access_key_id: {K1}\n{YAML_FILL}  aws_secret_access_key: {S1}\n"
        f"staging:\n  aws_access_key_id: {K2}\n{YAML_FILL}  aws_secret_access_key: {S2}\n",
        {K1: [S1], K2: [S2]},
        id="two-yaml-mappings",
    ),
    pytest.param(  # two INI sections
        f"[prod]\naws_access_key_id = {K1}\n{INI_FILL}aws_secret_access_key = {S1}\n"
        f"[staging]\naws_access_key_id = {K2}\n{INI_FILL}aws_secret_access_key = {S2}\n",
        {K1: [S1], K2: [S2]},
        id="two-ini-sections",
    ),
    pytest.param(  # two key IDs in one block, one secret: the nearest one gets it, only it
        f'{{\n  "old_key_id": "{K1}",\n{JSON_FILL}  "aws_access_key_id": "{K2}",\n'
        f'{JSON_FILL}  "aws_secret_access_key": "{S1}"\n}}\n',
        {K1: [], K2: [S1]},
        id="two-ids-one-block",
    ),
    pytest.param(  # a block with its own key ID, a second key ID outside: no borrowing
        f'{{\n  "aws_access_key_id": "{K1}",\n{JSON_FILL}  "aws_secret_access_key": "{S1}"\n}}\n'
        f"{INI_FILL}BACKUP_ACCESS_KEY_ID={K2}\n",
        {K1: [S1], K2: []},
        id="id-outside-the-block",
    ),
    pytest.param(  # a nested object: the secret pairs with the ID of the innermost block
        f'{{\n  "main": {{\n    "aws_access_key_id": "{K1}",\n{JSON_FILL}'
        f'    "aws_secret_access_key": "{S1}"\n  }},\n{JSON_FILL}'
        f'  "aws_access_key_id": "{K2}"\n}}\n',
        {K1: [S1], K2: []},
        id="nested-objects",
    ),
    pytest.param(  # an env dump with one key ID is its block: both secrets, nearest first
        f"AWS_ACCESS_KEY_ID={K1}\n{INI_FILL}AWS_SECRET_ACCESS_KEY={S1}\n{INI_FILL}"
        f"BACKUP_AWS_SECRET_ACCESS_KEY={S2}\n",
        {K1: [S1, S2]},
        id="env-dump-one-id-two-secrets",
    ),
    pytest.param(  # no block around them (a flat file) and two key IDs: no guessing
        f"AWS_ACCESS_KEY_ID={K1}\n{INI_FILL}AWS_SECRET_ACCESS_KEY={S1}\n{INI_FILL}"
        f"OTHER_KEY_ID={K3}\n",
        {K1: [], K3: []},
        id="flat-file-two-ids",
    ),
]


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_rules())


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_secret_pairs_with_the_key_id_of_its_block(
    detector: Detector, text: str, expected: dict[str, list[str]]
) -> None:
    findings = detector.scan(Fragment.from_text(text, "creds.txt"))
    paired = {
        f.secret: [p.secret for p in f.paired if p.kind == "secret_access_key"]
        for f in findings
        if f.rule_id == ID
    }
    assert paired == expected
    secrets = {f.secret for f in findings if f.rule_id != ID}
    assert {s for found in expected.values() for s in found} <= secrets


@pytest.mark.parametrize(
    ("text", "blocks"),
    [
        ("a = {\n  b\n}\n", [(0, 9), (4, 11)]),  # its indentation and its brackets
        ("a = (1, 2)\n", []),  # one line: never needed
        ("x:\n  y: 1\n  z: 2\nw: 3\n", [(0, 16)]),
        ("[a]\nk = 1\n[b]\nk = 2\n", [(0, 10), (10, 20)]),
        ("] ) } {\n(\n]\n", []),  # stray and mismatched brackets break nothing
    ],
)
def test_blocks_around_an_offset(text: str, blocks: list[tuple[int, int]]) -> None:
    found = Blocks(text)
    around = sorted({b for pos in range(len(text)) for b in found.around(pos)})
    assert around == blocks


@pytest.mark.parametrize(("owner_at", "expected"), [(600_000, 0), (0, -1)])
def test_blocks_nested_a_megabyte_deep(owner_at: int, expected: int) -> None:
    """300 000 nested blocks: the owner in the innermost one is found; one at the top is
    past the MAX_WALK enclosing blocks a query looks at, so it is not (a bounded walk)."""
    text = "{\n" * 300_000 + "K S" + "}" * 300_000
    blocks = Blocks(text)
    line = 1 if owner_at == 0 else 300_001
    assert blocks.owner(600_002, [owner_at], [line], 300_001) == expected


ENV_FILL = "".join(f"npm_config_option_{i}=value{i}\n" for i in range(90))


def env_dump(key: str, secret: str, token: str) -> str:
    """``env`` output: the key ID, its secret 90 lines later, the token 30 lines after that."""
    return (
        f"AWS_ACCESS_KEY_ID={key}\n{ENV_FILL}AWS_SECRET_ACCESS_KEY={secret}\n"
        f"{ENV_FILL[:1000]}AWS_SESSION_TOKEN={token}\nHOME=/home/ci\n"
    )


TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_A}:user/admin"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def test_env_dump_in_history_is_paired_and_verified(
    moto: MotoServer, aws_env: None, tmp_path: Path
) -> None:
    role = moto.admin("iam").create_role(
        RoleName=unique("env-dump"), AssumeRolePolicyDocument=json.dumps(TRUST)
    )["Role"]
    creds = moto.admin("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ci")["Credentials"]
    asia, asia_secret, token = creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    repo = Repo(tmp_path / "repo")
    repo.commit({"ci/env.txt": env_dump(asia, asia_secret, token)}, "debug: dump env")
    repo.commit({"ci/env.txt": None}, "remove the dump")
    out = tmp_path / "h.json"
    run = keysweep(
        "history",
        str(repo.path),
        "--verify",
        "--aws-endpoint-url",
        moto.endpoint,
        "-f",
        "json",
        "--show-secrets",
        "-o",
        str(out),
    )
    assert run.code != 2, run.stderr
    findings = json.loads(out.read_text())["findings"]
    (finding,) = [f for f in findings if f["rule_id"] == ID]
    assert finding["secret"] == asia
    assert sorted((p["kind"], p["secret"]) for p in finding["paired"]) == [
        ("secret_access_key", asia_secret),
        ("session_token", token),
    ]
    assert finding["verification"]["status"] == "live"
