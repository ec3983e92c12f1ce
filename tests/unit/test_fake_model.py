"""The fake model answers only from the history it is sent, in both wire formats."""

from __future__ import annotations

import json

from testing.fake_model import (
    ACK,
    UNKNOWN,
    Said,
    answer,
    anthropic_events,
    anthropic_history,
    responses_events,
    responses_history,
)

PLANT = "Please remember this for later: the codeword is pinbot-0a1b2c."
ASK = "What is the codeword I gave you earlier in this conversation?"


def test_a_planted_codeword_is_acknowledged_without_repeating_it() -> None:
    reply = answer([Said("user", PLANT)])
    assert reply == ACK
    assert "pinbot-0a1b2c" not in reply


def test_the_codeword_comes_back_only_when_the_history_holds_it() -> None:
    remembered = [Said("user", PLANT), Said("assistant", ACK), Said("user", ASK)]
    assert answer(remembered) == "The codeword is pinbot-0a1b2c."
    assert answer([Said("user", ASK)]) == UNKNOWN


def test_the_newest_codeword_wins_and_the_question_itself_does_not_count() -> None:
    history = [
        Said("user", PLANT),
        Said("user", "Forget that: the codeword is pinbot-ffff."),
        Said("user", f"{ASK} (Hint: the codeword is not-this-one.)"),
    ]
    assert answer(history) == "The codeword is pinbot-ffff."


def test_anthropic_history_reads_text_blocks_and_leaves_the_system_prompt_out() -> None:
    body = {
        "system": [{"type": "text", "text": "the codeword is from-system"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": PLANT}]},
            {"role": "assistant", "content": ACK},
            {"role": "user", "content": [{"type": "tool_result", "content": "x"}, {"text": ASK}]},
        ],
    }
    history = anthropic_history(body)
    assert [s.role for s in history] == ["user", "assistant", "user"]
    assert answer(history) == "The codeword is pinbot-0a1b2c."


def test_responses_history_reads_messages_and_leaves_other_items_out() -> None:
    body = {
        "instructions": "the codeword is from-instructions",
        "input": [
            {"type": "message", "role": "developer", "content": "the codeword is from-dev"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": ASK}]},
            {"type": "function_call_output", "output": "the codeword is from-a-tool"},
        ],
    }
    assert answer(responses_history(body)) == UNKNOWN


def test_the_streams_carry_the_reply_and_end_the_way_each_client_waits_for() -> None:
    anthropic = list(anthropic_events("hello", "m", "msg_1"))
    assert [name for name, _ in anthropic][-1] == "message_stop"
    assert "hello" in json.dumps(anthropic)
    responses = list(responses_events("hello", "m", "1"))
    name, done = responses[-1]
    assert name == "response.completed"
    assert done["response"]["output"][0]["content"][0]["text"] == "hello"
