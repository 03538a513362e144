"""A SaaS account-admin desk: the worked example of running FAMA on your own domain.

Copy this folder, replace the tools, the policy and the tasks, and run::

    fama run --env python:examples.saas_admin.support:make_env --split train --model M
    fama analyze RUN_ID --split train
    fama run --env python:examples.saas_admin.support:make_env --split test --agent fama \\
        --mode static --fama-config fama-analysis/RUN_ID/fama_config.json --model M

``make_env`` returns a ``CustomDomain``: each episode gets a fresh copy of the in-memory
database (``db.json``) and the tools ``admin_tools(db)`` builds over it. Tools are plain
functions (one is async); the docstrings are what the model reads.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fama.envs.custom import CustomDomain, load_tasks

HERE = Path(__file__).parent
ROLES = ("member", "admin", "owner")
MAX_SEATS = 500

DB = dict[str, dict[str, dict[str, Any]]]


@cache
def _seed() -> str:
    return (HERE / "db.json").read_text(encoding="utf-8")


def new_db() -> DB:
    """A fresh copy of the example database (organisations and users)."""
    db: DB = json.loads(_seed())
    return db


def seats_used(db: DB, org_id: str) -> int:
    """Active and invited users of an organisation."""
    return sum(
        1
        for u in db["users"].values()
        if u["org_id"] == org_id and u["status"] in ("active", "invited")
    )


def admin_tools(db: DB) -> list[Any]:
    """The desk's tools over one episode's database."""

    def user(user_id: str) -> dict[str, Any]:
        if user_id not in db["users"]:
            raise ValueError(f"no user {user_id}")
        return db["users"][user_id]

    def org(org_id: str) -> dict[str, Any]:
        if org_id not in db["orgs"]:
            raise ValueError(f"no organization {org_id}")
        return db["orgs"][org_id]

    def active_owners(org_id: str) -> int:
        return sum(
            1
            for u in db["users"].values()
            if u["org_id"] == org_id and u["role"] == "owner" and u["status"] == "active"
        )

    async def find_user(email: str) -> dict[str, Any]:
        """Find a user by email address.

        Args:
            email: The user's email address.
        """
        for found in db["users"].values():
            if found["email"].lower() == email.strip().lower():
                return found
        raise ValueError(f"no user with email {email}")

    def get_organization(org_id: str) -> dict[str, Any]:
        """Get an organization's plan, billing period, seats and seats in use.

        Args:
            org_id: The organization id, such as 'o1'.
        """
        return {**org(org_id), "seats_used": seats_used(db, org_id)}

    def list_users(org_id: str) -> list[dict[str, Any]]:
        """List the users of an organization.

        Args:
            org_id: The organization id.
        """
        org(org_id)
        return [u for u in db["users"].values() if u["org_id"] == org_id]

    def invite_user(org_id: str, email: str, name: str, role: str) -> dict[str, Any]:
        """Invite a new user to an organization (takes a seat).

        Args:
            org_id: The organization id.
            email: The new user's email address.
            name: The new user's full name.
            role: 'member' or 'admin'.
        """
        if role not in ("member", "admin"):
            raise ValueError("invited users can be member or admin")
        if any(u["email"].lower() == email.lower() for u in db["users"].values()):
            raise ValueError(f"a user with email {email} already exists")
        if seats_used(db, org_id) >= org(org_id)["seats"]:
            raise ValueError("no free seat")
        user_id = f"u{len(db['users']) + 1}"
        db["users"][user_id] = {
            "id": user_id,
            "org_id": org_id,
            "name": name,
            "email": email,
            "role": role,
            "status": "invited",
            "mfa_enrolled": False,
        }
        return db["users"][user_id]

    def deactivate_user(user_id: str) -> dict[str, Any]:
        """Deactivate a user (frees their seat).

        Args:
            user_id: The user id, such as 'u3'.
        """
        target = user(user_id)
        if target["role"] == "owner" and active_owners(target["org_id"]) <= 1:
            raise ValueError("cannot deactivate the last active owner")
        target["status"] = "deactivated"
        return target

    def change_role(user_id: str, role: str) -> dict[str, Any]:
        """Change a user's role.

        Args:
            user_id: The user id.
            role: 'member', 'admin' or 'owner'.
        """
        target = user(user_id)
        if role not in ROLES:
            raise ValueError(f"unknown role {role}")
        if target["role"] == "owner" and role != "owner" and active_owners(target["org_id"]) <= 1:
            raise ValueError("an organization must keep at least one active owner")
        target["role"] = role
        return target

    def reset_mfa(user_id: str) -> str:
        """Reset a user's two-factor authentication; they enrol again at next login.

        Args:
            user_id: The user id.
        """
        user(user_id)["mfa_enrolled"] = False
        return f"MFA reset for {user_id}"

    def update_seats(org_id: str, seats: int) -> dict[str, Any]:
        """Set the number of seats of an organization.

        Args:
            org_id: The organization id.
            seats: The new number of seats.
        """
        target = org(org_id)
        if seats > MAX_SEATS:
            raise ValueError(f"at most {MAX_SEATS} seats")
        if seats < seats_used(db, org_id):
            raise ValueError("fewer seats than seats in use")
        if seats < target["seats"] and target["billing"] == "annual":
            raise ValueError("annual plans cannot decrease seats before renewal")
        target["seats"] = seats
        return {**target, "seats_used": seats_used(db, org_id)}

    def transfer_to_human_agents(summary: str) -> str:
        """Transfer the user to a human agent.

        Args:
            summary: A short summary of the user's request.
        """
        return "Transfer successful"

    return [
        find_user,
        get_organization,
        list_users,
        invite_user,
        deactivate_user,
        change_role,
        reset_mfa,
        update_seats,
        transfer_to_human_agents,
    ]


def make_env() -> CustomDomain:
    """The account-admin desk as a FAMA domain."""
    return CustomDomain(
        name="saas-admin",
        policy=(HERE / "policy.md").read_text(encoding="utf-8"),
        tools=admin_tools,
        new_state=new_db,
        tasks=load_tasks(HERE / "tasks.jsonl"),
        write_tools=[
            "invite_user",
            "deactivate_user",
            "change_role",
            "reset_mfa",
            "update_seats",
        ],
        terminal_tools=["transfer_to_human_agents"],
    )
