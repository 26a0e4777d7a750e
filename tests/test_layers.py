"""The apps stay in layers: booking on patients on audit on accounts on clinic, and clinic a leaf
(pyproject.toml's import contracts, checked by import-linter; docs/decisions.md, "Layers")."""

from pathlib import Path

import importlinter.api
from importlinter.application.use_cases import lint_imports

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_layer_contracts_are_all_there():
    contracts = importlinter.api.read_configuration(str(PYPROJECT))["contracts_options"]
    assert {c["id"] for c in contracts} >= {"layers", "clinic-leaf", "patients-below-booking"}


def test_no_app_imports_an_app_above_it(capsys):
    kept = lint_imports(config_filename=str(PYPROJECT), cache_dir=None, no_logo=True)
    assert kept, capsys.readouterr().out  # the broken contract and the import chains that break it
