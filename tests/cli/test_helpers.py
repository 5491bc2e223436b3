"""The command line's pure parts: formatting, the Modelfile reader, exit codes."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ollama_actor import (
    ConnectError,
    HTTPError,
    ReadTimeout,
    ResponseError,
    StreamCancelled,
    ValidationError,
)
from ollama_actor._cli._exit import UsageError, describe, exit_code
from ollama_actor._cli._format import ago, go_duration, go_g, human_bytes, table, until
from ollama_actor._cli._modelfile import model_files, parse_modelfile
from ollama_actor._cli._repl import parameter_value
from ollama_actor._cli._show import go_value, show_info

NOW = datetime(2026, 1, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (487, "487 B"), (1500, "1.5 KB"), (637_699_456, "637 MB"),
     (2_019_378_292, "2.0 GB"), (10**13, "10 TB")],
)  # fmt: skip
def test_human_bytes(size, text):
    assert human_bytes(size) == text


MINUTE, HOUR = 60 * 10**9, 3600 * 10**9


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    # Go's own table (time_test.go, durationTests), and two of `ollama run --verbose`
    [(0, "0s"), (1, "1ns"), (1100, "1.1µs"), (2_200_000, "2.2ms"), (3_300_000_000, "3.3s"),
     (4 * MINUTE + 5 * 10**9, "4m5s"), (4 * MINUTE + 5001 * 10**6, "4m5.001s"),
     (5 * HOUR + 6 * MINUTE + 7001 * 10**6, "5h6m7.001s"), (8 * MINUTE + 1, "8m0.000000001s"),
     (HOUR, "1h0m0s"), (-1500, "-1.5µs"), (174_560_334, "174.560334ms"),
     (1_234_567_891, "1.234567891s")],
)  # fmt: skip
def test_durations_as_go_writes_them(nanoseconds, text):
    assert go_duration(nanoseconds) == text


@pytest.mark.parametrize(
    ("value", "text"),
    # what fmt.Sprintf("%g", float64(v)) writes
    [(4096, "4096"), (1e6, "1e+06"), (500000, "500000"), (1234567, "1.234567e+06"),
     (0.1234567, "0.1234567"), (1e-5, "1e-05"), (0.0001, "0.0001"), (100.0, "100"),
     (123456.7, "123456.7"), (-3.0, "-3"), (1e10, "1e+10"), (2.5e-7, "2.5e-07")],
)  # fmt: skip
def test_floats_as_go_writes_them(value, text):
    assert go_g(value) == text


def test_times():
    assert ago("2026-01-08T12:00:00.123456789Z", NOW) == "2 days ago"
    assert ago("2026-01-10T11:59:00Z", NOW) == "About a minute ago"
    assert ago("2026-01-10T11:00:00Z", NOW) == "About an hour ago"
    assert ago("2026-01-09T12:00:00Z", NOW) == "24 hours ago"
    assert ago("2025-10-10T12:00:00Z", NOW) == "3 months ago"
    assert until("2026-01-10T12:04:30Z", NOW) == "4 minutes from now"
    assert until("2318-01-01T00:00:00Z", NOW) == "Forever"
    assert ago("not a time", NOW) == "not a time"


def test_table_pads_all_but_the_last_column():
    assert table(("A", "LONG"), [("xyz", "1"), ("q", "22")]).splitlines() == [
        "A      LONG",
        "xyz    1",
        "q      22",
    ]


def test_modelfile(tmp_path):
    (tmp_path / "w.gguf").write_bytes(b"x")
    parsed = parse_modelfile(
        "# a comment\n"
        "FROM ./w.gguf\n"
        "parameter num_ctx 4096\n"
        'PARAMETER stop "<a>"\n'
        "PARAMETER stop <b>\n"
        'TEMPLATE """{{ .Prompt }}\n"""\n'
        'MESSAGE user """two\nlines"""\n'
        "MESSAGE assistant ok\n"
        "LICENSE MIT\n",
        tmp_path,
    )
    assert parsed.files == {"w.gguf": tmp_path / "w.gguf"}
    assert parsed.params == {
        "parameters": {"num_ctx": 4096, "stop": ["<a>", "<b>"]},
        "template": "{{ .Prompt }}\n",
        "messages": [
            {"role": "user", "content": "two\nlines"},
            {"role": "assistant", "content": "ok"},
        ],
        "license": ["MIT"],
    }
    assert parse_modelfile("FROM llama3.2\n", tmp_path).params == {"from": "llama3.2"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("PARAMETER x 1\n", "no FROM line"),
        ("FROM llama3.2\nBOGUS x\n", "line 2: unknown instruction BOGUS"),
        ('FROM llama3.2\nSYSTEM """never closed\n', 'line 2: a """ string is never closed'),
        ("FROM ./missing.gguf\n", "line 1: no such file: ./missing.gguf"),
        ("FROM llama3.2\nMESSAGE robot hi\n", "MESSAGE role must be one of"),
        ("FROM llama3.2\nREQUIRES soon\n", "line 2: REQUIRES must be a version such as"),
        ("FROM llama3.2\nDRAFT ./gone\n", "line 2: no such file: ./gone"),
        ("FROM /\n", "line 1: no model files in the directory /"),
    ],
)
def test_modelfile_errors(text, problem):
    with pytest.raises(UsageError, match=problem):
        parse_modelfile(text, Path("/nonexistent"))


def test_modelfile_directories_drafts_and_the_newer_instructions(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.gguf").write_bytes(b"w")
    (tmp_path / "model" / "params.json").write_bytes(b"{}")
    (tmp_path / "draft.gguf").write_bytes(b"d")
    (tmp_path / "lora").mkdir()
    (tmp_path / "lora" / "adapter.gguf").write_bytes(b"a")
    parsed = parse_modelfile(
        "FROM model\nDRAFT ./draft.gguf\nADAPTER lora\nRENDERER r\nPARSER p\nREQUIRES v0.14.1\n",
        tmp_path,
    )
    assert parsed.files == {
        "weights.gguf": tmp_path / "model" / "weights.gguf",
        "params.json": tmp_path / "model" / "params.json",
    }
    assert parsed.draft_files == {"draft.gguf": tmp_path / "draft.gguf"}
    assert parsed.adapters == {"adapter.gguf": tmp_path / "lora" / "adapter.gguf"}
    assert parsed.params == {"renderer": "r", "parser": "p", "requires": "0.14.1"}
    assert [key for key, _name, _path in parsed.uploads()] == [
        "files", "files", "adapters", "draft_files",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("present", "taken"),
    [
        # safetensors weights win, also one directory down; then config, template, tokenizer
        (["model.safetensors", "x/model-1.safetensors", "a.gguf", "config.json",
          "x/config.json", "chat_template.jinja", "tokenizer.model", "notes.txt"],
         ["model.safetensors", "x/model-1.safetensors", "config.json", "x/config.json",
          "chat_template.jinja", "tokenizer.model"]),
        (["consolidated.00.pth", "params.json", "x/tokenizer.model"],
         ["consolidated.00.pth", "params.json", "x/tokenizer.model"]),
        (["pytorch_model.bin", "other.bin"], ["pytorch_model.bin"]),
        (["b.gguf", "a.gguf", "c.bin"], ["a.gguf", "b.gguf"]),
        (["c.bin"], ["c.bin"]),
        (["config.json", "README.md"], []),  # no weights: nothing to take
    ],
)  # fmt: skip
def test_the_files_taken_from_a_models_directory(tmp_path, present, taken):
    for name in present:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in model_files(tmp_path)] == taken


def test_weights_that_are_no_files_do_not_hide_the_real_ones(tmp_path):
    # Ollama's filesForModel skips a match it cannot read and tries the next kind of weights;
    # a dangling link or a directory named like weights left only the JSON files to upload
    (tmp_path / "model.safetensors").symlink_to(tmp_path / "gone")
    (tmp_path / "old.gguf").mkdir()
    (tmp_path / "weights.bin").write_bytes(b"GGUF")
    (tmp_path / "config.json").write_bytes(b"{}")
    taken = [p.relative_to(tmp_path).as_posix() for p in model_files(tmp_path)]
    assert taken == ["weights.bin", "config.json"]
    (tmp_path / "weights.bin").unlink()
    assert model_files(tmp_path) == []  # no weights at all: nothing to take


@pytest.mark.parametrize(
    ("name", "values", "value"),
    [
        ("num_ctx", ["8192"], 8192),
        ("temperature", ["0.5"], 0.5),
        ("use_mmap", ["F"], False),
        ("use_mmap", ["true"], True),
        ("stop", ["<a>", "<b>"], ["<a>", "<b>"]),
        ("seed", ["1", "2"], 1),  # Ollama reads the first value
    ],
)
def test_set_parameter_values_are_read_as_ollama_reads_them(name, values, value):
    assert parameter_value(name, values) == value


@pytest.mark.parametrize(
    ("name", "values", "problem"),
    [
        ("num_ctx", ["8k"], "invalid int value [8k]"),
        ("num_ctx", ["1.5"], "invalid int value [1.5]"),
        ("top_p", ["high", "x"], "invalid float value [high x]"),
        ("use_mmap", ["yes"], "invalid bool value [yes]"),
        ("temprature", ["1"], "unknown parameter 'temprature'"),
    ],
)
def test_set_parameter_refusals_say_what_ollama_says(name, values, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        parameter_value(name, values)


@pytest.mark.parametrize(
    ("name", "values", "problem"),
    [
        ("num_ctx", ["99999999999999999999999"], "invalid int value [99999999999999999999999]"),
        ("num_ctx", ["1_000"], "invalid int value [1_000]"),  # Go's base-10 digits only
        ("num_ctx", ["\u0663"], "invalid int value [\u0663]"),  # an Arabic-Indic three
        ("temperature", ["1e39"], "invalid float value [1e39]"),  # beyond Go's float32
        ("temperature", ["1_0"], "invalid float value [1_0]"),
        ("temperature", ["nan"], "invalid float value [nan]"),  # Ollama takes these, and then
        ("top_p", ["inf"], "invalid float value [inf]"),  # cannot send the next question
        ("top_p", ["-Infinity"], "invalid float value [-Infinity]"),
    ],
)
def test_set_parameter_refuses_values_a_request_cannot_carry(name, values, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        parameter_value(name, values)


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (2, "2"), (0.5, "0.5"), (["a", 1.0], "[a 1]"), (None, "<nil>"), ("s", "s")],
)
def test_values_as_go_prints_them(value, text):
    assert go_value(value) == text


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ValidationError("completion", "prompt", "is required"), 2),
        (UsageError("no such file"), 2),
        (HTTPError(404, "model 'x' not found"), 2),
        (HTTPError(400, "bad"), 2),
        (HTTPError(408, "timeout"), 1),
        (HTTPError(429, "slow down"), 1),
        (HTTPError(500, "boom"), 1),
        (ResponseError("out of memory"), 1),
        (ConnectError("refused"), 1),
        (ReadTimeout("silence"), 1),
        (StreamCancelled("cancelled"), 1),
        (RuntimeError("a bug"), 1),
        (KeyboardInterrupt(), 130),
    ],
)
def test_exit_codes(error, code):
    assert exit_code(error) == code


def test_errors_are_one_line():
    assert describe(HTTPError(500, "line one\nline two", method="GET", path="/api/tags")) == (
        "line one / line two (HTTP 500 from GET /api/tags)"
    )
    assert describe(RuntimeError("x")) == "RuntimeError: x (run with --debug for the traceback)"
    error = ValidationError("completion", "options.seed", "must be an integer, not str")
    assert describe(error, {"options": "--option"}) == "--option seed: must be an integer, not str"


@pytest.mark.parametrize(
    "response",
    [
        {"projector_info": {"clip.has_vision_encoder": True}},  # no architecture to show
        {"model_info": {}},
        {"tensors": ["not a tensor", {"name": "t", "type": "F16", "shape": [2]}]},
    ],
)
def test_show_leaves_out_what_it_cannot_show(response):
    # Ollama's own command panics on such replies; a section with no rows is left out
    shown = show_info({"details": {"quantization_level": "Q4_0"}, **response}, verbose=True)
    assert shown.startswith("  Model\n")
    assert "    quantization    Q4_0\n" in shown
    assert "Projector" not in shown
    assert "Metadata" not in shown
    if "tensors" in response:
        assert shown.endswith("  Tensors\n    t    F16    [2]\n")
