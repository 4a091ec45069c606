"""Monte Carlo for SRNNs (docs/theory.md §7): ensembles, CRN responses, kernel estimators.

* :mod:`.integrators` — Euler–Maruyama and the exponential integrator, stability limits.
* :mod:`.sampling` — initial states from ``p0``, conjugate variables ``v_k``.
* :mod:`.simulate` — the chunked, reproducible path engine and :func:`simulate`.
* :mod:`.error_bounds` — the ``error`` of every estimate: standard errors, the measured
  time-step bias and the bound of its remainder.
* :mod:`.estimators` — :func:`response` (common random numbers), first- and second-order
  kernels from fluctuation–dissipation and Girsanov correlations, time-step bias.
* :mod:`.crn` — :func:`crn_responses`: responses at several ε from one CRN ensemble,
  Richardson-extrapolated in ``dt`` (and their even and odd parts in ε:
  :func:`parity_matrix`, :func:`parity_parts`).
* :mod:`.control` — control variates from the linearised network.
* :mod:`.kicks` — :func:`kick_kernel`: kernels of orders 1 and 2 as central differences of
  kicked common-noise paths.
* :mod:`.distributed` — chunks in-process or on a Dask cluster (``client=``), merged in
  chunk order (docs/theory.md §12).
"""

from .control import linearised_model
from .crn import CRNResponses, crn_responses, parity_matrix, parity_parts
from .distributed import map_chunks
from .estimators import (
    KernelEstimate,
    Moments,
    ResponseEstimate,
    first_order_kernel,
    girsanov_matrix,
    response,
    second_order_kernel,
)
from .integrators import SCHEMES, Integrator, SimulationError, check_time_step
from .kicks import kick_kernel
from .sampling import (
    BurnInSampler,
    burn_in_sampler,
    conjugate_variables,
    gaussian_sampler,
    inverse_cdf_sampler,
    one_dim_density,
    ou_stationary,
    second_conjugate_variables,
    stationary_sampler,
)
from .simulate import (
    SEED_BLOCK,
    Companion,
    DivergenceError,
    Ensemble,
    PathJob,
    compile_observable,
    run_paths,
    simulate,
)

__all__ = [
    "SCHEMES", "SEED_BLOCK", "BurnInSampler", "Companion", "DivergenceError", "Ensemble",
    "Integrator", "KernelEstimate", "Moments", "PathJob", "ResponseEstimate",
    "SimulationError", "burn_in_sampler", "linearised_model", "map_chunks",
    "check_time_step", "compile_observable", "conjugate_variables", "first_order_kernel",
    "gaussian_sampler", "girsanov_matrix", "inverse_cdf_sampler", "one_dim_density",
    "ou_stationary", "response", "run_paths", "second_conjugate_variables",
    "second_order_kernel", "simulate", "stationary_sampler",
]
__all__ += ["CRNResponses", "crn_responses", "kick_kernel", "parity_matrix", "parity_parts"]
