"""``pull``, ``push`` and ``create``: a progress bar per layer, then status lines."""

import json
import re
import subprocess
import sys

from ollama_actor import blob_digest
from ollama_actor.emulator import cut

from .conftest import CLI, environment

LAYER = re.compile(r"^pulling ([0-9a-f]{12}): +(\d+)% ▕[█ ]{20}▏ (.+)$")


def test_pull_shows_each_layer_then_the_status_lines(cli):
    result = cli("pull", "tinyllama")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == "pulling manifest"
    assert lines[-4:] == [
        "verifying sha256 digest",
        "writing manifest",
        "removing unused layers",
        "success",
    ]
    layers = [LAYER.match(line) for line in lines[1:-4]]
    assert all(layers), lines
    finished = {m[1] for m in layers if m and m[2] == "100"}
    assert len(finished) == 5  # every layer reached 100%
    big = [m[2] for m in layers if m and m[1] == "26a8e1c7d977"]
    assert big == ["0", "25", "50", "75", "100"]  # one line per tenth crossed
    assert "pulling 26a8e1c7d977: 100% ▕████████████████████▏ 637 MB" in lines
    assert "tinyllama" in cli("list").stdout


def test_pull_json_prints_the_progress_objects(cli):
    result = cli("pull", "tinyllama", "--json")
    assert result.returncode == 0
    chunks = [json.loads(line) for line in result.stdout.splitlines()]
    assert chunks[0] == {"status": "pulling manifest"}
    assert chunks[-1] == {"status": "success"}
    assert any(c.get("completed") == c.get("total") and "digest" in c for c in chunks)


def test_rich_bars_when_asked(cli):
    result = cli("pull", "tinyllama", "--progress", "bar")
    assert result.returncode == 0, result.stderr
    assert "pulling 26a8e1c7d977" in result.stdout
    assert "637.7/637.7 MB" in result.stdout
    assert "success" in result.stdout


def test_without_rich_the_bars_fall_back_to_text(ollama_emulator):
    no_rich = "import sys; sys.modules['rich'] = None; from ollama_actor.cli import main; "
    command = [sys.executable, "-c", no_rich + "sys.exit(main())"]
    env = environment(ollama_emulator.url)
    asked = subprocess.run(
        [*command, "pull", "tinyllama", "--progress", "bar"],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert asked.returncode == 2
    assert "pip install 'ollama-actor[cli]'" in asked.stderr
    plain = subprocess.run(
        [*command, "pull", "tinyllama"],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert plain.returncode == 0
    assert plain.stdout.splitlines()[-1] == "success"


def test_a_cut_pull_resumes_after_a_retry(cli, ollama_emulator):
    ollama_emulator.inject(cut(after=3), path="/api/pull")
    result = cli("pull", "tinyllama")
    assert result.returncode == 0
    assert result.stderr.startswith("[retry 1 after: ")
    assert result.stdout.splitlines()[-1] == "success"


def test_push_shows_each_layer(cli):
    result = cli("push", "llama3.2")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "retrieving manifest"
    assert any(re.match(r"pushing [0-9a-f]{12}: 100% ", line) for line in lines)
    assert lines[-2:] == ["pushing manifest", "success"]


def test_create_from_flags(cli):
    result = cli("create", "brief", "--from", "llama3.2", "--system", "Be brief.")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "success"
    assert cli("show", "brief", "--system").stdout == "Be brief.\n"


def test_create_from_a_modelfile_uploads_its_file(cli, ollama_emulator, tmp_path):
    weights = b"GGUF not really weights"
    (tmp_path / "tiny.gguf").write_bytes(weights)
    (tmp_path / "Modelfile").write_text(
        'FROM ./tiny.gguf\nPARAMETER temperature 0.2\nPARAMETER stop "<end>"\n'
        'SYSTEM """You are\nterse."""\n',
        encoding="utf-8",
    )
    result = cli("create", "terse", "-f", str(tmp_path / "Modelfile"))
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"copying file {blob_digest(weights)}: 100% "), first
    assert result.stdout.splitlines()[-1] == "success"
    body = ollama_emulator.last_request("/api/create").body
    assert body["files"] == {"tiny.gguf": blob_digest(weights)}
    assert body["parameters"] == {"temperature": 0.2, "stop": ["<end>"]}
    assert body["system"] == "You are\nterse."
    assert cli("show", "terse", "--system").stdout == "You are\nterse.\n"


def test_create_without_a_source_is_the_users_mistake(ollama_emulator, tmp_path):
    result = subprocess.run(
        [*CLI, "create", "nothing"], cwd=tmp_path, capture_output=True, text=True, timeout=30,
        env=environment(ollama_emulator.url), check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        "error: no Modelfile or model files found in this directory"
        " (give a Modelfile with -f, or --from MODEL)\n"
    )
    assert ollama_emulator.request_count() == 0


def test_create_without_a_modelfile_takes_the_model_files_of_the_current_directory(
    ollama_emulator, tmp_path
):
    # as `ollama create NAME` in a model's directory: FROM . when there is no Modelfile
    files = {"model.safetensors": b"weights", "config.json": b"{}", "notes.txt": b"no"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = subprocess.run(
        [*CLI, "create", "here", "--system", "Be here."], cwd=tmp_path, capture_output=True,
        text=True, timeout=30, env=environment(ollama_emulator.url), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = ollama_emulator.last_request("/api/create").body
    assert body["files"] == {
        name: blob_digest(files[name]) for name in ("model.safetensors", "config.json")
    }
    assert body["system"] == "Be here."


def test_create_streams_a_large_file_with_progress(cli, ollama_emulator, tmp_path):
    weights = bytes(range(256)) * (12 * 1024)  # 3 MiB: twelve pieces of the upload
    (tmp_path / "big.gguf").write_bytes(weights)
    (tmp_path / "Modelfile").write_text("FROM ./big.gguf\n", encoding="utf-8")
    result = cli("create", "big", "-f", str(tmp_path / "Modelfile"))
    assert result.returncode == 0, result.stderr
    digest = blob_digest(weights)
    shown = [line for line in result.stdout.splitlines() if line.startswith("copying file")]
    percents = [int(re.search(r": +(\d+)%", line)[1]) for line in shown]
    assert percents == sorted(percents)
    assert len(percents) >= 5  # a line per tenth of the file, not one at the end
    assert percents[-1] == 100
    assert ollama_emulator.last_request("/api/create").body["files"] == {"big.gguf": digest}
    assert ollama_emulator.last_request(f"/api/blobs/{digest}").method == "POST"


def test_create_from_a_models_directory_uploads_the_files_ollama_takes(
    cli, ollama_emulator, tmp_path
):
    model = tmp_path / "weights"
    (model / "nested").mkdir(parents=True)
    files = {
        "model-00001-of-00002.safetensors": b"first half",
        "model-00002-of-00002.safetensors": b"second half",
        "config.json": b"{}",
        "tokenizer.json": b'{"t": 1}',
        "nested/config.json": b'{"n": 1}',
        "tokenizer.model": b"sentencepiece",
        "README.md": b"not sent",
        "optimizer.bin": b"not sent either: safetensors weights were found",
    }
    for name, data in files.items():
        (model / name).write_bytes(data)
    (tmp_path / "Modelfile").write_text(
        "FROM ./weights\nRENDERER qwen3\nPARSER qwen3\nREQUIRES 0.12.0\n", encoding="utf-8"
    )
    result = cli("create", "local", "-f", str(tmp_path / "Modelfile"))
    assert result.returncode == 0, result.stderr
    sent = {name for name in files if name not in ("README.md", "optimizer.bin")}
    body = ollama_emulator.last_request("/api/create").body
    assert body["files"] == {name: blob_digest(files[name]) for name in sent}
    assert (body["renderer"], body["parser"], body["requires"]) == ("qwen3", "qwen3", "0.12.0")
    posts = [r.path for r in ollama_emulator.requests if r.method == "POST"]
    uploaded = {path.removeprefix("/api/blobs/") for path in posts if "/blobs/" in path}
    assert uploaded == {blob_digest(files[name]) for name in sent}
    shown = json.loads(cli("show", "local", "--json").stdout)
    assert (shown["renderer"], shown["requires"]) == ("qwen3", "0.12.0")


def test_create_reads_the_modelfile_of_the_current_directory(ollama_emulator, tmp_path):
    (tmp_path / "Modelfile").write_text("FROM llama3.2\nSYSTEM Be here.\n", encoding="utf-8")
    result = subprocess.run(
        [*CLI, "create", "here"], cwd=tmp_path, capture_output=True, text=True, timeout=30,
        env=environment(ollama_emulator.url), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = ollama_emulator.last_request("/api/create").body
    assert (body["from"], body["system"]) == ("llama3.2", "Be here.")
