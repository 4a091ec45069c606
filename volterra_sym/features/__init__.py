"""Response features: expanding-window truncated path signatures (THEORY.md §5)."""

from volterra_sym.features.signature import (
    DEFAULT_REFINE,
    FeatureLayout,
    ResponseFeatures,
    expanding_signature,
    feature_layout,
    feature_path_increments,
    iter_response_features,
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
