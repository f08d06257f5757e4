"""Forms that forgive, in Chromium: fields checked before the file is sent, the file kept after an error, the
error summary focused, the confirmation shown after a scripted upload; the admin's users page on a phone."""

from __future__ import annotations

import uuid

from tests.e2e.browser.conftest import screenshot, sign_in
from tests.pages.content import code_zip


def test_a_bad_version_number_is_reported_before_the_upload_and_the_file_stays_chosen(page, server):
    slug = server.content.rule_slug
    sign_in(page, server, "author")
    page.goto(f"{server.url}/fr/workspace/algorithms/{slug}/versions/new")
    page.fill("#upload-version", "v1")
    page.set_input_files("#upload-artifact", files=[{"name": "code.zip", "mimeType": "application/zip",
                                                      "buffer": code_zip()}])
    posted = []
    page.on("request", lambda r: r.method == "POST" and posted.append(r.post_data_buffer or b""))
    page.click("text=Déposer la version")
    page.wait_for_selector("#error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"  # focused, so it is read out
    assert page.locator("#error-summary").get_attribute("role") == "alert"
    assert len(posted) == 1 and b"code.zip" not in posted[0] and b"dry_run" in posted[0]  # the file never left
    assert page.evaluate("document.querySelector('#upload-artifact').files[0].name") == "code.zip"  # still chosen
    screenshot(page, "upload-error-fr", full_page=False)

    version = f"4.0.{uuid.uuid4().int % 1000}"
    page.fill("#upload-version", version)
    page.click("text=Déposer la version")
    page.wait_for_url(f"**/fr/workspace/algorithms/{slug}/{version}")
    assert page.locator(".notice-success").inner_text().startswith(f"La version {version} est déposée")
    assert page.problems.csp_violations() == []


def test_the_card_editor_opens_on_its_error_summary(page, server):
    slug = server.content.ml_slug
    sign_in(page, server, "author")
    page.goto(f"{server.url}/fr/workspace/algorithms/{slug}/2.0.0-rc.1")
    page.fill("#card-performance_metrics-0-name", "AUC")
    page.fill("#card-performance_metrics-0-value", "0.73")  # an English decimal on a French page: refused
    page.locator("fieldset button[type=submit]").first.click()
    page.wait_for_selector("#error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    box = page.locator("#error-summary").bounding_box()
    assert box is not None and -1 <= box["y"] < page.evaluate("innerHeight")  # in view, not 1,790 px below


def test_the_users_page_does_not_scroll_sideways_on_a_phone(browser, server):
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, server, "admin")
        for path in ("/fr/admin/users", "/en/admin/users", "/fr/admin/audit-log"):
            page.goto(server.url + path)
            width, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
            assert width <= inner, (path, width, inner)
        page.goto(server.url + "/fr/admin/users")
        screenshot(page, "admin-users-fr-mobile")
    finally:
        context.close()
