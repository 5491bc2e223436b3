import pytest

from actors import Exit


def test_constants_and_kinds():
    assert Exit.NORMAL.kind == "normal"
    assert Exit.SHUTDOWN.kind == "shutdown"
    assert Exit.NOPROC.kind == "noproc"
    assert Exit("normal") == Exit.NORMAL
    assert Exit.NORMAL.exception is None


def test_error_and_killed_are_the_abnormal_exits():
    exc = ValueError("x")
    reason = Exit.error(exc)
    assert reason.kind == "error"
    assert reason.exception is exc
    assert reason.abnormal
    assert Exit.KILLED.abnormal
    assert not Exit.shutdown(exc).abnormal  # OTP's {shutdown, Why} is a normal exit
    assert not any(r.abnormal for r in (Exit.NORMAL, Exit.SHUTDOWN, Exit.NOPROC))


def test_repr():
    assert repr(Exit.SHUTDOWN) == "Exit.SHUTDOWN"
    assert repr(Exit.error(ValueError("x"))) == "Exit.error(ValueError('x'))"
    assert repr(Exit.shutdown(ValueError("x"))) == "Exit.shutdown(ValueError('x'))"
    assert repr(Exit.KILLED) == "Exit.KILLED"


def test_exception_only_with_error_and_shutdown():
    for kind in ("normal", "killed", "noproc"):
        with pytest.raises(ValueError, match="takes no exception"):
            Exit(kind, ValueError())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the exception"):
        Exit("error")
    assert Exit("shutdown", KeyError()).kind == "shutdown"


def test_frozen():
    with pytest.raises(AttributeError):
        Exit.NORMAL.kind = "error"  # type: ignore[misc]


def test_matchable():
    match Exit.error(KeyError("k")):
        case Exit(kind="error", exception=KeyError() as exc):
            assert exc.args == ("k",)
        case _:
            pytest.fail("no match")
