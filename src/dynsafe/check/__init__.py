"""``dynsafe check``: a static checker for lost updates in boto3 DynamoDB code.

It reads source with ``ast`` and never imports the code it checks, so it runs in CI on
services that do not even install; it uses nothing from the dynsafe runtime. The roles:

- rules (``_rules`` and one ``_rules_*`` module per concern): DS101-DS105, listed in
  ``RULES``;
- flow (``_flow``, ``_summary``): one walk per function tracking which values came
  from a read, and what each helper does with its arguments;
- expressions (``_expr``, ``_resolve``, ``_reserved``): reading expression strings and
  the literals they are built from, against the full reserved word list;
- runner (``_runner``): files, excludes, suppressions, a process pool for big trees;
- output (``_output``) and command line (``_cli``): text, JSON and SARIF 2.1.0.

Use it as ``dynsafe check [PATHS...]``, or from Python::

    from dynsafe.check import check_source

    for finding in check_source(code):
        print(finding.line, finding.code, finding.message, finding.hint)
"""

from dynsafe.check._cli import main
from dynsafe.check._config import Config, ConfigError, load_config
from dynsafe.check._model import RULES, FileError, Finding, Rule
from dynsafe.check._output import Report
from dynsafe.check._runner import check_file, check_paths, check_source

__all__ = [
    "RULES",
    "Config",
    "ConfigError",
    "FileError",
    "Finding",
    "Report",
    "Rule",
    "check_file",
    "check_paths",
    "check_source",
    "load_config",
    "main",
]
