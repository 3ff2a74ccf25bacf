"""Why an index cannot be used or built, in words that tell the admin what to run."""


class IndexProblem(Exception):
    """Base class: the message is meant for people and never holds a traceback."""


class IndexNotFound(IndexProblem):
    """No index has been built in this folder yet."""


class IndexIncompatible(IndexProblem):
    """The index was built by another model or an unknown format version."""


class IndexCorrupt(IndexProblem):
    """Files of the index are missing, truncated or do not agree with the manifest."""


class IndexBusy(IndexProblem):
    """Another build holds the writer lock."""


class IndexWriteFailed(IndexProblem):
    """The index folder could not be written (disk full, read-only, no permission); nothing was changed."""


class ModelUnavailable(IndexProblem):
    """The model or backend asked for cannot be used (an unknown backend, no such model folder)."""
