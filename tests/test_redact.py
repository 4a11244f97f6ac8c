"""milab.redact: every pattern, markup-escaped forms, registered secrets, the logging filter,
and text that must come through unchanged."""
from __future__ import annotations

import io
import logging
import threading
import uuid

import pytest

from milab.redact import (
    MARKUP_MASK,
    MASK,
    RedactingFilter,
    contains_secret,
    redact,
    redact_markup,
    register_secret,
)

JWT = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik1uQ19WWmNBVGZNNXBPWWlKSE1iYTlnb0VLWSJ9"
       ".eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tLyIsImlzcyI6Imh0dHBzOi8vc3RzIn0"
       ".c2lnbmF0dXJlX29mX3RoZV90b2tlbl9oZXJlX2FiY2RlZmdo")
JWT_PARTS = JWT.split(".")
ACCOUNT_KEY = "U3RvcmFnZUFjY291bnRLZXlGb3JUZXN0aW5nT25seQ+/xyz=="
SAS_SIG = "k8Zx%2BQvB3pQ%2F7yWqM9rT0s%3D"
COSMOS_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="


def _gone(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"{secret!r} survived in {text!r}"


# --------------------------------------------------------------------------- JWTs, bearer tokens

def test_jwt_alone():
    out = redact(f"token is {JWT} here")
    assert out == f"token is {MASK} here"


@pytest.mark.parametrize("wrapper", ["'{}'", '"{}"', "({})", "[{}]", "x={}&y=1", "{}."])
def test_jwt_in_context(wrapper):
    out = redact(wrapper.format(JWT))
    _gone(out, *JWT_PARTS)
    assert MASK in out


def test_jwt_truncated_by_pytest_repr():
    # pytest's saferepr cuts long strings in the middle: 'eyJ0eXAiOiJKV1Qi...b2tlbl9oZXJlX2FiY2RlZmdo'
    truncated = f"'{JWT[:30]}...{JWT[-20:]}'"
    out = redact(truncated)
    _gone(out, JWT[:30], JWT[-20:])


def test_jwt_header_only():
    assert redact(JWT_PARTS[0]) == MASK
    assert redact(f"{JWT_PARTS[0]}.{JWT_PARTS[1]}") == MASK


def test_bearer_truncated_token():
    assert redact("Authorization header was Bearer eyJ0eXAi...") == "Authorization header was Bearer <redacted>"
    assert redact("sent Bearer eyJ...") == "sent Bearer <redacted>"


@pytest.mark.parametrize("text, expected", [
    (f"Authorization: Bearer {JWT}", "Authorization: Bearer <redacted>"),
    ("Authorization: Bearer opaque-token_value.123", "Authorization: Bearer <redacted>"),
    ("authorization: bearer abc", "authorization: bearer <redacted>"),
    ("{'Metadata': 'true', 'Authorization': 'Bearer xyz123'}",
     "{'Metadata': 'true', 'Authorization': 'Bearer <redacted>'}"),
    ('{"Authorization": "Bearer xyz123", "x": 1}', '{"Authorization": "Bearer <redacted>", "x": 1}'),
])
def test_authorization_bearer_header(text, expected):
    assert redact(text) == expected


# --------------------------------------------------------------------------- OAuth token fields

@pytest.mark.parametrize("text, expected", [
    (f'{{"access_token": "{JWT}", "expires_in": "3599", "token_type": "Bearer"}}',
     '{"access_token": "<redacted>", "expires_in": "3599", "token_type": "Bearer"}'),
    ('{"refresh_token": "0.AAAA-opaque-refresh", "resource": "https://management.azure.com/"}',
     '{"refresh_token": "<redacted>", "resource": "https://management.azure.com/"}'),
    ("{'access_token': 'opaque123', 'refresh_token': 'r3fr3sh'}",
     "{'access_token': '<redacted>', 'refresh_token': '<redacted>'}"),
    ("https://app/cb#access_token=opaque123&token_type=Bearer",
     "https://app/cb#access_token=<redacted>&token_type=Bearer"),
    ("access_token=opaque123 expires_in=3599", "access_token=<redacted> expires_in=3599"),
    ('{"id_token": "abc.def"}', '{"id_token": "<redacted>"}'),
])
def test_token_fields(text, expected):
    assert redact(text) == expected


# --------------------------------------------------------------------------- SAS, Cosmos, storage

def test_sas_signature_only_sig_is_masked():
    url = ("https://acct.blob.core.windows.net/c/b.txt?sv=2021-08-06&ss=b&srt=sco&sp=rl"
           f"&se=2024-01-01T00:00:00Z&st=2023-12-31T00:00:00Z&spr=https&sig={SAS_SIG}")
    out = redact(url)
    assert out.endswith("&sig=<redacted>")
    assert out.startswith("https://acct.blob.core.windows.net/c/b.txt?sv=2021-08-06&ss=b&srt=sco&sp=rl")
    _gone(out, SAS_SIG)


@pytest.mark.parametrize("tail", ["&se=2024", "'", '"', " next", "\n", "\\\""])
def test_sas_signature_terminators(tail):
    out = redact(f"?sv=1&sig={SAS_SIG}{tail}")
    assert out == f"?sv=1&sig=<redacted>{tail}"


def test_sas_signature_url_encoded():
    out = redact(f"https://x/?q=sv%3D1%26sig%3D{SAS_SIG.replace('%', '%25')}%26se%3D2")
    assert "sig%3D<redacted>%26se%3D2" in out


@pytest.mark.parametrize("kind", ["aad", "master", "resource"])
def test_cosmos_authorization(kind):
    sig = JWT if kind == "aad" else COSMOS_KEY
    out = redact(f"authorization: type={kind}&ver=1.0&sig={sig}")
    assert out == f"authorization: type={kind}&ver=1.0&sig=<redacted>"
    encoded = redact(f"type%3D{kind}%26ver%3D1.0%26sig%3Dabc%2Bdef%3D%3D")
    assert encoded == f"type%3D{kind}%26ver%3D1.0%26sig%3D<redacted>"


@pytest.mark.parametrize("name", ["primaryMasterKey", "secondaryMasterKey",
                                  "primaryReadonlyMasterKey", "secondaryReadonlyMasterKey"])
def test_cosmos_list_keys(name):
    out = redact(f'{{"{name}": "{COSMOS_KEY}", "other": "visible"}}')
    assert out == f'{{"{name}": "<redacted>", "other": "visible"}}'


def test_account_key_connection_string():
    conn = ("DefaultEndpointsProtocol=https;AccountName=acct;"
            f"AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net")
    assert redact(conn) == ("DefaultEndpointsProtocol=https;AccountName=acct;"
                            "AccountKey=<redacted>;EndpointSuffix=core.windows.net")
    assert redact(f"AccountKey={ACCOUNT_KEY}") == "AccountKey=<redacted>"


def test_shared_access_key_connection_string():
    conn = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abcDEF123+/=;"
    assert redact(conn) == ("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;"
                            "SharedAccessKey=<redacted>;")


@pytest.mark.parametrize("scheme", ["SharedKey", "SharedKeyLite"])
def test_shared_key_authorization(scheme):
    out = redact(f"Authorization: {scheme} myaccount:ctzMq410TV3wS7upTBcunJTDLEJwMAZuFPfr0mrrA08=")
    assert out == f"Authorization: {scheme} myaccount:<redacted>"


def test_storage_list_keys_json():
    body = ('{"keys": [{"keyName": "key1", "value": "' + ACCOUNT_KEY + '", "permissions": "FULL"}, '
            '{"keyName": "key2", "value": "c2Vjb25kS2V5", "permissions": "FULL"}]}')
    out = redact(body)
    assert out == ('{"keys": [{"keyName": "key1", "value": "<redacted>", "permissions": "FULL"}, '
                   '{"keyName": "key2", "value": "<redacted>", "permissions": "FULL"}]}')


def test_storage_list_keys_value_first_and_pretty_printed():
    body = '{\n  "value": "c2Vjb25kS2V5",\n  "permissions": "FULL",\n  "keyName": "key2"\n}'
    assert '"value": "<redacted>"' in redact(body)
    assert "c2Vjb25kS2V5" not in redact(body)


def test_storage_list_keys_python_repr():
    out = redact("{'keyName': 'key1', 'value': 'c2Vjb25kS2V5', 'permissions': 'FULL'}")
    assert out == "{'keyName': 'key1', 'value': '<redacted>', 'permissions': 'FULL'}"


def test_classic_key1_key2():
    assert redact('{"key1": "abc==", "key2": "def=="}') == '{"key1": "<redacted>", "key2": "<redacted>"}'
    assert redact('{"primaryKey": "abc==", "secondaryKey": "def=="}') == \
        '{"primaryKey": "<redacted>", "secondaryKey": "<redacted>"}'


# --------------------------------------------------------------------------- client secrets, identity header

@pytest.mark.parametrize("text, expected", [
    ("grant_type=client_credentials&client_id=11111111-2222-3333-4444-555555555555"
     "&client_secret=Abc~8Q_secret.value&scope=https%3A%2F%2Fmanagement.azure.com%2F.default",
     "grant_type=client_credentials&client_id=11111111-2222-3333-4444-555555555555"
     "&client_secret=<redacted>&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"),
    ('{"client_secret": "Abc~8Q_secret"}', '{"client_secret": "<redacted>"}'),
    ('{"clientSecret": "Abc~8Q_secret"}', '{"clientSecret": "<redacted>"}'),
    ("AZURE_CLIENT_SECRET=Abc~8Q_secret", "AZURE_CLIENT_SECRET=<redacted>"),
])
def test_client_secret(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("X-IDENTITY-HEADER: 6b3c1d6e-secret", "X-IDENTITY-HEADER: <redacted>"),
    ("x-ms-identity-header: 6b3c1d6e-secret", "x-ms-identity-header: <redacted>"),
    ("{'X-IDENTITY-HEADER': '6b3c1d6e-secret', 'Metadata': 'true'}",
     "{'X-IDENTITY-HEADER': '<redacted>', 'Metadata': 'true'}"),
    ('{"x-ms-identity-header": "abc"}', '{"x-ms-identity-header": "<redacted>"}'),
    ("IDENTITY_HEADER=6b3c1d6e", "IDENTITY_HEADER=<redacted>"),
])
def test_identity_header(text, expected):
    assert redact(text) == expected


# --------------------------------------------------------------------------- escaped forms (report files)

def test_escaped_quotes_in_json_inside_repr():
    text = '\'{\\"access_token\\": \\"opaque123\\", \\"x\\": 1}\''
    out = redact(text)
    assert "opaque123" not in out
    assert '\\"access_token\\": \\"<redacted>\\"' in out


@pytest.mark.parametrize("quote", ["&quot;", "&#34;", "&amp;quot;", "&#x22;"])
def test_html_entity_quotes(quote):
    text = f"{quote}access_token{quote}: {quote}opaque123{quote}"
    out = redact_markup(text)
    assert out == f"{quote}access_token{quote}: {quote}{MARKUP_MASK}{quote}"


def test_markup_mask_in_xml_attribute():
    out = redact_markup(f'<failure message="sig={SAS_SIG}&amp;se=1 {JWT}"/>')
    assert out == f'<failure message="sig={MARKUP_MASK}&amp;se=1 {MARKUP_MASK}"/>'


def test_idempotent():
    text = (f"Authorization: Bearer {JWT} sig={SAS_SIG} AccountKey={ACCOUNT_KEY}; "
            '{"keyName": "key1", "value": "abc"} client_secret=s3cr3t')
    once = redact(text)
    assert redact(once) == once
    once_markup = redact_markup(text)
    assert redact_markup(once_markup) == once_markup
    assert redact_markup(once) == once


# --------------------------------------------------------------------------- registered secrets

def test_register_secret_exact_value():
    secret = f"Secret-{uuid.uuid4().hex}"
    assert redact(f"value {secret} end") == f"value {secret} end"
    register_secret(secret)
    assert redact(f"value {secret} end") == "value <redacted> end"
    assert redact(f"prefix{secret}suffix") == "prefix<redacted>suffix"


def test_register_secret_encoded_forms():
    secret = f"a+b/c={uuid.uuid4().hex}&<x>"
    register_secret(secret)
    from urllib.parse import quote
    import html
    _gone(redact(quote(secret, safe="")), quote(secret, safe=""))
    _gone(redact(html.escape(secret)), html.escape(secret))


@pytest.mark.parametrize("value", ["short", "1234567", "", None, 12345678901, "       "])
def test_register_secret_ignores_short_or_non_strings(value):
    register_secret(value)
    assert redact("short 1234567 12345678901 text") == "short 1234567 12345678901 text"


def test_register_secret_thread_safe():
    secrets = [f"threaded-{uuid.uuid4().hex}" for _ in range(64)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(chunk: list[str]) -> None:
        try:
            barrier.wait()
            for s in chunk:
                register_secret(s)
                assert s not in redact(f"x {s} y")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(secrets[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    out = redact(" ".join(secrets))
    _gone(out, *secrets)


# --------------------------------------------------------------------------- negative cases

@pytest.mark.parametrize("text", [
    "00000000-0000-0000-0000-000000000000",
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg-milab/providers/"
    "Microsoft.Compute/virtualMachines/vm1",
    "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct/listKeys"
    "?api-version=2023-01-01",
    "https://management.azure.com/subscriptions/x/resourceGroups/rg?api-version=2016-09-01",
    "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
    "&resource=https%3A%2F%2Fmanagement.azure.com%2F",
    "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
    "&resource=https://management.azure.com/&client_id=11111111-2222-3333-4444-555555555555",
    "https://acct.blob.core.windows.net/container/blob.txt",
    "Get an access token using the VM's system-assigned managed identity",
    "Use a Bearer token to call Resource Manager; the access_token field holds it.",
    '{"token_type": "Bearer", "expires_in": "3599", "resource": "https://management.azure.com/"}',
    '{"value": [{"id": "/subscriptions/x", "name": "Reader"}], "nextLink": null}',
    '{"name": "role", "value": "Reader"}',
    '{"keyName": "key1", "permissions": "FULL"}',
    "assert 'access_token' in body",
    '{"access_token": "", "refresh_token": ""}',
    "design=modern; signature: valid; assignment=1; config=on",
    "Metadata: true",
    "api-version=2018-02-01&object_id=abc",
    "eyJ",  # too short to be a token
    "SharedKey is the storage authorization scheme",
    "type=master&ver=1.0",
    "scenarios/test_arm_read.py::test_arm_read[linux-system-assigned]",
    "3 passed, 1 failed, 2 skipped in 0.52s",
    "",
])
def test_ordinary_text_survives(text):
    assert redact(text) == text
    assert redact_markup(text) == text
    assert not contains_secret(text)


def test_non_string_input():
    assert redact(None) == ""
    assert redact(12345) == "12345"


# --------------------------------------------------------------------------- logging filter

def _logger_with_stream() -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"milab.test.redact.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger, stream, handler


def test_filter_redacts_message_and_args():
    logger, stream, handler = _logger_with_stream()
    try:
        logger.info("calling with %s and %r", f"Bearer {JWT}", {"sig": f"sig={SAS_SIG}"})
        logger.warning(f"AccountKey={ACCOUNT_KEY};")
        logger.info("plain %s message %d", "text", 3)
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    _gone(out, *JWT_PARTS, SAS_SIG, ACCOUNT_KEY)
    assert "Bearer <redacted>" in out and "sig=<redacted>" in out and "AccountKey=<redacted>" in out
    assert "INFO plain text message 3" in out


def test_filter_keeps_clean_records_untouched():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s", ("clean",), None)
    assert RedactingFilter().filter(record) is True
    assert record.msg == "value %s" and record.args == ("clean",)


def test_filter_redacts_exception_text():
    logger, stream, handler = _logger_with_stream()
    try:
        try:
            raise RuntimeError(f"token {JWT} rejected")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "request failed" in out and "RuntimeError: token <redacted> rejected" in out
    _gone(out, *JWT_PARTS)


def test_filter_survives_bad_format_args():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "two %s %s " + JWT, ("one",), None)
    assert RedactingFilter().filter(record) is True
    assert JWT_PARTS[0] not in str(record.msg)
