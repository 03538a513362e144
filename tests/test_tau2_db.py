"""DocumentDB: copy-on-write views and the incremental official hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fama.envs.tau2.db import BaseDocument, DocumentDB, clone, full_hash
from fama.envs.tau2.environment import Tau2Domain
from fama.envs.tau2.retail import load_retail_document

RETAIL_INITIAL_HASH = "b25c9cb211f5efcaee5dd646054a73c4a9f43f4f5acc32c10713cd9f9ac20e9c"
AIRLINE_INITIAL_HASH = "124e39a664b56402bcd09cb8a6a9cece6acb8462337c969799d5658e3250f263"


def mut(db: DocumentDB, table: str, key: str) -> Any:
    """A record copied for mutation (it must exist)."""
    record = db.get_mut(table, key)
    assert record is not None
    return record


def read(db: DocumentDB, table: str, key: str) -> Any:
    """A read-only record (it must exist)."""
    record = db.get(table, key)
    assert record is not None
    return record


def _small_document() -> BaseDocument:
    return BaseDocument(
        {
            "users": {
                "b": {"name": "B", "tags": ["x"], "balance": 1.5},
                "d": {"name": "D", "tags": [], "balance": 2.0},
                "f": {"name": "F", "tags": ["y", "z"], "balance": 0.1},
            },
            "empty": {},
        }
    )


def test_retail_initial_hash_matches_the_official_value(retail_domain: Tau2Domain) -> None:
    assert retail_domain.base.new_view().hash() == RETAIL_INITIAL_HASH
    assert full_hash(retail_domain.base.tables) == RETAIL_INITIAL_HASH


def test_airline_initial_hash_matches_the_official_value(airline_domain: Tau2Domain) -> None:
    assert airline_domain.base.new_view().hash() == AIRLINE_INITIAL_HASH
    assert full_hash(airline_domain.base.tables) == AIRLINE_INITIAL_HASH


def test_incremental_hash_follows_every_kind_of_change() -> None:
    base = _small_document()
    initial = full_hash(base.tables)
    db = base.new_view()
    assert db.hash() == initial

    def check() -> None:
        assert db.hash() == full_hash(db.to_dict())

    mut(db, "users", "b")["balance"] = 3.25  # first key
    check()
    mut(db, "users", "f")["tags"].append("w")  # last key
    check()
    db.insert("users", "a", {"name": "A", "tags": [], "balance": 0.0})  # before the first key
    check()
    db.insert("users", "c", {"name": "C", "tags": [], "balance": 0.0})  # between keys
    check()
    db.insert("users", "z", {"name": "Z", "tags": [], "balance": 0.0})  # after the last key
    check()
    db.insert("empty", "only", {"v": None})  # into an empty table
    check()
    mut(db, "users", "a")["name"] = "A2"  # an inserted record changed again
    check()
    assert list(db.keys("users")) == ["b", "d", "f", "a", "c", "z"]
    assert db.size("users") == 6
    # The base document and its cached serialisation are untouched.
    assert full_hash(base.tables) == initial
    assert base.new_view().hash() == initial
    assert base.tables["users"]["b"]["balance"] == 1.5


def test_views_are_independent() -> None:
    base = _small_document()
    first, second = base.new_view(), base.new_view()
    mut(first, "users", "d")["name"] = "changed"
    assert read(first, "users", "d")["name"] == "changed"
    assert read(second, "users", "d")["name"] == "D"
    assert first.hash() != second.hash() == full_hash(base.tables)


def test_clone_is_deep() -> None:
    value: dict[str, Any] = {"a": [{"b": 1}], "c": {"d": [1, 2]}}
    copy = clone(value)
    copy["a"][0]["b"] = 2
    copy["c"]["d"].append(3)
    assert value == {"a": [{"b": 1}], "c": {"d": [1, 2]}}


def test_retail_hash_after_changes_at_the_edges(retail_domain: Tau2Domain) -> None:
    db = retail_domain.base.new_view()
    orders = sorted(retail_domain.base.tables["orders"])
    mut(db, "orders", orders[0])["status"] = "cancelled"
    mut(db, "orders", orders[-1])["exchange_price_difference"] = 0.04999999999999716
    users = sorted(retail_domain.base.tables["users"])
    mut(db, "users", users[-1])["orders"].append("#W0000000")
    record = clone(retail_domain.base.tables["orders"][orders[1]])
    db.insert("orders", "#A0000000", record)  # sorts before every order id
    db.insert("orders", "#Z9999999", clone(record))  # sorts after every order id
    assert db.hash() == full_hash(db.to_dict())
    assert retail_domain.base.new_view().hash() == RETAIL_INITIAL_HASH


def test_retail_document_is_normalised(retail_domain: Tau2Domain) -> None:
    tables = retail_domain.base.tables
    assert list(tables) == ["products", "users", "orders"]
    order = tables["orders"]["#W2611340"]
    assert list(order)[-7:] == [
        "cancel_reason",
        "exchange_items",
        "exchange_new_items",
        "exchange_payment_method_id",
        "exchange_price_difference",
        "return_items",
        "return_payment_method_id",
    ]
    assert all(order[key] is None for key in list(order)[-7:])
    sizes = {name: len(table) for name, table in tables.items()}
    assert sizes == {"products": 50, "users": 500, "orders": 1000}
    variants = sum(len(p["variants"]) for p in tables["products"].values())
    assert variants == 591


def test_corrupt_retail_db_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "db.json"
    broken.write_text('{"products": {}, "users": {}, "orders": {"#W1": {"order_id": 5}}}')
    with pytest.raises(ValueError, match=r"retail DB .*db\.json is invalid: .*orders\.#W1"):
        load_retail_document(broken)
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="is invalid"):
        load_retail_document(broken)
    with pytest.raises(FileNotFoundError, match="cannot read retail DB"):
        load_retail_document(tmp_path / "missing.json")
