"""The few named errors the lower layers raise; only the UI and the CLI catch them.

Each message is one plain sentence a resident or planner can act on.
"""


class OurPatchError(Exception):
    """Base class: anything the user can fix or should be told about."""


class BadInputError(OurPatchError, ValueError):
    """An area, file, argument or form field that cannot be used as given."""


class UnknownCategoryError(BadInputError):
    """A category id that is not in data/categories.toml."""


class SourceUnavailableError(OurPatchError, ConnectionError):
    """Online data was asked for and could not be fetched."""


class DataSourceError(OurPatchError, OSError):
    """A map extract that cannot be read."""


class NotAllowedError(OurPatchError, PermissionError):
    """The signed-in person's role or group does not allow this."""


class LimitError(BadInputError):
    """Input past one of the limits in layers/settings.py (the message names the limit)."""


class StorageError(OurPatchError, OSError):
    """The data store cannot be read or written (read-only folder, full disk, damaged file).
    The message says which, in one sentence that keeps SQLite's own words (the real cause)."""


class TooManyAttemptsError(NotAllowedError):
    """Sign-in is delayed for a name or a source after many wrong passwords."""

    def __init__(self, message: str, wait_s: float) -> None:
        super().__init__(message)
        self.wait_s = wait_s


class ChangedMeanwhileError(BadInputError):
    """The thing changed after the person was shown it (a newer version is stored)."""


class ConflictError(ChangedMeanwhileError):
    """A store write found a newer version than the one it was given (optimistic locking):
    someone else changed the thing since it was opened."""
