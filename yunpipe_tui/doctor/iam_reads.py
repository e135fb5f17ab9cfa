"""Reading IAM as the role checks and the permission simulation need it: a role or instance
profile (None when missing), its trust document, and every policy document on it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from yunpipe_tui import resource_names as names
from yunpipe_tui.aws import error_code


def get_role(iam: Any, name: str) -> dict[str, Any] | None:
    try:
        return iam.get_role(RoleName=name)["Role"]
    except Exception as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise


def instance_profile(iam: Any, name: str) -> dict[str, Any] | None:
    try:
        return iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except Exception as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise


def trust_doc(role: dict[str, Any]) -> dict[str, Any]:
    doc = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(doc, str):
        doc = json.loads(unquote(doc))
    return doc


def attached(iam: Any, role: str) -> list[str]:
    arns: list[str] = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
        arns += [p["PolicyArn"] for p in page["AttachedPolicies"]]
    return arns


def as_doc(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return json.loads(unquote(raw))
    return raw or {}


def role_documents(iam: Any, role: str) -> list[dict[str, Any]]:
    """Every identity policy document on a role: inline and attached managed ones."""
    docs: list[dict[str, Any]] = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
        for name in page["PolicyNames"]:
            docs.append(
                as_doc(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
            )
    for arn in attached(iam, role):
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
        docs.append(as_doc(doc["Document"]))
    return docs


def managed_tags() -> list[dict[str, str]]:
    return [{"Key": names.TAG_MANAGED, "Value": "true"}]
