import copy
import re
import threading

from actors import Ref


def test_refs_are_unique_and_equal_only_to_themselves():
    a, b = Ref(), Ref()
    assert a != b
    assert a == a  # noqa: PLR0124
    assert copy.copy(a) == a
    assert hash(copy.copy(a)) == hash(a)
    assert a != object()
    assert len({a, b, copy.copy(a)}) == 2


def test_ref_prints_readably():
    assert re.fullmatch(r"#Ref<0\.\d+>", repr(Ref()))
    assert str(Ref()).startswith("#Ref<0.")


def test_refs_made_in_many_threads_never_collide():
    made: list[list[Ref]] = [[] for _ in range(8)]

    def make(bucket: list[Ref]) -> None:
        bucket.extend(Ref() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(bucket,)) for bucket in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    refs = [r for bucket in made for r in bucket]
    assert len(set(refs)) == len(refs) == 40_000


def test_ref_has_no_instance_dict():
    ref = Ref()
    assert not hasattr(ref, "__dict__")


def test_a_pickled_ref_comes_back_equal_and_stays_distinct_in_another_process():
    """Refs cross processes pickled (to a Ray recipient): there, a ref made here must not equal
    the other process's own ref of the same number; pickled back here, it is the same ref."""
    import pickle
    import subprocess
    import sys

    ref = Ref()
    assert pickle.loads(pickle.dumps(ref)) == ref
    assert hash(pickle.loads(pickle.dumps(ref))) == hash(ref)
    program = (
        "import pickle, sys\n"
        "from actors import Ref\n"
        "theirs = pickle.loads(sys.stdin.buffer.read())\n"
        "while (mine := Ref())._n < theirs._n & ((1 << 64) - 1): pass\n"
        "assert mine._n == theirs._n & ((1 << 64) - 1), (mine, theirs)\n"
        "assert mine != theirs and hash(mine) != hash(theirs), (mine, theirs)\n"
        "sys.stdout.buffer.write(pickle.dumps((theirs, repr(theirs), mine)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        input=pickle.dumps(ref),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    back, shown, theirs = pickle.loads(done.stdout)
    assert back == ref
    assert re.fullmatch(r"#Ref<[0-9a-f]+\.\d+>", shown)
    assert not shown.startswith("#Ref<0.")
    assert theirs != ref  # the other process's ref of the same number
    assert len({ref, back, theirs}) == 2
