"""Deployment tooling: the SCF package builder, the CAM policy renderer and the configuration-table generator."""
