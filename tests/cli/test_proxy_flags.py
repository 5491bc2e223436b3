"""``--proxy URL`` and ``--no-proxy``: the command reaches Ollama through a proxy, or never."""

import subprocess

from tests.ollama_actor.forward_proxy import ForwardProxy

from .conftest import CLI, environment

NAME = "ollama.internal"  # only the proxy resolves it


def run(host, *args, **env):
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=environment(host, **env),
        check=False,
    )


def test_proxy_sends_the_command_through_it_with_its_credentials_unshown(ollama_emulator):
    target = ("127.0.0.1", ollama_emulator.port)
    with ForwardProxy(names={NAME: target}, credentials=("u", "pw-SECRET")) as proxy:
        host = f"http://{NAME}:{ollama_emulator.port}"
        result = run(host, "--proxy", proxy.url("u", "pw-SECRET"), "list")
        assert result.returncode == 0, result.stderr
        assert "llama3.2" in result.stdout
        assert [(s.method, s.target) for s in proxy.seen] == [("GET", f"{host}/api/tags")]
        wrong = run(host, "--proxy", proxy.url("u", "WRONG-pw"), "--debug", "list")
        assert wrong.returncode == 2  # 407: the user's mistake
        assert "407" in wrong.stderr
        assert "WRONG-pw" not in wrong.stdout + wrong.stderr


def test_the_environment_proxy_and_no_proxy(ollama_emulator):
    target = ("127.0.0.1", ollama_emulator.port)
    with ForwardProxy(names={NAME: target}) as proxy:
        host = f"http://{NAME}:{ollama_emulator.port}"
        assert run(host, "list", HTTP_PROXY=proxy.url()).returncode == 0
        assert len(proxy.seen) == 1
        direct = run(host, "--no-proxy", "list", HTTP_PROXY=proxy.url())
        assert direct.returncode == 1  # the name does not resolve without the proxy
        assert direct.stderr.startswith(f"error: cannot connect to Ollama at {host}")
        assert len(proxy.seen) == 1
        both = run(host, "--proxy", proxy.url(), "--no-proxy", "list")
        assert both.returncode == 2
        assert both.stderr == "error: --proxy and --no-proxy cannot be used together\n"
