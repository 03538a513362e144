"""tau-trait user traits (parsing, persona text) and the tau-bench v1 user prompt."""

from __future__ import annotations

import pytest

from fama.envs.tau_trait.traits import (
    LEVELS,
    TRAITS,
    format_traits,
    parse_traits,
    render_persona,
    validate_traits,
)
from fama.envs.tau_trait.user import (
    DEFAULT_RULE,
    STEER_RULE,
    render_user_prompt,
    user_prompt_refs,
)

INSTRUCTION = "\n        You are Lisa Chen, email lisa.chen@email.com. Add an iPhone 15.\n        "


def upstream_prompt(instruction: str, steer: bool) -> str:
    """tau-trait's LLMUserSimulationEnv.build_system_prompt, spelled out independently."""
    rule = STEER_RULE if steer else DEFAULT_RULE
    return (
        "You are a user interacting with an agent."
        f"\n\nInstruction: {instruction}\n"
        "\nRules:\n"
        "- Just generate one line at a time to simulate the user's message.\n"
        f"- {rule}\n"
        "- Do not hallucinate information that is not provided in the instruction. For example, "
        "if the agent asks for the order id but it is not mentioned in the instruction, do not "
        "make up an order id, just say you do not remember or have it.\n"
        "- If the instruction goal is satisified, generate '###STOP###' as a standalone message "
        "without anything else to end the conversation.\n"
        "- Do not repeat the exact instruction in the conversation. Instead, use your own words "
        "to convey the same information.\n"
        "- Try to make the conversation as natural as possible, and stick to the personalities "
        "in the instruction.\n"
    )


def test_parse_traits() -> None:
    assert parse_traits("") == {}
    assert parse_traits(" confusion=LOW , impatience=high ") == {
        "impatience": "high",
        "confusion": "low",
    }
    assert parse_traits("skepticism=medium") == {"skeptical": "medium"}
    assert format_traits(parse_traits("incoherence=high,impatience=low")) == (
        "impatience=low,incoherence=high"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("patience=high", "unknown trait 'patience'"),
        ("impatience=extreme", "unknown level 'extreme'"),
        ("impatience", "write trait=level"),
        ("impatience=", "write trait=level"),
        ("impatience=low,impatience=high", "more than once"),
    ],
)
def test_bad_traits_are_clear_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_traits(spec)


def test_validate_rejects_alias_duplicates() -> None:
    with pytest.raises(ValueError, match="more than once"):
        validate_traits({"skeptical": "low", "skepticism": "high"})


def test_every_trait_and_level_has_a_persona_line() -> None:
    for trait in TRAITS:
        texts = {render_persona({trait: level}) for level in LEVELS}
        assert len(texts) == 3
        for level in LEVELS:
            assert f"- {trait} ({level}): " in render_persona({trait: level})
    assert render_persona({}) == ""


def test_combined_persona_lists_traits_in_canonical_order() -> None:
    persona = render_persona({"incoherence": "low", "impatience": "high"})
    assert persona.index("- impatience (high)") < persona.index("- incoherence (low)")
    assert persona.startswith("Persona traits:")
    assert "{" not in persona


def test_user_prompt_without_traits_is_upstream_exact() -> None:
    assert render_user_prompt(INSTRUCTION) == upstream_prompt(INSTRUCTION, steer=False)
    assert render_user_prompt(INSTRUCTION, {}) == upstream_prompt(INSTRUCTION, steer=False)
    assert [r["name"] for r in user_prompt_refs({})] == ["tau_bench_user"]


def test_user_prompt_with_traits_uses_the_steer_rule_and_persona() -> None:
    traits = {"impatience": "high", "confusion": "low"}
    prompt = render_user_prompt(INSTRUCTION, traits)
    base = upstream_prompt(INSTRUCTION, steer=True)
    assert prompt.startswith(base)
    assert DEFAULT_RULE not in prompt
    assert prompt == base + "\n" + render_persona(traits)
    assert [r["name"] for r in user_prompt_refs(traits)] == ["tau_bench_user", "tau_trait_traits"]


def test_instruction_braces_are_kept_verbatim() -> None:
    assert "Instruction: {odd} text\n" in render_user_prompt("{odd} text")
