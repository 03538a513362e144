"""tau-bench v1's retail and airline domains: the tau-trait runtime on v1's initial data.

The tau-trait data folder holds v1's data with two users appended per domain for tau-trait's
own tasks; they are removed here, so the data (and every data hash of the reward) is
upstream's. The result is checked against the pinned data hash of ``UPSTREAM``, and the
policy (``wiki.md``) against v1's, so a changed data folder fails loudly instead of
scoring differently. Tools and tool schemas are tau-trait's, which are v1's for these domains.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from hashlib import sha256
from pathlib import Path
from typing import Any

from fama.envs.tau_bench.tasks import SPLITS, UPSTREAM
from fama.envs.tau_trait import airline, retail
from fama.envs.tau_trait.reward import data_hash
from fama.envs.tau_trait.runtime import DomainTools, TauTraitDomain

BASE_TOOLS: dict[str, DomainTools] = {"retail": retail.DOMAIN, "airline": airline.DOMAIN}
TAU_TRAIT_USERS: dict[str, tuple[str, ...]] = {
    "retail": ("sophia_martinez_7293", "alex_chen_5847"),
    "airline": ("carlos_rodriguez_7891", "jennifer_wong_4523"),
}
DATA_SHA256: dict[str, str] = {  # data_hash of upstream's initial data
    "retail": "5a4b2cb59f4d12dea7e4adff24a7f8fada510ead49372ea4a729a82bbb5f49b5",
    "airline": "4587e6b48ad2b2c4f3e1fecb40aabec7bb2286513273b8f8cec3f5865222f290",
}
POLICY_SHA256: dict[str, str] = {  # sha256 of upstream's wiki.md
    "retail": "d539fd2a46a8b8dd2e934ff9ed92f43e9f6b56bc7a718db8d2803ba8ad8f6bf7",
    "airline": "56c335801c16e26b54f600f9db99eb04d31db477e86eb160341d5c66b796c5c8",
}


def v1_data(base: DomainTools, root: Path) -> dict[str, Any]:
    """The domain's data from the tau-trait folder without tau-trait's users, checked."""
    data = base.load_data(root)
    for user_id in TAU_TRAIT_USERS[base.name]:
        data["users"].pop(user_id, None)
    found = data_hash(data)
    if found != DATA_SHA256[base.name]:
        raise ValueError(
            f"the {base.name} data in {root / base.name} is not tau-bench v1's "
            f"({UPSTREAM}): data hash {found[:12]}…, expected {DATA_SHA256[base.name][:12]}…"
        )
    return data


def v1_tools(domain: str) -> DomainTools:
    """The tau-trait tools of ``domain`` with v1's data loader."""
    if domain not in SPLITS:
        raise ValueError(f"unknown tau-bench domain {domain!r} (choose from retail, airline)")
    base = BASE_TOOLS[domain]
    return replace(base, load_data=lambda root: v1_data(base, root))


@lru_cache(maxsize=4)
def load_v1_domain(domain: str, root: Path) -> TauTraitDomain:
    """v1's ``domain`` over the tau-trait data folder ``root`` (cached per process and path)."""
    loaded = TauTraitDomain(v1_tools(domain), root)
    digest = sha256(loaded.policy.encode("utf-8")).hexdigest()
    if digest != POLICY_SHA256[domain]:
        raise ValueError(f"{root / domain / 'wiki.md'} is not tau-bench v1's {domain} policy")
    return loaded
