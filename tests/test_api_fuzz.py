"""Fuzzing the web API from its own OpenAPI schema: whatever a client sends, the server never answers 500.

Schemathesis reads ``/openapi.json`` and generates requests for every operation (random bytes and
strings in the multipart field, missing fields, odd values); Hypothesis keeps the number of examples
small so this stays a few seconds of the ordinary test run.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from digit_images import untrained_model_file
from digit_recog.web.app import create_app

EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    """The app's schema, loaded through the app itself (the ASGI transport runs its startup)."""
    app = create_app(model_path=untrained_model_file(tmp_path_factory.mktemp("model")))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_the_schema_lists_the_operations(api_schema):
    operations = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert operations == {("GET", "/health"), ("POST", "/api/predict")}


@pytest.mark.parametrize("path", ["/health", "/api/predict"])
def test_no_request_makes_the_server_fail(api_schema, path):
    (operation,) = [op.ok() for op in api_schema.get_all_operations() if op.ok().path == path]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
    def no_server_error(case):
        case.call_and_validate(checks=[not_a_server_error])

    no_server_error()
