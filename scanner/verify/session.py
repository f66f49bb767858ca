"""botocore clients: one signed with exactly a found credential, one for the operator.

The classic verification bug is a client that silently falls back to the operator's own
credentials (environment, ``~/.aws``, SSO, instance metadata) and so "verifies" the operator.
``leaked_key_client`` makes that impossible three ways: the credentials are passed explicitly,
the session's credential resolver has no providers at all, and the session reads no config or
credentials file and no ``AWS_PROFILE``. Endpoint URLs from the environment or config
(``AWS_ENDPOINT_URL*``) are ignored too, so a secret only goes to AWS or to the endpoint the
user named with ``--aws-endpoint-url``.

boto3/botocore are imported inside these functions only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from scanner.errors import NoOperatorCredentials, VerifyError

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class AwsOptions:
    """How to reach AWS: shared by verify, exposure and deactivate."""

    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    profile: str | None = None  # operator profile (exposure, deactivate); never for found keys
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 10.0  # one whole call, however slowly the endpoint answers


def _client_config(options: AwsOptions) -> Any:
    from botocore.config import Config

    return Config(
        region_name=options.region,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},  # the engine retries itself
        ignore_configured_endpoint_urls=True,
        user_agent_extra="keysweep",
    )


def leaked_key_client(
    service: str,
    key_id: str,
    secret: str,
    session_token: str | None,
    options: AwsOptions,
) -> Any:
    """A client that can sign only with (key_id, secret[, session_token]) and nothing else."""
    import botocore.credentials
    import botocore.session

    # No profile (AWS_PROFILE / AWS_DEFAULT_PROFILE are not even looked up), no config file,
    # no shared credentials file: nothing from the operator's setup reaches this session.
    session = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    session.register_component(
        "credential_provider", botocore.credentials.CredentialResolver(providers=[])
    )
    return session.create_client(
        service,
        region_name=options.region,
        endpoint_url=options.endpoint_url,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=session_token or None,
        config=_client_config(options),
    )


def operator_client(service: str, options: AwsOptions) -> Any:
    """A client with the operator's own credentials (``--aws-profile`` or the environment)."""
    import boto3
    import botocore.exceptions

    try:
        session = boto3.Session(profile_name=options.profile, region_name=options.region)
        client = session.client(
            service, endpoint_url=options.endpoint_url, config=_client_config(options)
        )
    except botocore.exceptions.ProfileNotFound:
        raise VerifyError(f"AWS profile {options.profile!r} was not found") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise VerifyError(f"cannot set up operator AWS session: {exc}") from None
    if session.get_credentials() is None:
        where = f"profile {options.profile!r}" if options.profile else "the environment"
        raise NoOperatorCredentials(
            f"no operator AWS credentials found in {where}; use --aws-profile or set AWS_* "
            "variables"
        )
    return client


def operator_key_id(options: AwsOptions) -> str | None:
    """The long-term access key id the operator signs with (``--aws-profile`` or the
    environment); None for temporary or unknown credentials, which no leaked AKIA key can be."""
    import boto3
    import botocore.credentials
    import botocore.exceptions

    try:
        session = boto3.Session(profile_name=options.profile, region_name=options.region)
        creds = session.get_credentials()
    except botocore.exceptions.BotoCoreError:
        return None
    if creds is None or isinstance(creds, botocore.credentials.RefreshableCredentials):
        return None
    return str(creds.access_key)
