"""The API's contract, tested by schemathesis from /openapi.json: no 5xx, no undocumented
status, no answer that breaks its documented schema, every check schemathesis has.

Examples are bounded (hypothesis settings) so the run stays short; the app is the real
command API on a fresh embedded store, called in-process over ASGI.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from eoc.app.config import Settings
from eoc.http.api import create_api
from eoc.main.bootstrap import build

_DATA = Path(tempfile.mkdtemp(prefix="eoc-contract-"))
# The abuse limits are off here (their 429 is documented and tested in test_identity): the
# contract run sends hundreds of requests a second as one user.
_SYSTEM = build(Settings.from_env({}, store="sqlite", data_dir=_DATA, token_secret=b"contract-secret-contract",
                                  rate_limit_scale=0.0),
                checkpoint=False)
atexit.register(lambda: (_SYSTEM.close(), shutil.rmtree(_DATA, ignore_errors=True)))
# Every check is on. A schema-valid body may still be refused with 422 for what JSON Schema
# cannot say (a position inside the box but outside Iran's polygon, a county of another
# province): that one status is added to the statuses "positive data" may get.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict({"checks": {
    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]},
}})
schema = schemathesis.openapi.from_asgi("/openapi.json", create_api(_SYSTEM), config=CONFIG)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case):
    token = _SYSTEM.signer.issue("provincial_supervisor", "QZV", sub="contract")
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
