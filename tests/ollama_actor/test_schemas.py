"""Each endpoint's parameter schema: what passes, and the ValidationError for what does not."""

import math

import pytest

from ollama_actor import Ollama, UncheckedOptions, ValidationError
from ollama_actor._schemas import ENDPOINTS, OPTION_NAMES, validate

# No server listens here: every call below must fail validation before any I/O.
client = Ollama("http://127.0.0.1:9", timeout=0.5)

CONTRACT_ENDPOINTS = {
    "completion", "chat", "embed", "embeddings", "list_models", "list_running", "show_model",
    "create_model", "copy_model", "delete_model", "pull_model", "push_model", "preload", "unload",
    "version",
}  # fmt: skip


HOSTED_ENDPOINTS = {"web_search", "web_fetch"}  # ollama.com's, as ollama-python has them


def test_every_contract_endpoint_has_a_schema_and_a_method():
    assert set(ENDPOINTS) == CONTRACT_ENDPOINTS | HOSTED_ENDPOINTS
    assert {name for name, e in ENDPOINTS.items() if e.hosted} == HOSTED_ENDPOINTS
    for name in set(ENDPOINTS) | {"check_blob", "create_blob"}:
        assert callable(getattr(client, name))


@pytest.mark.parametrize(
    ("endpoint", "params", "field", "problem"),
    [
        ("completion", {"prompt": "hi"}, "model", "is required"),
        ("completion", {"model": "m"}, "prompt", "is required"),
        ("completion", {"model": "m", "prompt": "hi", "bogus": 1}, "bogus", "is not a parameter"),
        ("completion", {"model": 3, "prompt": "hi"}, "model", "must be a string"),
        ("completion", {"model": "", "prompt": "hi"}, "model", "non-empty"),
        ("completion", {"model": "m", "prompt": "hi", "raw": "yes"}, "raw", "true or false"),
        ("completion", {"model": "m", "prompt": "x", "think": "hard"}, "think", "'low'"),
        ("completion", {"model": "m", "prompt": "x", "keep_alive": "5"}, "keep_alive", "unit"),
        (
            "completion",
            {"model": "m", "prompt": "x", "top_logprobs": 21},
            "top_logprobs",
            "between",
        ),
        ("completion", {"model": "m", "prompt": "x", "format": "xml"}, "format", "'json'"),
        ("completion", {"model": "m", "prompt": "x", "images": ["!!"]}, "images[0]", "base64"),
        ("completion", {"model": "m", "prompt": "x", "context": [1, "2"]}, "context[1]", "integer"),
        (
            "completion",
            {"model": "m", "prompt": "x", "options": {"temperature": "hot"}},
            "options.temperature",
            "number",
        ),
        (
            "completion",
            {"model": "m", "prompt": "x", "options": {"num_ctx": 2.5}},
            "options.num_ctx",
            "integer",
        ),
        (
            "completion",
            {"model": "m", "prompt": "x", "options": {"stop": "x"}},
            "options.stop",
            "list",
        ),
        ("chat", {"model": "m"}, "messages", "is required"),
        ("chat", {"model": "m", "messages": "hi"}, "messages", "must be a list"),
        ("chat", {"model": "m", "messages": [{"content": "hi"}]}, "messages[0].role", "required"),
        (
            "chat",
            {"model": "m", "messages": [{"role": "user", "content": 1}]},
            "messages[0].content",
            "string",
        ),
        (
            "chat",
            {"model": "m", "messages": [{"role": "user", "content": "x", "colour": "red"}]},
            "messages[0].colour",
            "not a known field",
        ),
        (
            "chat",
            {"model": "m", "messages": [], "tools": [{"type": "function", "function": {}}]},
            "tools[0].function.name",
            "required",
        ),
        ("chat", {"model": "m", "messages": [], "tools": [{}]}, "tools[0].type", "required"),
        ("chat", {"model": "m", "messages": [], "tools": [{"type": 1}]}, "tools[0].type", "string"),
        ("chat", {"model": "m", "messages": [], "tools": [max]}, "tools[0]", "parameters"),
        ("completion", {"model": "m", "prompt": "x", "width": 0}, "width", "1 or more"),
        ("completion", {"model": "m", "prompt": "x", "steps": 2.0}, "steps", "integer"),
        ("show_model", {"model": "m", "options": {"temprature": 1}}, "options.temprature", "mean"),
        ("create_model", {"model": "m", "renderer": 1}, "renderer", "string"),
        ("create_model", {"model": "m", "info": []}, "info", "dict"),
        ("create_model", {"model": "m", "quantize": "q", "quantization": "q"}, "quantize", "twice"),
        ("web_search", {}, "query", "is required"),
        ("web_search", {"query": "q", "max_results": 0}, "max_results", "1 or more"),
        ("web_fetch", {"url": 1}, "url", "string"),
        ("embed", {"model": "m"}, "input", "is required"),
        ("embed", {"model": "m", "input": ["a", 2]}, "input", "a string or a list of strings"),
        ("embed", {"model": "m", "input": "a", "dimensions": "8"}, "dimensions", "integer"),
        ("embeddings", {"model": "m"}, "prompt", "is required"),
        ("show_model", {}, "model", "is required"),
        ("show_model", {"model": "a", "name": "b"}, "model", "given twice"),
        ("show_model", {"model": "a", "verbose": 1}, "verbose", "true or false"),
        ("copy_model", {"source": "a"}, "destination", "is required"),
        ("delete_model", {"model": None}, "model", "must be a string"),
        ("pull_model", {"model": "m", "insecure": "no"}, "insecure", "true or false"),
        ("push_model", {}, "model", "is required"),
        ("create_model", {"model": "m", "license": 3}, "license", "a string or a list"),
        ("create_model", {"model": "m", "files": []}, "files", "dict"),
        ("preload", {"model": "m", "keep_alive": []}, "keep_alive", "seconds"),
        ("unload", {"model": "m", "keep_alive": 5}, "keep_alive", "is not a parameter"),
        ("list_models", {"model": "m"}, "model", "is not a parameter"),
    ],
)
def test_invalid_parameters_raise_before_any_io(endpoint, params, field, problem):
    with pytest.raises(ValidationError) as info:
        getattr(client, endpoint)(**params)
    assert info.value.endpoint == endpoint
    assert info.value.field == field
    assert problem in str(info.value)


def test_stream_on_an_endpoint_that_cannot_stream():
    with pytest.raises(ValidationError, match="stream"):
        client.embed(model="m", input="x", stream=True)


def test_stream_must_be_a_bool_or_a_recipient():
    with pytest.raises(ValidationError, match="recipient"):
        client.chat(model="m", messages=[], stream="yes")


def test_bad_timeout_is_a_validation_error():
    with pytest.raises(ValidationError, match="timeout"):
        client.list_models(timeout=-1)


def test_blob_digests_are_checked_before_they_reach_a_url():
    for bad in ["sha256:xyz", "sha256:" + "A" * 64, "../../etc/passwd", "sha256:" + "0" * 63]:
        with pytest.raises(ValidationError, match="64"):
            client.check_blob(bad)
    with pytest.raises(ValidationError, match="bytes, a path or a binary file"):
        client.create_blob(12)  # type: ignore[arg-type]


def test_legacy_names_and_conversions():
    body = validate(ENDPOINTS["show_model"], {"name": "llama3.2"})
    assert body == {"model": "llama3.2"}
    body = validate(ENDPOINTS["create_model"], {"name": "x", "from_": "llama3.2"})
    assert body == {"model": "x", "from": "llama3.2"}
    body = validate(ENDPOINTS["completion"], {"model": "m", "prompt": "p", "images": [b"\x00\x01"]})
    assert body["images"] == ["AAE="]
    body = validate(ENDPOINTS["completion"], {"model": "m", "prompt": "p", "suffix": None})
    assert "suffix" not in body  # None means "not given" for optional parameters


@pytest.mark.parametrize("value", [0, -1, 3600, 2.5, "5m", "-1s", "1h30m", "0", "250ms"])
def test_keep_alive_accepts_what_ollama_accepts(value):
    assert (
        validate(ENDPOINTS["preload"], {"model": "m", "keep_alive": value})["keep_alive"] == value
    )


# Ollama's ``api.Options`` and ``api.Runner`` fields (api/types.go) by the Go kind
# ``Options.FromMap`` reads them as.
GO_INT = ("num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx", "num_batch",
          "num_gpu", "main_gpu", "num_thread", "draft_num_predict")  # fmt: skip
GO_FLOAT32 = ("top_p", "min_p", "typical_p", "temperature", "repeat_penalty",
              "presence_penalty", "frequency_penalty")  # fmt: skip


def test_the_known_options_are_ollamas_options_and_runner_fields():
    assert {*GO_INT, *GO_FLOAT32, "use_mmap", "stop"} == OPTION_NAMES


def options_of(options):
    return validate(ENDPOINTS["completion"], {"model": "m", "prompt": "x", "options": options})[
        "options"
    ]


def test_option_values_are_taken_as_ollama_takes_them():
    values = {name: 10.0 for name in GO_INT} | {name: 1 for name in GO_FLOAT32}
    values |= {"use_mmap": False, "stop": ["\n"], "seed": None}
    checked = options_of(values)
    assert checked["num_predict"] == 10
    assert type(checked["num_predict"]) is int  # an integral float is an integer to Ollama
    assert checked["temperature"] == 1
    assert checked["seed"] is None  # Ollama skips a null option
    for name, bad in (("num_predict", True), ("num_ctx", "8k"), ("use_mmap", 1), ("stop", [1])):
        with pytest.raises(ValidationError, match=rf"options\.{name}"):
            options_of({name: bad})


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("temprature", "is not one of Ollama's options (did you mean 'temperature'?)"),
        ("num_predicts", "is not one of Ollama's options (did you mean 'num_predict'?)"),
        ("top-k", "is not one of Ollama's options (did you mean 'top_k'?)"),
        ("colour", "is not one of Ollama's options;"),
        ("mirostat", "is no longer one of Ollama's options"),
    ],
)
def test_a_misspelt_option_is_refused_with_the_nearest_name(name, problem):
    with pytest.raises(ValidationError) as info:
        client.chat(model="m", messages=[], options={name: 0.2})
    assert info.value.field == f"options.{name}"
    assert problem in info.value.problem
    assert info.value.problem.endswith("send it anyway with UncheckedOptions(...)")


def test_unchecked_options_send_newer_names_and_still_check_known_values():
    assert options_of(UncheckedOptions(new_knob=1, num_ctx=8192.0)) == {
        "new_knob": 1,
        "num_ctx": 8192,
    }
    with pytest.raises(ValidationError, match=r"options\.temperature"):
        options_of(UncheckedOptions(temperature="hot", new_knob=1))


def test_header_injection_is_refused():
    with pytest.raises(ValidationError, match="headers"):
        Ollama("http://127.0.0.1:9", headers={"X-A": "1\r\nX-B: 2"})
    with pytest.raises(ValidationError, match="headers"):
        Ollama("http://127.0.0.1:9", headers={"X A": "1"})


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, 10**400], ids=["nan", "inf", "-inf", "10**400"]
)
def test_a_number_json_cannot_carry_is_refused_before_any_io(value):
    # Python's json would write NaN or Infinity, which Ollama refuses as invalid JSON.
    with pytest.raises(ValidationError, match="must be a finite number") as info:
        client.completion(model="m", prompt="x", options={"temperature": value})
    assert info.value.field == "options.temperature"
    with pytest.raises(ValidationError, match="must be a finite number") as info:
        client.completion(model="m", prompt="x", keep_alive=value)
    assert info.value.field == "keep_alive"


def test_nan_anywhere_in_a_body_is_refused_before_any_io():
    nested = [
        {"options": UncheckedOptions(new_knob=math.nan)},
        {"format": {"type": "object", "properties": {"x": {"maximum": math.inf}}}},
    ]
    for params in nested:
        with pytest.raises(ValidationError, match="cannot be encoded as JSON"):
            client.completion(model="m", prompt="x", **params)


def test_an_integer_option_must_fit_gos_int():
    assert options_of({"num_ctx": 2**63 - 1, "seed": -(2**63)}) == {
        "num_ctx": 2**63 - 1,
        "seed": -(2**63),
    }
    for bad in (2**63, -(2**63) - 1, 1e20, 10**30):
        with pytest.raises(ValidationError, match="must fit in a 64-bit integer"):
            options_of({"num_ctx": bad})


def test_a_key_that_is_not_a_string_is_named():
    for options in ({1: 0.2}, UncheckedOptions({1: 0.2})):  # not "not UncheckedOptions"
        with pytest.raises(ValidationError) as info:
            options_of(options)
        assert (info.value.field, info.value.problem) == (
            "options",
            "must have string keys, not 1 (int)",
        )


@pytest.mark.parametrize(("value", "ok"), [(-1, False), (0, True), (20, True), (21, False)])
def test_top_logprobs_bounds_are_inclusive(value, ok):
    # Ollama takes 0 to 20, both ends included.
    params = {"model": "m", "prompt": "x", "top_logprobs": value}
    if ok:
        assert validate(ENDPOINTS["completion"], params)["top_logprobs"] == value
    else:
        with pytest.raises(ValidationError, match=f"must be between 0 and 20, not {value}"):
            validate(ENDPOINTS["completion"], params)


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (4096, True)])
def test_a_lower_bound_alone_is_inclusive(value, ok):
    params = {"model": "m", "prompt": "x", "width": value}
    if ok:
        assert validate(ENDPOINTS["completion"], params)["width"] == value
    else:
        with pytest.raises(ValidationError, match=f"must be 1 or more, not {value}"):
            validate(ENDPOINTS["completion"], params)


@pytest.mark.parametrize(
    ("image", "named"), [(3, "int"), (None, "None"), (2.5, "float"), ([b"x"], "list")]
)
def test_an_image_of_the_wrong_type_is_refused_naming_its_type(image, named):
    params = {"model": "m", "prompt": "x", "images": ["aGk=", image]}
    with pytest.raises(ValidationError) as info:
        validate(ENDPOINTS["completion"], params)
    assert info.value.field == "images[1]"
    assert "must be base64 text, bytes or a file's path" in info.value.problem
    assert named in info.value.problem
