"""Signing in and out through the real pages, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

LOGIN = re.compile(r"/login(\?.*)?$")


def test_sign_in_see_the_dashboard_and_sign_out(anonymous_page, browser_server):
    # A user of its own: signing out ends every session of the user, and the other tests share
    # the administrator's.
    email, password = "signs-out@example.com", "signs-out-password"
    browser_server.create_user(email, password)
    page = anonymous_page
    page.goto("/")
    expect(page).to_have_url(LOGIN)

    sign_in(page, email, password)

    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("banner")).to_contain_text(email)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(LOGIN)
    expect(page.get_by_text("You have been signed out.")).to_be_visible()
    page.goto("/backups")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_a_wrong_password_shows_an_error(anonymous_page, browser_log):
    page = anonymous_page
    browser_log.expect_failure("/login", 401)  # the form comes back with 401 and its message

    sign_in(page, password="not-the-password")

    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
