"""Each endpoint's keyword arguments are typed, from the one schema declaration.

`ollama_actor._params` is generated from `_schemas.ENDPOINTS` (``make params``); it must be what
the generator writes now, and mypy must then refuse a misspelt or mistyped parameter while it
accepts what ollama-python users pass, keeping the result type of each ``stream``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from ollama_actor import _gen_params, _params
from ollama_actor._schemas import ENDPOINTS

ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_types_are_current():
    assert _gen_params.OUTPUT.read_text(encoding="utf-8") == _gen_params.render(), (
        "ollama_actor/_params.py is stale: run `make params`"
    )


def test_each_endpoint_has_its_parameters_as_a_typed_dict():
    for name, endpoint in ENDPOINTS.items():
        camel = "".join(part.capitalize() for part in name.split("_"))
        params = getattr(_params, f"{camel}Params")
        expected = {"from_" if p == "from" else p for p in endpoint.params}
        assert set(params.__annotations__) == expected, name
        required = {p for p, spec in endpoint.params.items() if spec.required}
        assert params.__required_keys__ == required, name
        assert hasattr(_params, f"{camel}Call")


SNIPPET = '''
    from pathlib import Path

    import ollama

    from actors import Inbox
    from ollama_actor import Ollama

    client = Ollama()

    def add(a: int, b: int) -> int:
        """Add.

        Args:
            a: one
            b: two
        """
        return a + b

    reveal_type(client.completion(model="m", prompt="x"))  # line 19
    reveal_type(client.completion(model="m", prompt="x", stream=True))
    reveal_type(client.chat(model="m", messages=[], stream=Inbox(), retry=None))
    reveal_type(client.copy_model(source="a", destination="b"))
    reveal_type(client.web_search(query="q", max_results=3))
    client.chat(
        model="m",
        messages=[ollama.Message(role="user", content="hi"), {"role": "user", "content": "?"}],
        tools=[add, ollama.Tool(), {"type": "function", "function": {"name": "f"}}],
        options=ollama.Options(temperature=0),
        think="high",
        keep_alive="5m",
    )
    client.completion(model="m", prompt="x", images=[Path("a.png"), b"...", "aGk="], width=8)
    client.create_model(model="m", from_="llama3.2", renderer="r", stream=True)
    client.completion(model="m", promt="x")  # line 34
    client.chat(model="m", messages=[], think="hard")  # line 35
    client.embed(model="m")  # line 36
    client.show_model(model="m", verbose="yes")  # line 37
    client.list_models(model="m")  # line 38
'''


def test_mypy_refuses_a_misspelt_parameter_and_keeps_the_stream_overloads(tmp_path):
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(SNIPPET).lstrip("\n"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(snippet)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report: dict[int, list[str]] = {}
    for line in result.stdout.splitlines():
        found = re.match(r".*snippet\.py:(\d+): (?:error|note): (.*)", line)
        if found:
            report.setdefault(int(found.group(1)), []).append(found.group(2))
    revealed = {n: m[0] for n, m in report.items() if m[0].startswith("Revealed type")}
    assert revealed == {
        19: 'Revealed type is "dict[str, Any]"',
        20: 'Revealed type is "ollama_actor._streaming.Streaming"',
        21: 'Revealed type is "ollama_actor._handle.StreamHandle"',
        22: 'Revealed type is "bool"',
        23: 'Revealed type is "dict[str, Any]"',
    }, result.stdout
    errors = {n for n, m in report.items() if n not in revealed}
    assert errors == {34, 35, 36, 37, 38}, result.stdout  # ollama-python's values pass (24-33)
    assert 'Unexpected keyword argument "promt"' in report[34][0]
    assert 'did you mean "prompt"?' in report[34][0]
    assert 'Missing named argument "input"' in report[36][0]
    assert 'Unexpected keyword argument "model"' in report[38][0]


FLAG_SNIPPET = """
    from ollama_actor import Ollama

    def ask(client: Ollama, question: str, stream: bool) -> None:
        reveal_type(client.chat(model="m", messages=[], stream=stream))  # line 4
        reveal_type(client.completion(model="m", prompt=question, stream=stream))
        reveal_type(client.pull_model(model="m", stream=stream))
"""


def test_a_stream_flag_known_only_at_run_time_is_accepted(tmp_path):
    # ollama-python users pass `stream=stream` from a bool of their own; each call's type is
    # then either result (ollama-python: `ChatResponse | Iterator[ChatResponse]`)
    snippet = tmp_path / "flag.py"
    snippet.write_text(textwrap.dedent(FLAG_SNIPPET).lstrip("\n"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(snippet)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    either = 'Revealed type is "dict[str, Any] | ollama_actor._streaming.Streaming"'
    lines = [line.split(": note: ")[-1] for line in result.stdout.splitlines()]
    assert lines == [either] * 3, result.stdout


CREATE_SNIPPET = """
    import ollama

    from ollama_actor import Ollama

    client = Ollama()
    client.create_model(
        model="mine",
        from_="llama3.2",
        parameters=ollama.Options(temperature=0.2, stop=["###"]),
        messages=[ollama.Message(role="user", content="hi")],
        license=["MIT", "more"],
    )
    client.create_model(model="mine", from_="llama3.2", parameters={"num_ctx": 4096})
"""


def test_ollama_pythons_create_values_pass(tmp_path):
    # ollama-python types create's parameters as `Mapping[str, Any] | Options`
    snippet = tmp_path / "create.py"
    snippet.write_text(textwrap.dedent(CREATE_SNIPPET).lstrip("\n"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(snippet)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, ""), result.stdout


def test_each_literal_a_parameter_accepts_is_named_in_its_doc():
    # Regression: think's doc listed 'low'/'medium'/'high' but its check also accepts 'max'.
    for name, endpoint in ENDPOINTS.items():
        for param, spec in endpoint.params.items():
            for literal in re.findall(r"Literal\[([^\]]*)\]", spec.check.hint):
                for value in re.findall(r'"([^"]*)"', literal):
                    assert f"'{value}'" in spec.doc, (name, param, value, spec.doc)
                    spec.check(value, param)  # and the check accepts it
