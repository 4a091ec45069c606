"""volterra_sym: symbolic-numeric response theory of stochastic recurrent neural networks."""

__version__ = "0.1.0"
