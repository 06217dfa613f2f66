"""The deploy CLI's fixtures (a project folder, the SCF and COS doubles on one `responses` mock) from
tests/support/deploy.py, which tests/security/test_state_protection_policy.py uses too."""
from tests.support.deploy import cos, policy, project, rsps, scf  # noqa: F401
