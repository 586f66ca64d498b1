"""Errors a user can cause. The CLI prints them in one line and exits 2."""


class DataraumError(Exception):
    """A problem with the user's input: a file, a config, an option. Says what and where."""


class SourceError(DataraumError):
    """A data source that cannot be read (missing, empty, binary, malformed)."""


class ConfigError(DataraumError):
    """A pipeline config, option or key that is not valid."""


class StepFailed(Exception):
    """A pipeline step raised; carries the step name so the run can report it."""

    def __init__(self, step: str, error: BaseException):
        self.step = step
        self.error = error
        super().__init__(f"step {step!r} failed: {error}")
