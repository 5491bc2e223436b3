"""The emulator process is killed and restarted under many live streams: all recover or fail."""

import gc
import threading
import time

from actors import Backoff, ChildSpec, DynamicSupervisor, Supervisor
from ollama_actor import Ollama, RetryPolicy, Timeout
from ollama_actor.emulator import EmulatorProcess, expected_tokens

from .soak import Collector, _fds

STREAMS = 300
RETRY = RetryPolicy(max_restarts=10, max_seconds=30.0, backoff=Backoff(min=0.1, max=0.5))


def test_streams_and_a_tree_survive_a_server_crash_and_restart():
    with Ollama("http://127.0.0.1:9") as warm:  # the loop thread exists before the baseline
        warm.close()
    threads, fds = threading.active_count(), _fds()
    with EmulatorProcess(token_rate=20.0) as emu:
        with Ollama(emu.base_url, timeout=Timeout(connect=1, read=2, total=60)) as client:
            tree = Supervisor.start(
                [
                    ChildSpec(
                        "streams",
                        lambda: DynamicSupervisor.start(max_restarts=None),
                        type="supervisor",
                    )
                ]
            )
            streams = tree.proxy().which_children().get(timeout=5)[0][1]
            collector = Collector.start(STREAMS)
            prompts = {}
            for i in range(STREAMS):
                prompt = f"crash test {i}"
                handle = client.completion(
                    model="llama3.2",
                    prompt=prompt,
                    stream=collector,
                    supervisor=streams,
                    retry=RETRY,
                )
                prompts[handle.ref] = prompt
            heard = collector.proxy().all_heard.get()
            assert heard.wait(30), "some streams never began"  # each is now mid-answer
            emu.kill()
            time.sleep(0.5)  # time must pass: an outage of half a second
            emu.start()
            assert collector.proxy().finished.get().wait(60), "some streams never ended"
            results = collector.proxy().streams.get()
            collector.stop()
            assert tree.is_alive()
            assert streams.is_alive()
            assert tree.proxy().which_children().get(timeout=5)[0][1] == streams
        tree.stop()
    done = 0
    for ref, prompt in prompts.items():
        kinds = [kind for kind, _ in results[ref]]
        assert kinds[-1] in ("done", "error")
        assert kinds.count("done") + kinds.count("error") == 1
        assert all(k in ("data", "restart") for k in kinds[:-1])
        if kinds[-1] == "done":
            done += 1
            assert "restart" in kinds, "the crash cut every running stream"
            since = max(i for i, k in enumerate(kinds) if k == "restart") + 1
            text = "".join(p["response"] for k, p in results[ref][since:] if k == "data")
            assert text == "".join(expected_tokens("llama3.2", prompt))
    assert done == STREAMS  # with 10 retries over 30 s, every stream outlives a 0.5 s outage
    gc.collect()
    deadline = time.monotonic() + 5
    while (threading.active_count() > threads or _fds() > fds) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads
    assert _fds() <= fds
