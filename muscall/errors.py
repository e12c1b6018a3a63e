"""Errors a user can cause. The CLI prints their message (which names the problem and the fix) without a traceback."""


class MuscallError(Exception):
    """Base class for user-facing errors."""


class AudioLoadError(MuscallError):
    """An audio file cannot be used; ``reason`` says why."""

    def __init__(self, path: object, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
