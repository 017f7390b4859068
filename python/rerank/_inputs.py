"""rerank._inputs — check the shapes of Python arguments and turn texts into the UTF-8 bytes the library takes."""
import operator


def text_bytes(text, what):
    """str -> UTF-8 bytes; bytes pass unchanged (the library rejects invalid UTF-8 with InvalidUTF8Error).

    Lone surrogates in a str (e.g. from os.fsdecode of invalid bytes) are passed through as their
    surrogate byte sequences, which are not UTF-8: the library rejects them like any invalid text."""
    if isinstance(text, str):
        return text.encode("utf-8", "surrogatepass")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError("%s must be str or bytes, not %s" % (what, type(text).__name__))


def _is_text(x):
    return isinstance(x, (str, bytes, bytearray))


def split_pairs(pairs, what="pairs"):
    """Accept one pair [q, d] / (q, d) or a sequence of pairs; return (single, queries, docs) as bytes.

    single is True for one bare pair (the caller then returns a scalar, as FlagReranker and
    CrossEncoder do)."""
    if _is_text(pairs) or not hasattr(pairs, "__len__") or not hasattr(pairs, "__getitem__"):
        raise TypeError("%s must be a pair [query, document] or a list of pairs, not %s"
                        % (what, type(pairs).__name__))
    if len(pairs) == 0:
        return False, [], []
    single = _is_text(pairs[0])
    items = [pairs] if single else pairs
    queries, docs = [], []
    for i, pair in enumerate(items):
        where = what if single else "%s[%d]" % (what, i)
        if _is_text(pair) or not hasattr(pair, "__len__") or not hasattr(pair, "__getitem__"):
            raise TypeError("%s must be a pair [query, document], not %s" % (where, type(pair).__name__))
        if len(pair) != 2:
            raise ValueError("%s has %d elements; a pair is [query, document]" % (where, len(pair)))
        queries.append(text_bytes(pair[0], where + "[0] (query)"))
        docs.append(text_bytes(pair[1], where + "[1] (document)"))
    return single, queries, docs


def documents_list(documents):
    """An iterable of documents (not one bare string) -> a list."""
    if _is_text(documents) or not hasattr(documents, "__iter__"):
        raise TypeError("documents must be a list of texts, not %s" % type(documents).__name__)
    return list(documents)


def non_negative_int(value, what):
    """value as an int >= 0. Integer types other than int count (numpy's int64 from len(array) or
    argmax: they define __index__, as PEP 357 has integer-like types do); bool and float do not."""
    if isinstance(value, bool):
        raise TypeError("%s must be an int, not %s" % (what, type(value).__name__))
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError("%s must be an int, not %s" % (what, type(value).__name__)) from None
    if value < 0:
        raise ValueError("%s = %d must be >= 0" % (what, value))
    return value
