"""The one exception family that the CLI turns into a single ``metastyle: error: ...`` line."""


class MetaStyleError(Exception):
    """Base class: a user-facing problem with inputs, data, checkpoints or configuration."""


class DataError(MetaStyleError):
    """A missing, empty, unreadable or unsuitable image or image folder."""


class CheckpointError(MetaStyleError):
    """A checkpoint that is missing, not ours, of the wrong architecture, or unsafe to load."""


class DataWarning(UserWarning):
    """A recoverable data problem (e.g. unreadable images skipped in a dataset); printed as one line."""
