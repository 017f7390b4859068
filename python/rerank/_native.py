"""rerank._native — find and load librerank.so, and declare its C API (include/rerank.h) for ctypes.

The structs below mirror include/rerank.h field for field; tests/test_python.c prints the C layout
(sizeof, offsetof, enum values) and the Python test compares it with these declarations, so a header
change that is not made here fails `make test` instead of corrupting memory.
"""
import ctypes
import os
import sys
import threading

from .errors import STATUS_ERRORS, LibraryNotFoundError, RerankError

# The ABI this binding is written for: librerank's soname (librerank.so.0.MINOR before 1.0).
ABI_VERSION = "0.2"
SONAME = "librerank.so." + ABI_VERSION

c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_status = ctypes.c_int  # rerank_status_t and every other enum: an int on every ABI we build for


class Encoding(ctypes.Structure):  # rerank_encoding_t
    _fields_ = [
        ("ids", c_int32_p),
        ("type_ids", c_int32_p),
        ("n", ctypes.c_size_t),
        ("cap", ctypes.c_size_t),
    ]


class PairOptions(ctypes.Structure):  # rerank_pair_options_t
    _fields_ = [
        ("max_length", ctypes.c_int32),
        ("truncation", ctypes.c_int),  # rerank_truncation_t
        ("direction", ctypes.c_int),  # rerank_trunc_direction_t
        ("instruction", ctypes.c_char_p),
        ("instruction_len", ctypes.c_size_t),
    ]


class ModelOptions(ctypes.Structure):  # rerank_model_options_t
    _fields_ = [
        ("precision", ctypes.c_int),  # rerank_precision_t
        ("threads", ctypes.c_int32),
        ("device", ctypes.c_char_p),
        ("shared_prefix", ctypes.c_int),  # rerank_shared_prefix_t: 0 on (default), 1 off
    ]


class ModelInfo(ctypes.Structure):  # rerank_model_info_t
    _fields_ = [
        ("architecture", ctypes.c_char_p),
        ("model_type", ctypes.c_char_p),
        ("family", ctypes.c_char_p),
        ("num_layers", ctypes.c_int32),
        ("hidden_size", ctypes.c_int32),
        ("num_heads", ctypes.c_int32),
        ("num_kv_heads", ctypes.c_int32),
        ("head_dim", ctypes.c_int32),
        ("intermediate_size", ctypes.c_int32),
        ("max_positions", ctypes.c_int32),
        ("default_max_length", ctypes.c_int32),
        ("vocab_size", ctypes.c_int32),
        ("num_labels", ctypes.c_int32),
        ("precision", ctypes.c_int),  # rerank_precision_t
        ("compute", ctypes.c_char_p),
        ("weights_dtype", ctypes.c_char_p),
        ("device", ctypes.c_char_p),
        ("device_memory_bytes", ctypes.c_int64),
        ("prompt", ctypes.c_char_p),
        ("shared_prefix", ctypes.c_int32),
    ]


class ScoreOptions(ctypes.Structure):  # rerank_score_options_t
    _fields_ = [
        ("pair", PairOptions),
        ("layers", ctypes.c_int32),
        ("normalize", ctypes.c_int),
    ]


class Pair(ctypes.Structure):  # rerank_pair_t
    _fields_ = [
        ("ids", c_int32_p),
        ("type_ids", c_int32_p),
        ("n", ctypes.c_int32),
    ]


class LongOptions(ctypes.Structure):  # rerank_long_options_t
    _fields_ = [
        ("mode", ctypes.c_int),  # rerank_long_docs_t
        ("chunk_tokens", ctypes.c_int32),
        ("chunk_overlap", ctypes.c_int32),
        ("max_chunks_per_doc", ctypes.c_int32),
        ("max_tokens_per_doc", ctypes.c_int32),
    ]


class ChunkInfo(ctypes.Structure):  # rerank_chunk_info_t
    _fields_ = [
        ("chunk", ctypes.c_int32),
        ("n_chunks", ctypes.c_int32),
        ("token_start", ctypes.c_int32),
        ("token_end", ctypes.c_int32),
        ("doc_tokens", ctypes.c_int32),
    ]


# Every struct the binding passes through ctypes, by its C typedef name.
STRUCTS = {
    "rerank_encoding_t": Encoding,
    "rerank_pair_options_t": PairOptions,
    "rerank_model_options_t": ModelOptions,
    "rerank_model_info_t": ModelInfo,
    "rerank_score_options_t": ScoreOptions,
    "rerank_pair_t": Pair,
    "rerank_long_options_t": LongOptions,
    "rerank_chunk_info_t": ChunkInfo,
}

# Enum values the binding uses (include/rerank.h).
TRUNCATION = {"flag": 0, "longest_first": 1, "none": 2}  # rerank_truncation_t
DIRECTION = {"right": 0, "left": 1}  # rerank_trunc_direction_t
LONG_DOCS = {"truncate": 0, "chunk": 1}  # rerank_long_docs_t
CONSTANTS = {
    "RERANK_OK": 0,
    "RERANK_ERR_INVALID_ARGUMENT": 1,
    "RERANK_ERR_IO": 2,
    "RERANK_ERR_FORMAT": 3,
    "RERANK_ERR_UNSUPPORTED": 4,
    "RERANK_ERR_NOMEM": 5,
    "RERANK_ERR_INVALID_UTF8": 6,
    "RERANK_ERR_LIMIT": 7,
    "RERANK_ERR_INTERNAL": 8,
    "RERANK_TRUNC_FLAG": TRUNCATION["flag"],
    "RERANK_TRUNC_LONGEST_FIRST": TRUNCATION["longest_first"],
    "RERANK_TRUNC_NONE": TRUNCATION["none"],
    "RERANK_TRUNC_RIGHT": DIRECTION["right"],
    "RERANK_TRUNC_LEFT": DIRECTION["left"],
    "RERANK_LONG_DOCS_TRUNCATE": LONG_DOCS["truncate"],
    "RERANK_LONG_DOCS_CHUNK": LONG_DOCS["chunk"],
}

_P = ctypes.c_void_p  # opaque rerank_model_t* / rerank_tokenizer_t*

# name: (restype, argtypes)
_PROTOTYPES = {
    "rerank_status_str": (ctypes.c_char_p, [c_status]),
    "rerank_last_error": (ctypes.c_char_p, []),
    "rerank_version": (ctypes.c_char_p, []),
    "rerank_encoding_free": (None, [ctypes.POINTER(Encoding)]),
    "rerank_tokenize": (c_status, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(Encoding)]),
    "rerank_pair_options_default": (PairOptions, []),
    "rerank_precision_str": (ctypes.c_char_p, [ctypes.c_int]),
    "rerank_precision_parse": (c_status, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "rerank_model_options_default": (ModelOptions, []),
    "rerank_model_load": (c_status, [ctypes.c_char_p, ctypes.POINTER(ModelOptions), ctypes.POINTER(_P)]),
    "rerank_model_free": (None, [_P]),
    "rerank_model_get_info": (None, [_P, ctypes.POINTER(ModelInfo)]),
    "rerank_model_tokenizer": (_P, [_P]),
    "rerank_model_healthy": (ctypes.c_int, [_P]),
    "rerank_model_tokenize_pair": (c_status, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                              ctypes.c_size_t, ctypes.POINTER(PairOptions),
                                              ctypes.POINTER(Encoding)]),
    "rerank_score_options_default": (ScoreOptions, []),
    "rerank_score_tokens": (c_status, [_P, ctypes.POINTER(Pair), ctypes.c_size_t, ctypes.POINTER(ScoreOptions),
                                       ctypes.POINTER(ctypes.c_float)]),
    "rerank_score": (c_status, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p),
                                ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t, ctypes.POINTER(ScoreOptions),
                                ctypes.POINTER(ctypes.c_float)]),
    "rerank_long_options_default": (LongOptions, []),
    "rerank_score_long": (c_status, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p),
                                     ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t, ctypes.POINTER(ScoreOptions),
                                     ctypes.POINTER(LongOptions), ctypes.POINTER(ctypes.c_float),
                                     ctypes.POINTER(ChunkInfo)]),
}


def _install_prefix():
    """The PREFIX recorded when the package was built (`pip install --config-settings prefix=DIR`), or None."""
    try:
        from ._prefix import PREFIX
    except ImportError:  # a source checkout on sys.path, or an editable install
        return None
    return PREFIX or None


def candidates():
    """Where the library is looked for, in order: [(description, path or soname)]."""
    env = os.environ.get("RERANK_LIB")
    if env:
        return [("RERANK_LIB", env)]
    found, seen = [], set()
    for what, prefix in (("install prefix", _install_prefix()), ("sys.prefix", sys.prefix)):
        if prefix:
            path = os.path.join(prefix, "lib", SONAME)
            if path not in seen:
                seen.add(path)
                found.append((what + " " + prefix, path))
    found.append(("dynamic loader (LD_LIBRARY_PATH, ld.so.cache)", SONAME))
    path = os.path.join("/usr/local/lib", SONAME)  # make install's default PREFIX, ldconfig not run
    if path not in seen:
        found.append(("make install's default prefix /usr/local", path))
    return found


def _declare(lib):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def _open(path):
    """Load one candidate; check that it is the ABI this binding speaks."""
    lib = _declare(ctypes.CDLL(path))  # CDLL: every call releases the GIL
    version = lib.rerank_version().decode()
    major, minor = (version.split(".") + ["", ""])[:2]
    if major + "." + minor != ABI_VERSION:
        raise LibraryNotFoundError(
            "%s is librerank %s, but this Python package speaks the ABI of %s (%s); install the package "
            "from the same source tree as the library" % (path, version, ABI_VERSION, SONAME))
    return lib


_lock = threading.Lock()
_lib = None
_lib_path = None


def load_library():
    """The loaded librerank (ctypes.CDLL), loading it on first use."""
    global _lib, _lib_path
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for what, path in candidates():
            if os.sep in path and not os.path.exists(path):
                tried.append("%s: %s (no such file)" % (what, path))
                continue
            try:
                lib = _open(path)
            except OSError as e:
                tried.append("%s: %s (%s)" % (what, path, e))
                continue
            _lib, _lib_path = lib, path
            return lib
        raise LibraryNotFoundError(
            "cannot load librerank (%s); tried:\n  %s\nBuild and install it (`make install PREFIX=DIR`, then "
            "`pip install --config-settings prefix=DIR ./python`) or point RERANK_LIB at librerank.so"
            % (SONAME, "\n  ".join(tried)))


def library_path():
    """The path (or soname) librerank was loaded from."""
    load_library()
    return _lib_path


def check(lib, status, where=None):
    """Raise the exception for a non-zero rerank_status_t, with the calling thread's last error message
    (prefixed with "where: " when given)."""
    if status == 0:
        return
    message = (lib.rerank_last_error() or b"").decode("utf-8", "replace")
    name = (lib.rerank_status_str(status) or b"error").decode()
    message = message or name
    if where:
        message = "%s: %s" % (where, message)
    raise STATUS_ERRORS.get(status, RerankError)(message, status, name)


def precision_name(lib, precision):
    """rerank_precision_t value -> "fp32", "bf16", ..."""
    return lib.rerank_precision_str(precision).decode()
