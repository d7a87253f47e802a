"""The OpenAPI document's own consistency: what the fuzzer (tests/fuzz) and outside clients read."""
import re

from services.gateway.openapi import openapi_document


def operations():
    for path, methods in openapi_document()["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_path_placeholder_is_a_declared_path_parameter():
    # "/redeem-codes/{code}.svg" once declared a parameter "code}.sv" and none named code.
    for path, method, operation in operations():
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"} \
            if "parameters" in operation else set()
        assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path, declared)


def test_every_success_answer_declares_its_content_type_and_shape():
    for path, method, operation in operations():
        successes = {code: answer for code, answer in operation["responses"].items()
                     if code.startswith("2")}
        assert successes, (method, path)
        for code, answer in successes.items():
            assert answer.get("content"), (method, path, code)
            for media_type in answer["content"].values():
                assert "schema" in media_type, (method, path, code)


def test_api_md_fields_are_required_in_the_answers():
    paths = openapi_document()["paths"]
    balance = paths["/api/v1/volunteers/{volunteer_id}/balance"]["get"]["responses"]["200"]
    assert set(balance["content"]["application/json"]["schema"]["required"]) == {
        "volunteer_id", "balance", "reserved", "available", "expiring"}
    qr = paths["/api/v1/volunteers/{volunteer_id}/redeem-codes/{code}.svg"]["get"]
    assert list(qr["responses"]["200"]["content"]) == ["image/svg+xml"]
