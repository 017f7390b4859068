"""rerank — Python binding of librerank (cross-encoder and LLM rerankers in C), through ctypes.

    from rerank import Reranker
    with Reranker("path/to/bge-reranker-v2-m3") as r:
        r.compute_score(["what is panda?", "The giant panda is a bear."])    # FlagReranker: a float
        r.predict([["q", "d1"], ["q", "d2"]])                                # CrossEncoder: an array
        r.rank("q", ["d1", "d2"], top_k=1, return_documents=True)            # CrossEncoder.rank

librerank.so is found through RERANK_LIB (its path), the prefix given at install
(`pip install --config-settings prefix=DIR ./python`), sys.prefix/lib, the dynamic loader, then /usr/local/lib.
"""
from ._native import ABI_VERSION, library_path, load_library
from .errors import (ClosedError, FormatError, InternalError, InvalidArgumentError, InvalidUTF8Error, LibraryNotFoundError,
                     LimitError, ModelIOError, OutOfMemoryError, RerankError, UnsupportedError)
from .reranker import Reranker

__version__ = "0.2.0"


def library_version():
    """The version string of the loaded librerank, e.g. "0.2.0"."""
    return load_library().rerank_version().decode()


__all__ = [
    "Reranker", "RerankError", "InvalidArgumentError", "ModelIOError", "FormatError", "UnsupportedError",
    "OutOfMemoryError", "InvalidUTF8Error", "LimitError", "InternalError", "ClosedError", "LibraryNotFoundError",
    "library_version", "library_path", "ABI_VERSION", "__version__",
]
