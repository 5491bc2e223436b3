import pytest

from actors import Exit


def test_constants_and_kinds():
    assert Exit.NORMAL.kind == "normal"
    assert Exit.SHUTDOWN.kind == "shutdown"
    assert Exit.NOPROC.kind == "noproc"
    assert Exit("normal") == Exit.NORMAL
    assert Exit.NORMAL.exception is None


def test_error_carries_its_exception_and_is_the_only_abnormal_exit():
    exc = ValueError("x")
    reason = Exit.error(exc)
    assert reason.kind == "error"
    assert reason.exception is exc
    assert reason.abnormal
    assert not any(r.abnormal for r in (Exit.NORMAL, Exit.SHUTDOWN, Exit.NOPROC))


def test_repr():
    assert repr(Exit.SHUTDOWN) == "Exit.SHUTDOWN"
    assert repr(Exit.error(ValueError("x"))) == "Exit.error(ValueError('x'))"


def test_exception_only_with_error():
    with pytest.raises(ValueError, match="only when kind is 'error'"):
        Exit("normal", ValueError())
    with pytest.raises(ValueError, match="only when kind is 'error'"):
        Exit("error")


def test_frozen():
    with pytest.raises(AttributeError):
        Exit.NORMAL.kind = "error"  # type: ignore[misc]


def test_matchable():
    match Exit.error(KeyError("k")):
        case Exit(kind="error", exception=KeyError() as exc):
            assert exc.args == ("k",)
        case _:
            pytest.fail("no match")
