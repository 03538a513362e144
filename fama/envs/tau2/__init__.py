"""envs/tau2."""
