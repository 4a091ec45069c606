"""Reports: LaTeX derivations, plots and the command line."""

from .latex import LatexUnavailableError, compile_pdf, derivation_document

__all__ = ["derivation_document", "compile_pdf", "LatexUnavailableError"]
