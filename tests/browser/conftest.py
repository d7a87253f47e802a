"""Browser tier: Debian's Chromium, driven by Playwright, against the stack on :8000.

Playwright never downloads a browser here: it launches the system's /usr/bin/chromium
(scripts/test.sh installs it). Each test gets a phone-sized page (360×740) and saves a
screenshot of every page it visits under var/screenshots/<test>/<page>.png.
"""
import os
import pathlib
import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import BASE_URL, ROOT, admin, api, center  # noqa: F401 (fixtures)

CHROMIUM = os.environ.get("TIMEBANK_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium's own connections (updates, sync) are
# refused on a closed network and slow every start.
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 360, "height": 740}
SCREENSHOTS = ROOT / "var" / "screenshots"
# A page waits on the API, which shares two cores with everything else: a generous deadline
# for each expectation (they return as soon as it holds).
WAIT_MS = 20000
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Visit:
    """A phone-sized tab of the web app, in Chinese unless told, that keeps a screenshot of
    every page it shows and checks the accessibility basics on each."""

    def __init__(self, page, folder):
        self.page = page
        self.folder = folder
        self.shots = []
        self.errors = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, fragment=""):
        self.page.goto(f"{BASE_URL}/#/{fragment}")

    def main(self):
        return self.page.locator("main#app")

    def wait_for_page(self, name):
        """The router has rendered page ``name`` (main's data-page) and nothing is loading."""
        expect(self.main()).to_have_attribute("data-page", name)
        expect(self.main()).not_to_have_attribute("aria-busy", "true")

    def shot(self, name):
        """Screenshot of the whole page, after checking it is usable at this width."""
        self.check_accessible()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path

    def check_accessible(self):
        problems = self.page.evaluate("""() => {
            const faults = [];
            for (const input of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
                const named = (input.labels && input.labels.length) || input.getAttribute('aria-label')
                    || input.getAttribute('aria-labelledby');
                if (!named) faults.push('input without a label: ' + (input.name || input.outerHTML));
            }
            for (const img of document.querySelectorAll('img')) {
                if (!img.hasAttribute('alt')) faults.push('img without alt: ' + img.src);
            }
            for (const svg of document.querySelectorAll('main svg')) {
                if (!svg.getAttribute('aria-label') && svg.getAttribute('aria-hidden') !== 'true')
                    faults.push('svg without a name');
            }
            const leaked = /\\b(null|undefined|NaN)\\b|\\[object /.exec(document.body.innerText);
            if (leaked) faults.push('a value the page failed to write: ' + leaked[0]);
            const width = document.documentElement.clientWidth;
            if (document.documentElement.scrollWidth > width)
                faults.push('horizontal scroll: ' + document.documentElement.scrollWidth + ' > ' + width);
            return faults;
        }""")
        assert problems == [], problems
        assert self.errors == [], self.errors


def screenshot_folder(request):
    return SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)


@pytest.fixture
def phone(browser, request):
    """A fresh phone-sized context (its own localStorage) in the community's locale and zone."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    visit = Visit(context.new_page(), screenshot_folder(request))
    yield visit
    context.close()


def sign_in(visit, username, password):
    visit.open("sign-in")
    visit.wait_for_page("sign-in")
    visit.page.get_by_label("用户名").fill(username)
    visit.page.get_by_label("密码").fill(password)
    visit.page.get_by_role("button", name="登录").click()
