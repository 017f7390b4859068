"""rerank.reranker — Reranker: a model loaded by librerank, scored with FlagReranker's and CrossEncoder's calls."""
import array
import ctypes
import os
import re
import threading
from contextlib import contextmanager

from . import _activation, _inputs, _native
from .errors import ClosedError, InvalidArgumentError, ModelIOError

try:  # optional: predict() returns numpy arrays when numpy is installed
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the environment
    _np = None

_INT32_MAX = 2 ** 31 - 1
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")


def _bounded(value, what):
    value = _inputs.non_negative_int(value, what)
    if value > _INT32_MAX:
        raise ValueError("%s = %d exceeds %d" % (what, value, _INT32_MAX))
    return value


def _choice(value, table, what):
    if value not in table:
        raise ValueError("%s = %r; expected one of %s" % (what, value, ", ".join(table)))
    return table[value]



def _to_tensor(scores, single):
    """predict(convert_to_tensor=True): float32 scores as CrossEncoder returns them (a 0-d tensor for
    one pair). torch is imported only here: the binding needs nothing beyond the standard library."""
    try:
        import torch
    except ImportError:
        raise ImportError("predict(convert_to_tensor=True) needs torch, which is not installed; "
                          "convert_to_numpy (numpy) or plain lists need nothing") from None
    t = torch.tensor(scores, dtype=torch.float32)
    return t[0] if single else t

class Reranker:
    """A cross-encoder (or LLM reranker) loaded by librerank.

    model: a Hugging Face model directory (config.json, model.safetensors, tokenizer.json). The C API
    has no Hub lookup, so ORG/NAME is not resolved here: `rerank pull ORG/NAME` downloads a model
    and prints its directory.
    precision: "fp32", "bf16", "int8" (CPU), "fp16", "fp8" (CUDA). threads: 0 = all cores.
    max_length: tokens per pair, special tokens included; 0 = the model's default (512 for
    cross-encoders). layers: run only the first N layers (0 = all). instruction: an LLM reranker's
    task instruction (an error for cross-encoders). device: None or "cpu"; "cuda[:N]" when the
    library is built with CUDA. truncation: "flag" (FlagEmbedding's reranker), "longest_first"
    (transformers) or "none"; truncation_direction: "right" or "left".

    Scoring calls release the GIL. Calls on one model from several threads are safe (the library
    runs one forward pass at a time per model). close() (or a `with` block) frees the model at
    once; otherwise it is freed when garbage collected.
    """

    def __init__(self, model, precision="fp32", threads=0, max_length=0, layers=0, instruction=None,
                 device=None, truncation="flag", truncation_direction="right"):
        self._handle = None
        self._cond = threading.Condition()
        self._users = 0
        self._closed = False
        self._lib = lib = _native.load_library()

        path = os.fspath(model)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not os.path.exists(path) and _HUB_ID.match(path):
            raise ModelIOError("%s: no such directory; the Python binding loads model directories (the C API "
                               "has no Hub lookup): `rerank pull %s` downloads it and prints its directory"
                               % (path, path), 2, "io")
        self._path = path

        opts = lib.rerank_model_options_default()
        if not isinstance(precision, str):
            raise TypeError("precision must be a str such as \"fp32\", not %s" % type(precision).__name__)
        prec = ctypes.c_int()
        _native.check(lib, lib.rerank_precision_parse(precision.encode(), ctypes.byref(prec)))
        opts.precision = prec.value
        opts.threads = _bounded(threads, "threads")
        if device is not None:
            self._device = _inputs.text_bytes(device, "device")  # kept alive: opts points at it
            opts.device = self._device

        score = lib.rerank_score_options_default()
        if max_length:
            score.pair.max_length = _bounded(max_length, "max_length")
        score.pair.truncation = _choice(truncation, _native.TRUNCATION, "truncation")
        score.pair.direction = _choice(truncation_direction, _native.DIRECTION, "truncation_direction")
        if instruction is not None:
            self._instruction = _inputs.text_bytes(instruction, "instruction")  # kept alive: score points at it
            score.pair.instruction = self._instruction
            score.pair.instruction_len = len(self._instruction)
        score.layers = _bounded(layers, "layers")
        self._score_opts = score

        handle = ctypes.c_void_p()
        _native.check(lib, lib.rerank_model_load(os.fsencode(path), ctypes.byref(opts), ctypes.byref(handle)))
        self._handle = handle
        try:
            info = self.info
            if score.layers > info["num_layers"]:
                raise InvalidArgumentError("layers = %d must be in [0, %d] (the model's layers)"
                                           % (score.layers, info["num_layers"]), 1, "invalid_argument")
            self._num_labels = info["num_labels"]
            self._activation = None
            # Surface bad pair options (e.g. an instruction given to a cross-encoder) now, not at the first score.
            self.tokenize("", "")
        except BaseException:
            self.close()
            raise

    # -- lifetime ------------------------------------------------------------------------------------

    @contextmanager
    def _using(self):
        """The model handle, held open (close() waits) until the block ends."""
        with self._cond:
            if self._closed or self._handle is None:
                raise ClosedError("this Reranker is closed")
            self._users += 1
        try:
            yield self._handle
        finally:
            with self._cond:
                self._users -= 1
                if not self._users:
                    self._cond.notify_all()

    def close(self):
        """Free the model now (waits for calls in other threads to finish). Idempotent."""
        cond = getattr(self, "_cond", None)
        if cond is None:  # __init__ failed before any state existed
            return
        with cond:
            if self._closed:
                return
            self._closed = True
            while self._users:
                cond.wait()
            handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.rerank_model_free(handle)

    @property
    def closed(self):
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __repr__(self):
        if self._closed:
            return "Reranker(%r, closed)" % self._path
        info = self.info
        return "Reranker(%r, family=%r, precision=%r, device=%r)" % (self._path, info["family"], info["precision"],
                                                                      info["device"])

    # -- description ---------------------------------------------------------------------------------

    @property
    def info(self):
        """The model as rerank_model_info_t describes it, as a dict (precision as its name)."""
        lib, info = self._lib, _native.ModelInfo()
        with self._using() as h:
            lib.rerank_model_get_info(h, ctypes.byref(info))
            out = {}
            for name, _ in _native.ModelInfo._fields_:
                value = getattr(info, name)
                out[name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        out["precision"] = _native.precision_name(lib, info.precision)
        return out

    @property
    def healthy(self):
        """False after a device fault: the model must be closed and loaded again."""
        with self._using() as h:
            return bool(self._lib.rerank_model_healthy(h))

    @property
    def model_path(self):
        return self._path

    # -- tokens ----------------------------------------------------------------------------------------

    def tokenize(self, query, doc=None, return_type_ids=False):
        """Token ids: of one text without special tokens (doc None), or of the pair (query, doc) exactly
        as the model scores it (special tokens or an LLM reranker's prompt, truncated as configured).
        return_type_ids: return (ids, type_ids)."""
        lib, enc = self._lib, _native.Encoding()
        q = _inputs.text_bytes(query, "query")
        try:
            with self._using() as h:
                if doc is None:
                    st = lib.rerank_tokenize(lib.rerank_model_tokenizer(h), q, len(q), ctypes.byref(enc))
                else:
                    d = _inputs.text_bytes(doc, "doc")
                    st = lib.rerank_model_tokenize_pair(h, q, len(q), d, len(d), ctypes.byref(self._score_opts.pair),
                                                        ctypes.byref(enc))
            _native.check(lib, st)
            ids = enc.ids[:enc.n]
            types = enc.type_ids[:enc.n]
        finally:
            lib.rerank_encoding_free(ctypes.byref(enc))
        return (ids, types) if return_type_ids else ids

    # -- scoring core ----------------------------------------------------------------------------------

    def _options(self, max_length=None, normalize=False):
        opts = _native.ScoreOptions.from_buffer_copy(self._score_opts)  # instruction bytes stay owned by self
        if max_length is not None:
            opts.pair.max_length = _bounded(max_length, "max_length")
        opts.normalize = 1 if normalize else 0
        return opts

    def _score_one_query(self, h, query, docs, opts, out):
        n = len(docs)
        texts = (ctypes.c_char_p * n)(*docs)
        lens = (ctypes.c_size_t * n)(*map(len, docs))
        st = self._lib.rerank_score(h, query, len(query), texts, lens, n, ctypes.byref(opts), out)
        _native.check(self._lib, st)

    def _score_mixed(self, h, queries, docs, opts, out):
        """Pairs of several queries: tokenize each pair, then score them all in one call."""
        lib, enc = self._lib, _native.Encoding()
        ids, types, spans = array.array("i"), array.array("i"), []
        try:
            for i, (q, d) in enumerate(zip(queries, docs)):
                st = lib.rerank_model_tokenize_pair(h, q, len(q), d, len(d), ctypes.byref(opts.pair),
                                                    ctypes.byref(enc))
                _native.check(lib, st, "pair %d" % i)
                spans.append((len(ids), enc.n))
                ids.frombytes(ctypes.string_at(enc.ids, enc.n * 4))
                types.frombytes(ctypes.string_at(enc.type_ids, enc.n * 4))
        finally:
            lib.rerank_encoding_free(ctypes.byref(enc))
        ids.append(0)  # never empty, so from_buffer has a base address
        types.append(0)
        id_buf = (ctypes.c_int32 * len(ids)).from_buffer(ids)
        type_buf = (ctypes.c_int32 * len(types)).from_buffer(types)
        pairs = (_native.Pair * len(spans))()
        for p, (off, n) in zip(pairs, spans):
            p.ids = ctypes.cast(ctypes.addressof(id_buf) + off * 4, _native.c_int32_p)
            p.type_ids = ctypes.cast(ctypes.addressof(type_buf) + off * 4, _native.c_int32_p)
            p.n = n
        st = lib.rerank_score_tokens(h, pairs, len(spans), ctypes.byref(opts), out)
        _native.check(lib, st)

    def _scores(self, queries, docs, batch_size=None, max_length=None, normalize=False):
        """Raw (or sigmoid) scores of (queries[i], docs[i]) as a list of floats."""
        n = len(docs)
        if batch_size is not None:
            batch_size = _inputs.non_negative_int(batch_size, "batch_size")
            if batch_size == 0:
                raise ValueError("batch_size = 0 must be >= 1")
        step = batch_size or max(n, 1)
        opts = self._options(max_length, normalize)
        out = (ctypes.c_float * n)()
        with self._using() as h:
            for a in range(0, n, step):
                b = min(n, a + step)
                chunk = ctypes.cast(ctypes.addressof(out) + a * 4, ctypes.POINTER(ctypes.c_float))
                if all(q == queries[a] for q in queries[a:b]):
                    self._score_one_query(h, queries[a], docs[a:b], opts, chunk)
                else:
                    self._score_mixed(h, queries[a:b], docs[a:b], opts, chunk)
        return list(out)

    # -- FlagEmbedding's FlagReranker ------------------------------------------------------------------

    def compute_score(self, sentence_pairs, batch_size=None, max_length=None, normalize=False):
        """FlagReranker.compute_score: one pair [q, d] gives a float, a list of pairs a list of floats
        (raw logits; normalize=True: their sigmoid). max_length overrides the model's for this call;
        batch_size splits the pairs into calls of that many (the library packs its own batches)."""
        single, queries, docs = _inputs.split_pairs(sentence_pairs, "sentence_pairs")
        scores = self._scores(queries, docs, batch_size, max_length, normalize)
        return scores[0] if single else scores

    # -- sentence-transformers' CrossEncoder -----------------------------------------------------------

    def _default_activation(self):
        if self._activation is None:
            self._activation = _activation.model_default(self._path, self._num_labels)
        return self._activation

    def predict(self, sentences, batch_size=None, show_progress_bar=None, activation_fn=None,
                apply_softmax=False, convert_to_numpy=True, convert_to_tensor=False):
        """CrossEncoder.predict (its arguments in its order): the score of one pair (a scalar) or of
        each pair of a list (a numpy float32 array when numpy is installed and convert_to_numpy, else
        a list; a torch tensor with convert_to_tensor, which needs torch). Scores go through the
        model's CrossEncoder activation (config.json's, else sigmoid for a one-label model) unless
        activation_fn says otherwise ("sigmoid", "identity", "tanh" or a float -> float callable).
        apply_softmax is accepted as CrossEncoder takes it: it acts on several labels per pair, and a
        reranker gives one score per pair, so it changes nothing (as in CrossEncoder).
        show_progress_bar is accepted for compatibility and ignored."""
        single, queries, docs = _inputs.split_pairs(sentences, "sentences")
        act = _activation.resolve(activation_fn, self._default_activation)
        scores = [float(act(s)) for s in self._scores(queries, docs, batch_size)]
        if convert_to_tensor:
            return _to_tensor(scores, single)
        if convert_to_numpy and _np is not None:
            arr = _np.asarray(scores, dtype=_np.float32)
            return arr[0] if single else arr
        return scores[0] if single else scores

    def _scores_long(self, query, docs, lopts):
        """Raw scores of (query, docs[i]) under long-document options, and each one's best window."""
        n = len(docs)
        opts = self._options()
        out, best = (ctypes.c_float * n)(), (_native.ChunkInfo * n)()
        texts = (ctypes.c_char_p * n)(*docs)
        lens = (ctypes.c_size_t * n)(*map(len, docs))
        with self._using() as h:
            st = self._lib.rerank_score_long(h, query, len(query), texts, lens, n, ctypes.byref(opts),
                                             ctypes.byref(lopts), out, best)
        _native.check(self._lib, st)
        return list(out), list(best)

    def rank(self, query, documents, top_k=None, return_documents=False, batch_size=None,
             show_progress_bar=None, activation_fn=None, *, long_docs=None, chunk_tokens=0, chunk_overlap=0,
             max_chunks_per_doc=0, max_tokens_per_doc=0):
        """CrossEncoder.rank: [{"corpus_id": i, "score": s[, "text": documents[i]]}] best first (ties keep
        the documents' order), the first top_k of them when top_k is given. long_docs="chunk" scores a
        document longer than the room the query leaves in windows of chunk_tokens (0: the room) sharing
        chunk_overlap tokens, at most max_chunks_per_doc of them (0: no bound), and keeps the best: each
        result then names it ("chunk", "chunks", "token_start", "token_end", "doc_tokens").
        max_tokens_per_doc cuts every document to that many tokens first (either mode)."""
        documents = _inputs.documents_list(documents)
        docs = [_inputs.text_bytes(d, "documents[%d]" % i) for i, d in enumerate(documents)]
        q = _inputs.text_bytes(query, "query")
        if top_k is not None:
            top_k = _inputs.non_negative_int(top_k, "top_k")
        act = _activation.resolve(activation_fn, self._default_activation)
        best = None
        if long_docs is None and not max_tokens_per_doc:
            scores = [float(act(s)) for s in self._scores([q] * len(docs), docs, batch_size)]
        else:
            lopts = self._lib.rerank_long_options_default()
            lopts.mode = _choice(long_docs or "truncate", _native.LONG_DOCS, "long_docs")
            lopts.chunk_tokens = _bounded(chunk_tokens, "chunk_tokens")
            lopts.chunk_overlap = _bounded(chunk_overlap, "chunk_overlap")
            lopts.max_chunks_per_doc = _bounded(max_chunks_per_doc, "max_chunks_per_doc")
            lopts.max_tokens_per_doc = _bounded(max_tokens_per_doc, "max_tokens_per_doc")
            raw, best = self._scores_long(q, docs, lopts) if docs else ([], [])
            scores = [float(act(s)) for s in raw]
            if lopts.mode != _native.LONG_DOCS["chunk"]:
                best = None
        results = [{"corpus_id": i, "score": s} for i, s in enumerate(scores)]
        if best is not None:
            for r, c in zip(results, best):
                r.update(chunk=c.chunk, chunks=c.n_chunks, token_start=c.token_start, token_end=c.token_end,
                         doc_tokens=c.doc_tokens)
        if return_documents:
            for r in results:
                r["text"] = documents[r["corpus_id"]]
        results.sort(key=lambda r: r["score"], reverse=True)
        return results if top_k is None else results[:top_k]
