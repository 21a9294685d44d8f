"""Secret masking: each credential form Rally and OpenStack logs carry loses its value, and only it."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadlog.secrets import mask_secrets

# a secret as it may appear: no quote or whitespace, nothing a URL would have to escape
SECRET = st.text(
    alphabet=st.characters(codec="ascii", categories=["L", "N"], include_characters="-_.+=!%"),
    min_size=6,
    max_size=40,
).filter(lambda s: "***" not in s)

FORMS = [
    'curl -g -i -X GET http://keystone/v3/auth -H "X-Auth-Token: {s}" -H "Accept: json"',
    'RESP BODY: {{"token": {{"id": 1}}, "password": "{s}"}}',
    "{{'admin_password': '{s}', 'username': 'admin'}}",
    "create_user(name='u1', password='{s}')",
    "GET /v2/servers?all_tenants=1&token={s}&limit=5",
    "rally deployment create --os-password {s} --name x",
    "connection = mysql+pymysql://nova:{s}@10.0.0.2/nova",
    "Authorization: Bearer {s}",
    "X-Subject-Token: {s}",
    "password: {s}",
]


def masked(text: str) -> str:
    return pl.select(mask_secrets(pl.lit(text))).item()


@pytest.mark.parametrize("form", FORMS)
@settings(deadline=None)  # the first call compiles the patterns
@given(secret=SECRET)
def test_every_form_loses_its_secret(form: str, secret: str) -> None:
    text = form.format(s=secret)
    out = masked(text)
    assert secret not in out
    assert "***" in out


@pytest.mark.parametrize(
    "text",
    [
        "Task af5e63fc | ITER: 3 END: OK",
        "token expires in 3600 s",
        "Running workload: Dummy.dummy with 10 iterations",
        "http://keystone:5000/v3",
        '{"token": {"expires_at": "2026-11-25T23:40:44"}}',
    ],
)
def test_text_without_credentials_is_unchanged(text: str) -> None:
    assert masked(text) == text
