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
