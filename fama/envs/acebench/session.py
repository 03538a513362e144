"""The official executor's semantics: lazy API instances, dispatch by name, state capture.

One instance per class in ``involved_classes``, created at the first execution and seeded as
upstream loads it (``default_state`` then ``initial_config[class]`` then
``initial_config["BaseApi"]``). A call runs on *every* instance that has a public method of
that name, in ``involved_classes`` order, and reports the last return value (this is what
keeps the device flags of the phone classes in sync). Behaviour follows
chenchen0103/ACEBench (MIT).
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Mapping, Sequence
from typing import Any

from fama.envs.acebench.data import Lang
from fama.envs.acebench.phone import BaseApi, FoodPlatform, MessageApi, ReminderApi
from fama.envs.acebench.travel import Travel

ApiInstance = BaseApi | Travel

API_CLASSES: dict[str, type[BaseApi] | type[Travel]] = {
    "BaseApi": BaseApi,
    "MessageApi": MessageApi,
    "ReminderApi": ReminderApi,
    "FoodPlatform": FoodPlatform,
    "Travel": Travel,
}

# the attributes the official harness keeps of each class for scoring
SAVED_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "BaseApi": ("wifi", "logged_in"),
    "MessageApi": ("inbox",),
    "ReminderApi": ("reminder_list",),
    "FoodPlatform": ("users", "logged_in_users", "orders"),
    "Travel": ("users", "reservations"),
}


class UnknownApiError(LookupError):
    """No involved class has a public method of that name."""


def api_methods(cls: type[BaseApi] | type[Travel], lang: Lang) -> list[str]:
    """The public method names of a class (inherited ones included) in language ``lang``."""
    return [
        name
        for name, _ in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") and cls.only_in.get(name, lang) == lang
    ]


def result_text(value: Any) -> str:
    """A call's return value as the agent sees it: strings as-is, dicts as JSON, else ``str()``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


class ApiSession:
    """The live API instances of one episode."""

    def __init__(
        self,
        involved_classes: Sequence[str],
        initial_config: Mapping[str, Any],
        seed_state: Mapping[str, Any],
        lang: Lang,
    ) -> None:
        unknown = [c for c in involved_classes if c not in API_CLASSES]
        if unknown:
            raise ValueError(f"unknown ACEBench classes {unknown}")
        bad = [k for k, v in initial_config.items() if not isinstance(v, Mapping)]
        if bad:
            raise ValueError(f"initial_config entries must be objects: {bad}")
        self.involved_classes = tuple(involved_classes)
        self.initial_config = initial_config
        self.seed_state = seed_state
        self.lang: Lang = lang
        self._instances: dict[str, ApiInstance] | None = None
        self._owners: dict[str, list[str]] = {}
        for class_name in self.involved_classes:
            for method in api_methods(API_CLASSES[class_name], lang):
                self._owners.setdefault(method, []).append(class_name)

    @property
    def method_names(self) -> frozenset[str]:
        """Every callable API name of this episode's classes."""
        return frozenset(self._owners)

    @property
    def started(self) -> bool:
        """True once the instances exist (after the first execution)."""
        return self._instances is not None

    def instances(self) -> dict[str, ApiInstance]:
        """The instances, created and seeded on first use."""
        if self._instances is None:
            self._instances = {name: self._create(name) for name in self.involved_classes}
        return self._instances

    def _create(self, class_name: str) -> ApiInstance:
        instance = API_CLASSES[class_name](self.seed_state[class_name], self.lang)
        instance._load_scenario(copy.deepcopy(self.initial_config.get(class_name, {})))
        instance._load_scenario(copy.deepcopy(self.initial_config.get("BaseApi", {})))
        return instance

    def call(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Run ``name`` on every instance that has it; the last return value.

        Raises ``UnknownApiError`` for an unknown name and whatever the API raises (a
        ``TypeError`` for wrong arguments, ``KeyError`` ...).
        """
        instances = self.instances()
        owners = self._owners.get(name)
        if not owners:
            raise UnknownApiError(f"no API named {name!r} is available")
        result: Any = None
        for class_name in owners:
            result = getattr(instances[class_name], name)(**arguments)
        return result

    def capture(self) -> list[dict[str, dict[str, Any]]]:
        """The scored attributes of every class, JSON round-tripped (int keys become strings)."""
        captured = [
            {name: {attr: getattr(instance, attr) for attr in SAVED_ATTRIBUTES[name]}}
            for name, instance in self.instances().items()
        ]
        round_tripped: list[dict[str, dict[str, Any]]] = json.loads(
            json.dumps(captured, ensure_ascii=False, default=str)
        )
        return round_tripped
