"""Offline learning: fit the parameters (Phi, sigma, u0, b, eta) from recorded spike counts."""
