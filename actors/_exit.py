"""Exit reasons: how an actor ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

__all__ = ["Exit", "ExitKind"]

ExitKind = Literal["normal", "shutdown", "error", "killed", "noproc"]


@dataclass(frozen=True, slots=True)
class Exit:
    """How an actor ended; recorded once, when the actor has fully ended.

    ``kind`` is one of:

    - ``"normal"``: the actor stopped itself or was stopped with a plain ``stop()``;
    - ``"shutdown"``: its owner stopped it with `actors.shutdown()`, or a supervisor gave
      up (``exception`` is then the `actors.ReachedMaxRestartIntensity` that says why);
    - ``"error"``: an exception killed it (in ``on_start``, in a handler for a ``tell``, in
      ``on_stop``, or a ``BaseException`` in any handler); ``exception`` is that exception;
    - ``"killed"``: its supervisor killed it (``shutdown="brutal_kill"``, or it overran its
      ``shutdown`` time): the messages queued behind its last handler were refused and
      neither ``on_stop`` nor ``on_failure`` ran;
    - ``"noproc"``: the actor has ended but no reason is known (a plain Pykka actor that
      records none).

    Use the constants `Exit.NORMAL`, `Exit.SHUTDOWN`, `Exit.KILLED`, `Exit.NOPROC` and
    `Exit.error(exc)`; match on ``kind``, or use `abnormal`.
    """

    kind: ExitKind
    exception: BaseException | None = None

    NORMAL: ClassVar[Exit]
    SHUTDOWN: ClassVar[Exit]
    KILLED: ClassVar[Exit]
    NOPROC: ClassVar[Exit]

    def __post_init__(self) -> None:
        if self.kind == "error" and self.exception is None:
            raise ValueError("Exit('error') needs the exception")
        if self.kind not in ("error", "shutdown") and self.exception is not None:
            msg = f"Exit({self.kind!r}) takes no exception (only 'error' and 'shutdown' do)"
            raise ValueError(msg)

    @classmethod
    def error(cls, exception: BaseException) -> Exit:
        """The reason of an actor that ``exception`` killed."""
        return cls("error", exception)

    @classmethod
    def shutdown(cls, why: BaseException) -> Exit:
        """A shutdown with a reason, OTP's ``{shutdown, Why}``: as normal as `SHUTDOWN`
        (a supervisor that gave up ends so, with `actors.ReachedMaxRestartIntensity`)."""
        return cls("shutdown", why)

    @property
    def abnormal(self) -> bool:
        """True for ``"error"`` and ``"killed"``, as in OTP: the exits a ``transient``
        restart policy acts on."""
        return self.kind in {"error", "killed"}

    def __repr__(self) -> str:
        if self.exception is not None:
            return f"Exit.{self.kind}({self.exception!r})"
        return f"Exit.{self.kind.upper()}"


Exit.NORMAL = Exit("normal")
Exit.SHUTDOWN = Exit("shutdown")
Exit.KILLED = Exit("killed")
Exit.NOPROC = Exit("noproc")
