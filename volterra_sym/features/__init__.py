"""Response features: expanding-window truncated path signatures (docs/theory.md §5)."""

from volterra_sym.features.signature import (
    DEFAULT_REFINE,
    FeatureLayout,
    ResponseFeatures,
    augment_input,
    expanding_signature,
    feature_layout,
    feature_path_increments,
    iter_response_features,
    kick_channels,
    response_features,
    signature_levels,
    signature_size,
    signature_words,
    tensor_exp,
)

__all__ = [
    "DEFAULT_REFINE",
    "FeatureLayout",
    "ResponseFeatures",
    "augment_input",
    "kick_channels",
    "expanding_signature",
    "feature_layout",
    "feature_path_increments",
    "iter_response_features",
    "response_features",
    "signature_levels",
    "signature_size",
    "signature_words",
    "tensor_exp",
]

# --- response functional and kernel machine (docs/theory.md §5) ---
from volterra_sym.features.functional import (  # noqa: E402
    ResponseFunctional,
    functional_channels,
    functional_from_coefficients,
    kick_multiplicity,
    response_functional,
    response_functional_latex,
    word_terms,
)
from volterra_sym.features.kernel_machine import (  # noqa: E402
    KernelRidge,
    RidgeReadout,
    feature_kernel,
    fit_kernel_ridge,
    fit_ridge,
    hidden_unit_functionals,
    loo_errors,
    response_kernel_matrix,
    restrict_index,
    select_lambda,
    series_features,
    signature_batch,
    signature_kernel,
    srnn_features,
    unit_vectors,
)

__all__ += [
    "KernelRidge",
    "ResponseFunctional",
    "RidgeReadout",
    "feature_kernel",
    "fit_kernel_ridge",
    "fit_ridge",
    "functional_channels",
    "functional_from_coefficients",
    "hidden_unit_functionals",
    "kick_multiplicity",
    "loo_errors",
    "response_functional",
    "response_functional_latex",
    "response_kernel_matrix",
    "restrict_index",
    "select_lambda",
    "series_features",
    "signature_batch",
    "signature_kernel",
    "srnn_features",
    "unit_vectors",
    "word_terms",
]

# --- scikit-learn estimators (volterra_sym.features.sklearn), loaded on first use so that
# importing the features package does not import scikit-learn. ``ResponseFeatureTransformer``
# is the transformer ``volterra_sym.features.sklearn.ResponseFeatures`` (the name
# ``ResponseFeatures`` here is the signature result class).
_SKLEARN = {"ResponseFeatureTransformer": "ResponseFeatures", "SRNNFeatures": "SRNNFeatures",
            "SRNNKernel": "SRNNKernel"}
__all__ += list(_SKLEARN)


def __getattr__(name: str) -> object:
    if name in _SKLEARN:
        from . import sklearn as _sk

        return getattr(_sk, _SKLEARN[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
