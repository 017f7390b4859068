"""rerank.errors — the exceptions the binding raises, one per librerank status code."""


class RerankError(Exception):
    """A librerank call failed. ``status`` is the rerank_status_t value, ``status_name`` its name
    ("invalid_argument", ...) and ``message`` the library's message (rerank_last_error)."""

    status = None
    status_name = "error"

    def __init__(self, message, status=None, status_name=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if status_name is not None:
            self.status_name = status_name


class InvalidArgumentError(RerankError, ValueError):
    """RERANK_ERR_INVALID_ARGUMENT: a bad option or argument value."""


class ModelIOError(RerankError, OSError):
    """RERANK_ERR_IO: a file is missing, unreadable or short."""


class FormatError(RerankError, ValueError):
    """RERANK_ERR_FORMAT: a model file is malformed or corrupt."""


class UnsupportedError(RerankError):
    """RERANK_ERR_UNSUPPORTED: an architecture, dtype, precision or device this build cannot run."""


class OutOfMemoryError(RerankError, MemoryError):
    """RERANK_ERR_NOMEM: an allocation failed."""


class InvalidUTF8Error(RerankError, UnicodeError):
    """RERANK_ERR_INVALID_UTF8: a text is not valid UTF-8 (bytes given as text, lone surrogates)."""


class LimitError(RerankError, ValueError):
    """RERANK_ERR_LIMIT: an input exceeds a documented limit (e.g. a pair longer than the model's positions)."""


class InternalError(RerankError, RuntimeError):
    """RERANK_ERR_INTERNAL: a backend failure (GEMM library, device fault)."""


class ClosedError(RerankError, ValueError):
    """The Reranker was closed; load the model again to keep scoring."""


class LibraryNotFoundError(RerankError, ImportError):
    """librerank.so could not be found or loaded, or is of another ABI than this binding."""


# rerank_status_t value -> exception class (include/rerank.h).
STATUS_ERRORS = {
    1: InvalidArgumentError,
    2: ModelIOError,
    3: FormatError,
    4: UnsupportedError,
    5: OutOfMemoryError,
    6: InvalidUTF8Error,
    7: LimitError,
    8: InternalError,
}
