"""Schemathesis against the running stack's own OpenAPI document, signed in as each role.

Every answer must be no 5xx, a status code the document declares for the operation, a declared
content type and a body of the declared shape. The seed is fixed and the examples bounded, so a
run repeats the same requests (only the stack's state differs between runs).

Two passes share the time: the coverage phase (deterministic boundary and missing-field cases of
every parameter and body field) once per operation, as the admin, since the gateway validates
input before it looks at the role; then random examples per operation for every role, which is
where the role and tenant rules answer (a path or query parameter, and an id field of a body at
any depth, is now and then a real id of the tenant, so the success paths behind a body run too).
"""
import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from schemathesis import checks

from tests.e2e.conftest import BASE_URL
from tests.fuzz.conftest import ROLES
from tests.support import wait_until

DOCUMENT = f"{BASE_URL}/api/v1/openapi.json"
# Random examples per operation and role: about 50 operations x 4 roles within the minutes the
# suite has for this tier on the shared two cores.
MAX_EXAMPLES = 5
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]
# Parameters that name a login: a made-up value gets this prefix, so the fuzzer never locks
# (failed logins) or disables an account that another test uses.
LOGIN_NAMES = {"username"}
FUZZ_PREFIX = "fuzz"
# The tenant's real ids by parameter name, filled by the fixture below before any test runs.
REAL_IDS = {}
# Body fields (at any depth, e.g. entries[].volunteer_id) -> the REAL_IDS name of their ids.
BODY_ID_FIELDS = {"volunteer_id": "volunteer_id", "from_volunteer_id": "volunteer_id",
                  "to_volunteer_id": "volunteer_id", "reward_id": "reward_id",
                  "activity_id": "activity_id", "center_id": "center_id",
                  "community_id": "community_id", "merchant_id": "merchant_id",
                  # the one-time code a merchant redeems (other "code" fields just get a 4xx)
                  "code": "code"}


def load(phase):
    """The document, loaded when the module is collected, with one generation phase on. (The
    lazy schemathesis.pytest.from_fixture writes node._nodeid, which pytest 9.2 no longer has.)"""
    phases = {name: {"enabled": name == phase}
              for name in ("examples", "coverage", "fuzzing", "stateful")}
    # Other methods than the declared ones are the gateway's routing (405), not our handlers.
    phases["coverage"]["unexpected-methods"] = []
    config = schemathesis.Config.from_dict({
        "seed": 9,
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none", "mode": "all"},
        "phases": phases,
        # As long as the e2e tier's client waits: on the shared cores an answer that is merely
        # slow is not what this tier looks for (bench/ times things).
        "request-timeout": 30,
    })
    schema = schemathesis.openapi.from_url(DOCUMENT, config=config, wait_for_schema=60)
    schema.hook("flatmap_path_parameters")(lambda context, values: with_real_ids(values))
    schema.hook("flatmap_query")(lambda context, values: with_real_ids(values))
    schema.hook("flatmap_body")(lambda context, body: with_real_body_ids(body))
    return schema


def with_real_ids(generated):
    """A strategy that keeps each generated value or swaps in a real id of the same name."""
    if not isinstance(generated, dict):
        return st.just(generated)
    return st.fixed_dictionaries({
        name: _or_real(name, st.just(f"{FUZZ_PREFIX}{value}" if name in LOGIN_NAMES else value))
        for name, value in generated.items()})


def with_real_body_ids(body):
    """A strategy that keeps the generated body or swaps real ids into its id fields, in nested
    objects and lists too; anything else (a string body, a number) is kept as it is."""
    if isinstance(body, dict):
        return st.fixed_dictionaries({
            name: _or_real(BODY_ID_FIELDS.get(name), with_real_body_ids(value))
            for name, value in body.items()})
    if isinstance(body, list):
        return st.tuples(*map(with_real_body_ids, body)).map(list)
    return st.just(body)


def _or_real(name, generated):
    return st.one_of(generated, st.sampled_from(REAL_IDS[name])) if name in REAL_IDS \
        else generated


def signed_in(context):
    return bool(context.operation.definition.raw.get("security"))


boundaries = load("coverage")
fuzzed = load("fuzzing")


# Module-scoped: Hypothesis refuses function-scoped fixtures (not reset between examples).
@pytest.fixture(scope="module", params=ROLES)
def role(request):
    return request.param


@pytest.fixture(scope="module", autouse=True)
def real_ids(tenant):
    REAL_IDS.update(tenant.path_ids)


@pytest.fixture(scope="module")
def session():
    with requests.Session() as http:
        yield http


@boundaries.parametrize()
def test_boundary_cases(case, tenant, session):
    call_and_validate(case, _token_for(case, "admin", tenant), session)


@fuzzed.include(signed_in).parametrize()
def test_random_cases_as_each_role(case, role, tenant, session):
    call_and_validate(case, _token_for(case, role, tenant), session)


@fuzzed.exclude(signed_in).parametrize()
def test_random_cases_without_a_token(case, session):
    call_and_validate(case, None, session)


def call_and_validate(case, token, session):
    if case.path.endswith("/auth/token") and isinstance(case.body, dict) and \
            isinstance(case.body.get("username"), str):
        case.body["username"] = FUZZ_PREFIX + case.body["username"]
    headers = {"Authorization": f"Bearer {token}"} if token else None
    answers = []

    def answered():
        try:
            answers.append(case.call(base_url=BASE_URL, session=session, headers=headers))
        except requests.ConnectionError:  # the gateway is restarting: nothing answered
            return False
        return answers[-1].status_code != 503

    # A 503 (a service did not answer) or a refused connection is asked again until a
    # deadline: the stack may be restarting under another test or engineer (make restart,
    # test_kill_under_load). A 503 still there at the deadline fails not_a_server_error like
    # any other 5xx; a gateway that never answers fails here.
    try:
        wait_until(answered, timeout=60, interval=1, message="an answer other than 503")
    except AssertionError:
        if not answers:
            raise
    case.validate_response(answers[-1], checks=CHECKS, headers=headers)


def _token_for(case, role, tenant):
    """The role's main token; a spare's for a password change (wrong old passwords lock that
    account) and a fresh one for logout (which ends the token it is sent with)."""
    if case.path.endswith("/auth/password"):
        return tenant.spares[role].token
    login = tenant.logins[role]
    if case.path.endswith("/auth/logout"):
        return _login(login.username, login.password)
    return login.token


def _login(username, password):
    response = requests.post(f"{BASE_URL}/api/v1/auth/token",
                             json={"username": username, "password": password}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]
