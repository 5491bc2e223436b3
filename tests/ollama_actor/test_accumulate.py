"""Accumulating a stream into what Ollama's non-streaming reply would be."""

from ollama_actor._accumulate import Accumulator


def test_generate_joins_text_and_thinking_and_keeps_final_metrics():
    acc = Accumulator("generate")
    acc.add({"model": "m", "response": "", "thinking": "Hm", "done": False})
    acc.add({"model": "m", "response": "", "thinking": "m.", "done": False})
    acc.add({"model": "m", "response": "The", "done": False})
    acc.add({"model": "m", "response": " sky", "done": False})
    acc.add({"model": "m", "response": "", "done": True, "done_reason": "stop", "eval_count": 4})
    assert acc.result() == {
        "model": "m",
        "response": "The sky",
        "thinking": "Hmm.",
        "done": True,
        "done_reason": "stop",
        "eval_count": 4,
    }


def test_chat_joins_content_thinking_and_late_tool_calls():
    call = {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}
    acc = Accumulator("chat")
    acc.add(
        {"message": {"role": "assistant", "content": "", "thinking": "I should"}, "done": False}
    )
    acc.add({"message": {"role": "assistant", "content": "Let me"}, "done": False})
    acc.add(
        {"message": {"role": "assistant", "content": " check", "tool_calls": [call]}, "done": False}
    )
    acc.add({"message": {"role": "assistant", "content": ""}, "done": True, "total_duration": 9})
    result = acc.result()
    assert result["message"] == {
        "role": "assistant",
        "content": "Let me check",
        "thinking": "I should",
        "tool_calls": [call],
    }
    assert result["done"] is True
    assert result["total_duration"] == 9


def test_chat_final_chunk_without_message_still_gives_one():
    acc = Accumulator("chat")
    acc.add({"message": {"role": "assistant", "content": "Hi"}, "done": False})
    acc.add({"done": True})
    assert acc.result()["message"] == {"role": "assistant", "content": "Hi"}


def test_progress_result_is_the_last_status():
    acc = Accumulator("progress")
    acc.add({"status": "pulling manifest"})
    acc.add({"status": "pulling abc", "digest": "sha256:abc", "total": 10, "completed": 5})
    acc.add({"status": "success"})
    assert acc.result() == {"status": "success"}


def test_empty_stream_result():
    assert Accumulator("generate").result() == {}
