"""Scoring a finished tau2 episode exactly like the official evaluator (spec §6).

Components (each 1.0 or 0.0):

* ``DB``: the gold environment (fresh env + every gold action, failures swallowed) and the
  predicted environment (fresh env + every *write* tool call of the trajectory replayed in
  order) must have equal DB hashes, and equal user-DB hashes when the environment has one.
* ``ENV_ASSERTION``: named toolkit functions run on the predicted environment return the
  expected booleans.
* ``COMMUNICATE``: every ``communicate_info`` string occurs in some assistant text
  (case-insensitive, commas removed from the message).
* ``ACTION``: every gold action is matched by some tool call (``compare_args`` semantics).
* ``NL_ASSERTION``: an LLM judge says every natural-language assertion is met.

The reward is the product of the components named in the task's ``reward_basis``; it is 0
when the episode did not end with ``user_stop``/``agent_stop``. DB, ENV_ASSERTION,
COMMUNICATE and ACTION are always computed (as diagnostics when not in the basis, like
upstream's "ALL" mode); the judge runs only when NL_ASSERTION is in the basis and the episode
ended normally.

Environment hooks beyond ``execute``/``tool_kind``/``db_hash``, all optional (for dual-control
domains such as telecom): ``user_db_hash() -> str | None`` (the user-side DB hash, compared
too), ``user_tool_kind(name)`` (kinds of the user's tools, so user writes are replayed too),
``dispatch(name, arguments, requestor)`` (a tool call without the sync that ``execute`` does
after live calls; gold actions use it, as upstream runs them with no sync in between),
``sync() -> None`` (called once after the predicted replay and after each env assertion, as
upstream), ``toolkit`` / ``user_toolkit`` (objects whose methods env assertions call, by
``env_type`` "assistant" / "user"). The predicted replay goes through ``execute``, which for
telecom syncs after each successful call like upstream's replay does.

Deliberate choices where upstream is lenient or crashes (recorded in ``details``):
a judge answer that is not a JSON object with a non-empty ``results`` list of
``metExpectation`` booleans is retried once, then scored 0 as a judge error; an env assertion
that raises or returns a non-bool fails (upstream aborts the evaluation and scores 0);
the official strict replay check (replayed write outputs equal the recorded ones) is always
reported and only zeroes the reward when ``strict_replay=True`` (upstream's default, whose
mismatch exception ends up as reward 0).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from fama.core.env import ToolKind, ToolOutput
from fama.core.retry import RetryPolicy
from fama.core.scoring import RewardInfo
from fama.core.state import LLMCall
from fama.core.trajectory import MessageRecord
from fama.envs.tau2.db import clone
from fama.envs.tau2.tasks import EnvAssertion, GoldAction, Task
from fama.llm.call import call_model, model_label
from fama.prompts.registry import Prompt, load_prompt

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

NORMAL_TERMINATIONS = frozenset({"user_stop", "agent_stop"})
JUDGE_NODE = "judge"
JUDGE_PROMPT = "nl_judge"
_MAX_DETAIL_CHARS = 500


class EvaluableEnvironment(Protocol):
    """What the evaluator needs from an episode environment (see the module doc for hooks)."""

    def tool_kind(self, name: str) -> ToolKind | None:
        """The kind of a tool, or None when no such tool exists."""
        ...

    def execute(
        self, name: str, arguments: dict[str, Any], requestor: str = "assistant"
    ) -> ToolOutput:
        """Run one tool call; never raises."""
        ...

    def db_hash(self) -> str:
        """The official hash of the (agent-side) DB."""
        ...


class EvaluableDomain(Protocol):
    """A domain that builds fresh environments with a task's initial state applied."""

    def new_environment(self, task: Task | None = None) -> EvaluableEnvironment:
        """A fresh environment for the task."""
        ...


@dataclass(frozen=True)
class TrajectoryCall:
    """One tool call of the trajectory with the tool message that answered it (if any)."""

    requestor: str
    id: str
    name: str
    arguments: dict[str, Any] | None  # None when the recorded arguments were not an object
    recorded: MessageRecord | None


async def evaluate_episode(
    domain: EvaluableDomain,
    task: Task,
    records: Sequence[MessageRecord],
    termination: str | None,
    *,
    judge: BaseChatModel | None,
    judge_model_name: str = "",
    judge_retries: RetryPolicy | None = None,
    strict_replay: bool = False,
) -> RewardInfo:
    """Score an episode's trajectory against a task, like the official tau2 evaluator.

    The judge should be configured with temperature 0 (``ModelSpec``'s default), as upstream.
    Transient judge-server failures are retried per ``judge_retries``; when they persist,
    ``ModelUnavailableError`` propagates (the runner records an infrastructure error).
    """
    criteria = task.evaluation_criteria
    if criteria is None:
        return RewardInfo(reward=1.0, details={"note": "no evaluation criteria"})
    basis: list[str] = list(criteria.reward_basis)
    normal_end = termination in NORMAL_TERMINATIONS
    calls = trajectory_tool_calls(records)
    components: dict[str, float] = {}
    details: dict[str, Any] = {"termination": termination}

    db_score, db_details, predicted_env = _db_check(domain, task, calls)
    components["DB"] = db_score
    details["DB"] = db_details
    components["ENV_ASSERTION"], details["ENV_ASSERTION"] = env_assertion_checks(
        predicted_env, criteria.env_assertions
    )
    components["COMMUNICATE"], details["COMMUNICATE"] = communicate_check(
        records, criteria.communicate_info
    )
    components["ACTION"], details["ACTION"] = action_check(calls, criteria.actions)

    nl_skipped = False
    usage: list[LLMCall] = []
    if "NL_ASSERTION" in basis:
        assertions = criteria.nl_assertions or []
        if not assertions:
            components["NL_ASSERTION"] = 1.0
            details["NL_ASSERTION"] = {"note": "no nl_assertions"}
        elif not normal_end:
            details["NL_ASSERTION"] = {"note": "not judged: the episode ended prematurely"}
        elif judge is None:
            nl_skipped = True
            details["NL_ASSERTION"] = {
                "skipped": True,
                "note": "no judge model: NL_ASSERTION is left out of the reward",
            }
        else:
            verdict = await judge_nl_assertions(
                judge,
                records,
                assertions,
                model_name=judge_model_name,
                retries=judge_retries or RetryPolicy(),
            )
            components["NL_ASSERTION"] = verdict.score
            details["NL_ASSERTION"] = verdict.details
            usage = verdict.usage

    if not normal_end:
        details["note"] = f"terminated prematurely ({termination}): reward 0"
        reward = 0.0
    elif strict_replay and db_details["replay_mismatches"]:
        details["note"] = "strict replay: a replayed write returned a different output"
        reward = 0.0
    else:
        reward = math.prod(components[name] for name in basis if name in components)
    return RewardInfo(
        reward=reward,
        components=components,
        reward_basis=basis,
        details=details,
        nl_judge_skipped=nl_skipped,
        judge_usage=usage,
    )


# ---------------------------------------------------------------------------------------------
# Trajectory tool calls


def trajectory_tool_calls(records: Sequence[MessageRecord]) -> list[TrajectoryCall]:
    """Every tool call of assistant and user messages, in order, with its recorded result.

    A call's result is the following tool message with the same id, or the one at the same
    position when ids are missing.
    """
    calls: list[TrajectoryCall] = []
    for index, record in enumerate(records):
        if record["role"] not in ("assistant", "user"):
            continue
        tool_calls = record.get("tool_calls") or []
        if not tool_calls:
            continue
        results: list[MessageRecord] = []
        for following in records[index + 1 :]:
            if following["role"] != "tool":
                break
            results.append(following)
        by_id = {r.get("tool_call_id"): r for r in results if r.get("tool_call_id")}
        for position, call in enumerate(tool_calls):
            recorded = by_id.get(call["id"]) if call["id"] else None
            if recorded is None and not by_id and position < len(results):
                recorded = results[position]
            arguments = call.get("arguments")
            calls.append(
                TrajectoryCall(
                    requestor=record["role"],
                    id=call["id"],
                    name=call["name"],
                    arguments=arguments if isinstance(arguments, dict) else None,
                    recorded=recorded,
                )
            )
    return calls


# ---------------------------------------------------------------------------------------------
# DB and env assertions


def _db_check(
    domain: EvaluableDomain, task: Task, calls: list[TrajectoryCall]
) -> tuple[float, dict[str, Any], EvaluableEnvironment]:
    """The DB component, its details, and the predicted environment (for env assertions)."""
    criteria = task.evaluation_criteria
    gold_actions = criteria.actions if criteria is not None else []
    gold_env = domain.new_environment(task)
    gold_errors = _run_gold_actions(gold_env, gold_actions)

    predicted_env = domain.new_environment(task)
    replay = _replay_writes(predicted_env, calls)
    sync = getattr(predicted_env, "sync", None)
    if callable(sync):
        sync()

    gold_hash, predicted_hash = gold_env.db_hash(), predicted_env.db_hash()
    gold_user, predicted_user = _user_db_hash(gold_env), _user_db_hash(predicted_env)
    match = gold_hash == predicted_hash and gold_user == predicted_user
    details: dict[str, Any] = {
        "match": match,
        "gold_hash": gold_hash,
        "predicted_hash": predicted_hash,
        **replay,
        "gold_errors": gold_errors,
        "gold_replay_incomplete": any(e["mutating"] for e in gold_errors),
    }
    if gold_user is not None or predicted_user is not None:
        details["gold_user_hash"] = gold_user
        details["predicted_user_hash"] = predicted_user
    return (1.0 if match else 0.0), details, predicted_env


def _run_gold_actions(
    env: EvaluableEnvironment, actions: Sequence[GoldAction]
) -> list[dict[str, Any]]:
    """Run every gold action in order; failures change nothing and are only reported."""
    errors: list[dict[str, Any]] = []
    dispatch = getattr(env, "dispatch", env.execute)
    for action in actions:
        output = dispatch(action.name, clone(action.arguments), requestor=action.requestor)
        if output.error:
            errors.append(
                {
                    "action_id": action.action_id,
                    "name": action.name,
                    "requestor": action.requestor,
                    "mutating": any_tool_kind(env, action.name) in ("write", None),
                    "error": _clip(output.content),
                }
            )
    return errors


def _replay_writes(env: EvaluableEnvironment, calls: list[TrajectoryCall]) -> dict[str, Any]:
    """Re-execute the trajectory's write calls; unknown and non-mutating tools are skipped."""
    replayed = 0
    unknown: list[str] = []
    mismatches: list[dict[str, Any]] = []
    for call in calls:
        kind = any_tool_kind(env, call.name)
        if kind is None:
            unknown.append(call.name)
            continue
        if kind != "write" or call.arguments is None:
            continue
        output = env.execute(call.name, clone(call.arguments), requestor=call.requestor)
        replayed += 1
        if call.recorded is None:
            continue
        if _parsed(output.content) != _parsed(call.recorded["content"]):
            mismatches.append(
                {
                    "tool_call_id": call.id,
                    "name": call.name,
                    "recorded": _clip(call.recorded["content"]),
                    "replayed": _clip(output.content),
                }
            )
    return {"replayed_writes": replayed, "unknown_tools": unknown, "replay_mismatches": mismatches}


def _parsed(content: str) -> Any:
    """A tool output as JSON when it parses, else the raw string (upstream's strict check)."""
    try:
        return json.loads(content)
    except ValueError:
        return content


def any_tool_kind(env: EvaluableEnvironment, name: str) -> ToolKind | None:
    """A tool's kind on either side (upstream looks a replayed name up in both toolkits)."""
    kind = env.tool_kind(name)
    hook = getattr(env, "user_tool_kind", None)
    if kind is None and callable(hook):
        kind = hook(name)
    return kind


def _user_db_hash(env: EvaluableEnvironment) -> str | None:
    hook = getattr(env, "user_db_hash", None)
    return hook() if callable(hook) else None


def env_assertion_checks(
    env: EvaluableEnvironment, assertions: Sequence[EnvAssertion]
) -> tuple[float, list[dict[str, Any]]]:
    """Run each assertion function on the predicted environment's toolkit (user or agent)."""
    checks: list[dict[str, Any]] = []
    for assertion in assertions:
        check: dict[str, Any] = {
            "env_type": assertion.env_type,
            "func_name": assertion.func_name,
            "assert_value": assertion.assert_value,
        }
        try:
            result = _call_env_function(env, assertion)
        except Exception as exc:  # a broken assertion fails; it must not abort the scoring
            check.update(met=False, error=f"{type(exc).__name__}: {exc}")
        else:
            if isinstance(result, bool):
                check.update(met=result == assertion.assert_value, value=result)
            else:
                check.update(met=False, error=f"returned {type(result).__name__}, not bool")
        checks.append(check)
    score = 1.0 if all(c["met"] for c in checks) else 0.0
    return score, checks


def _call_env_function(env: EvaluableEnvironment, assertion: EnvAssertion) -> Any:
    attr = "user_toolkit" if assertion.env_type == "user" else "toolkit"
    toolkit = getattr(env, attr, None)
    if toolkit is None:
        raise ValueError(f"the environment has no {assertion.env_type} toolkit")
    func = getattr(toolkit, assertion.func_name, None)
    if assertion.func_name.startswith("_") or not callable(func):
        raise ValueError(f"{assertion.func_name!r} is not a function of the {attr}")
    result = func(**clone(assertion.arguments))
    sync = getattr(env, "sync", None)
    if callable(sync):
        sync()
    return result


# ---------------------------------------------------------------------------------------------
# COMMUNICATE and ACTION


def communicate_check(
    records: Sequence[MessageRecord], communicate_info: Sequence[str]
) -> tuple[float, list[dict[str, Any]]]:
    """Whether every info string appears in some non-empty assistant text (commas ignored)."""
    texts = [
        (index, record["content"].lower().replace(",", ""))
        for index, record in enumerate(records)
        if record["role"] == "assistant" and record["content"].strip()
    ]
    checks: list[dict[str, Any]] = []
    for info in communicate_info:
        needle = info.lower()
        found = next((index for index, text in texts if needle in text), None)
        checks.append({"info": info, "met": found is not None, "message_index": found})
    return (1.0 if all(c["met"] for c in checks) else 0.0), checks


def action_matches(action: GoldAction, name: str, arguments: dict[str, Any]) -> bool:
    """Official matching: same name, then equal arguments on the compared keys.

    The keys are ``compare_args``, or the tool call's own keys when it is null; ``[]`` (or a
    call without arguments under null) matches on the name alone. Python equality, so
    ``1 == 1.0`` and list order matters.
    """
    if action.name != name:
        return False
    keys = list(arguments) if action.compare_args is None else action.compare_args
    if not keys:
        return True
    called = {k: v for k, v in arguments.items() if k in keys}
    gold = {k: v for k, v in action.arguments.items() if k in keys}
    return called == gold


def action_check(
    calls: Sequence[TrajectoryCall], actions: Sequence[GoldAction]
) -> tuple[float, list[dict[str, Any]]]:
    """Whether every gold action is matched by some tool call (order and count ignored).

    All or nothing, as spec §6.6 describes. (Newer upstream code averages the per-action
    matches; that gives the same value on every shipped task, since each task scored by
    ACTION has exactly one gold action.)
    """
    checks = [
        {
            "action_id": action.action_id,
            "name": action.name,
            "met": any(
                call.arguments is not None and action_matches(action, call.name, call.arguments)
                for call in calls
            ),
        }
        for action in actions
    ]
    return (1.0 if all(c["met"] for c in checks) else 0.0), checks


# ---------------------------------------------------------------------------------------------
# NL_ASSERTION (LLM judge)


@dataclass
class JudgeVerdict:
    """The NL_ASSERTION component, its details and the judge's token usage."""

    score: float
    details: dict[str, Any]
    usage: list[LLMCall] = field(default_factory=list)


class JudgeAnswerError(ValueError):
    """The judge's reply is not the expected JSON object."""


@dataclass(frozen=True)
class JudgePrompts:
    """The three parts of the judge prompt file: system text, user message, retry message."""

    system: Prompt
    user: Prompt
    retry: Prompt
    ref: dict[str, str]  # name, version and sha256 of the whole prompt file


_SECTION = re.compile(r"^<!-- (system|user|retry) -->$", re.MULTILINE)


def load_judge_prompts() -> JudgePrompts:
    """Split ``nl_judge/v<N>.md`` into its ``<!-- system/user/retry -->`` sections."""
    prompt = load_prompt(JUDGE_PROMPT)
    parts = _SECTION.split(prompt.text)
    sections = {name: body.strip("\n") for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    missing = {"system", "user", "retry"} - sections.keys()
    if missing:
        raise ValueError(f"prompt {JUDGE_PROMPT}/{prompt.version} lacks sections {sorted(missing)}")
    part = {n: Prompt(f"{JUDGE_PROMPT}.{n}", prompt.version, sections[n]) for n in sections}
    return JudgePrompts(part["system"], part["user"], part["retry"], prompt.ref)


def render_judge_trajectory(records: Sequence[MessageRecord]) -> str:
    """The conversation as upstream shows it to the judge: ``"{role}: {content}"`` lines.

    Tool-call-only messages show ``None``; system messages are not part of the trajectory.
    """
    lines = []
    for record in records:
        if record["role"] == "system":
            continue
        content = record["content"]
        if not content and record.get("tool_calls"):
            content = "None"
        lines.append(f"{record['role']}: {content}")
    return "\n".join(lines)


def parse_judge_answer(text: str) -> list[dict[str, Any]]:
    """The judge's checks from its reply (JSON, possibly fenced or wrapped in prose)."""
    data = _load_json_object(text)
    results = data.get("results")
    if not isinstance(results, list) or not results:
        raise JudgeAnswerError('the JSON object has no non-empty "results" list')
    checks: list[dict[str, Any]] = []
    for index, item in enumerate(results):
        if not isinstance(item, dict):
            raise JudgeAnswerError(f"results[{index}] is not an object")
        met = _as_bool(item.get("metExpectation"))
        if met is None:
            raise JudgeAnswerError(f"results[{index}].metExpectation is not true or false")
        checks.append(
            {
                "expectedOutcome": str(item.get("expectedOutcome", "")),
                "reasoning": str(item.get("reasoning", "")),
                "met": met,
            }
        )
    return checks


def _load_json_object(text: str) -> dict[str, Any]:
    stripped = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", stripped, re.DOTALL)
    candidates = [fenced.group(1) if fenced else stripped]
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    raise JudgeAnswerError("the reply is not a JSON object")


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


async def judge_nl_assertions(
    judge: BaseChatModel,
    records: Sequence[MessageRecord],
    assertions: Sequence[str],
    *,
    model_name: str = "",
    retries: RetryPolicy,
) -> JudgeVerdict:
    """Ask the judge whether every assertion holds; one retry on a malformed answer.

    A second malformed answer scores 0 and is recorded as a judge error in the details.
    """
    prompts = load_judge_prompts()
    label = model_name or model_label(judge)
    messages: list[BaseMessage] = [
        SystemMessage(content=prompts.system.render()),
        HumanMessage(
            content=prompts.user.render(
                conversation=render_judge_trajectory(records),
                expected_outcomes=repr(list(assertions)),
            )
        ),
    ]
    details: dict[str, Any] = {"model": label, "prompt": prompts.ref, "attempts": 0}
    temperature = getattr(judge, "temperature", None)
    if isinstance(temperature, int | float):
        details["temperature"] = temperature
    usage: list[LLMCall] = []
    errors: list[str] = []
    for _ in range(2):
        reply, call = await call_model(judge, messages, node=JUDGE_NODE, retries=retries)
        call["model"] = label
        usage.append(call)
        details["attempts"] += 1
        text = _reply_text(reply)
        try:
            checks = parse_judge_answer(text)
        except JudgeAnswerError as exc:
            errors.append(f"{exc}: {_clip(text)}")
            messages += [
                AIMessage(content=text),
                HumanMessage(content=prompts.retry.render(error=str(exc))),
            ]
            continue
        details["checks"] = checks
        if len(checks) != len(assertions):
            details["result_count_mismatch"] = {
                "assertions": len(assertions),
                "results": len(checks),
            }
        if errors:
            details["malformed_answers"] = errors
        score = 1.0 if all(c["met"] for c in checks) else 0.0
        return JudgeVerdict(score, details, usage)
    details["judge_error"] = errors
    return JudgeVerdict(0.0, details, usage)


def _reply_text(reply: AIMessage) -> str:
    content = reply.content
    if isinstance(content, str):
        return content
    return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content)


def _clip(text: str) -> str:
    if len(text) <= _MAX_DETAIL_CHARS:
        return text
    return text[:_MAX_DETAIL_CHARS] + f"... [{len(text) - _MAX_DETAIL_CHARS} more chars]"
