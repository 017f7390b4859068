"""rerank._activation — the score activation of CrossEncoder.predict: the model's default, or one the caller names."""
import json
import math
import os

from .errors import UnsupportedError


def _sigmoid(x):
    # Two branches keep exp() from overflowing for large |x|.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _identity(x):
    return x


# torch.nn class names (the last component of the dotted path config.json stores) and their function.
_BY_NAME = {"sigmoid": _sigmoid, "identity": _identity, "tanh": math.tanh}


def by_name(name, where):
    """"Sigmoid", "torch.nn.modules.activation.Sigmoid", "identity", ... -> a float -> float function."""
    fn = _BY_NAME.get(name.rsplit(".", 1)[-1].lower())
    if fn is None:
        raise UnsupportedError("%s: activation %r is not one of %s; pass activation_fn= to predict()"
                               % (where, name, ", ".join(sorted(_BY_NAME))))
    return fn


def model_default(model_dir, num_labels):
    """sentence-transformers' CrossEncoder default: config.json's "sentence_transformers": {"activation_fn"}
    or the older "sbert_ce_default_activation_function"; without either, Sigmoid for one label and
    Identity otherwise."""
    path = os.path.join(model_dir, "config.json")
    try:
        with open(path, "rb") as f:
            config = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        config = {}  # the library loaded the model; a config it read but we cannot is no reason to fail here
    st = config.get("sentence_transformers")
    name = st.get("activation_fn") if isinstance(st, dict) else None
    if not isinstance(name, str):
        name = config.get("sbert_ce_default_activation_function")
    if isinstance(name, str):
        return by_name(name, path)
    return _sigmoid if num_labels == 1 else _identity


def resolve(activation_fn, default):
    """predict()'s activation_fn argument: None (the model's default), a name, or a float -> float callable."""
    if activation_fn is None:
        return default()
    if isinstance(activation_fn, str):
        return by_name(activation_fn, "activation_fn")
    if callable(activation_fn):
        return activation_fn
    raise TypeError("activation_fn must be None, a name (sigmoid, identity, tanh) or a callable, not %s"
                    % type(activation_fn).__name__)
