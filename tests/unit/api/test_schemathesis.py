"""Property-based run of every documented operation (schemathesis over the app's OpenAPI schema, in process).

Valid and invalid requests generated from the schema must never get a 5xx, must get a documented status with
the documented content type, and must match the documented response schema; invalid ones must be refused.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra: pip install -e .[dev]")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,  # noqa: E402
                                               response_schema_conformance, status_code_conformance)

EXAMPLES_PER_OPERATION = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.slow
def test_no_operation_breaks_or_strays_from_its_schema(writable):
    client, _ = writable()
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:
        for mode, checks in ((GenerationMode.POSITIVE, CHECKS),
                             (GenerationMode.NEGATIVE, CHECKS + [negative_data_rejection])):

            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(mode))
            def run(case) -> None:
                case.call_and_validate(checks=checks)

            try:
                run()
            except Unsatisfiable:  # an operation without inputs has no invalid request to make
                assert mode == GenerationMode.NEGATIVE, operation.label
    calls = {(s.labels["route"], s.labels["status"]): s.value
             for metric in client.app.state.metrics.requests.collect() for s in metric.samples
             if s.name.endswith("_total")}
    assert sum(calls.values()) >= 5 * len(operations)  # the run really exercised the app
    assert {route for route, _ in calls} >= {"/search/text", "/search/audio", "/tag", "/score"}
    assert any(status == "200" for _, status in calls) and any(status == "422" for _, status in calls)
