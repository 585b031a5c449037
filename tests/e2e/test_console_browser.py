"""The sandbox console driven as a person would, in real headless Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright; Playwright's own browsers are never downloaded).

`python -m gateway up` runs with no credentials (sandbox mode, real web and worker processes);
a customer writes on the WhatsApp phone, the card appears in Slack, the agent answers in the
thread and the reply reaches the phone with its ticks, then assigns the conversation through the
Assign modal (first refused inside the modal, since Bruno is offline; then Bruno comes online
with ``/relaydesk online``) and closes it through the Close modal. Every click goes through the
signed interactivity path, so the test fails if the console or that path breaks.

Screenshots go to ``RELAYDESK_SCREENSHOTS`` (``docs/`` refreshes the README's) or the test's
temporary directory. ``make test`` installs Chromium when it is missing; the test is skipped,
saying why, only when it could not be.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import SandboxUp

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As the machine's notes say: without the background-networking flags Chromium keeps trying
# to reach Google's hosts, which this closed network refuses.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
PHONE = "+525500000041"


def _browser_missing() -> str:
    if not Path(CHROMIUM).exists():
        return (f"{CHROMIUM} is not installed and could not be (`make test` runs "
                "`apt-get install chromium` when it is missing; that needs root and Debian's "
                "package registry)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return ""


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RELAYDESK_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.timeout(300)
@pytest.mark.skipif(bool(_browser_missing()), reason=_browser_missing() or "ok")
async def test_a_customer_and_an_agent_in_the_console(sandbox_up: SandboxUp,
                                                      shots: Path) -> None:
    from playwright.async_api import async_playwright, expect

    started = time.monotonic()
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)  # a busy 2-core CI machine: be patient
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(sandbox_up.base + "/sandbox?place=C0SUPPORTWA")
            await expect(page.locator("#live.on")).to_be_visible()  # the event stream is up

            # The customer writes on WhatsApp; the card appears in #support-wa, live.
            phone = page.locator(".phone.whatsapp")
            await phone.locator("[name=phone]").fill(PHONE)
            await phone.locator("[name=name]").fill("Marta")
            await phone.locator(".phone-compose input").fill("Hola, ¿dónde está mi pedido?")
            await phone.locator(".phone-compose button").click()
            card = page.locator(".pane-body > .msg", has_text="Marta").last
            await expect(card.locator(".bk-header")).to_contain_text("Conversation")
            await expect(card.locator(".bk-fields")).to_contain_text("Ana Ruiz")
            await expect(card.locator(".thread")).to_contain_text("¿dónde está mi pedido?")

            # Ana answers in the thread; the reply reaches the phone and is read.
            reply = card.locator("form.reply input")
            await reply.fill("Hola Marta, soy Ana. Lo reviso ahora.")
            await reply.press("Enter")
            received = phone.locator(".bubble.theirs", has_text="soy Ana")
            await expect(received).to_have_attribute("data-status", "read")
            await expect(received.locator(".ticks")).to_contain_text("✓✓")
            await expect(card.locator(".thread .reaction[data-name=eyes]")).to_contain_text(
                "read")
            await page.screenshot(path=str(shots / "console.png"))

            # Assign to Bruno: the modal pre-fills the note; Bruno is offline, so the modal
            # says why and stays open.
            await card.locator("button[data-action=rd_assign]").click()
            modal = page.locator(".modal")
            await expect(modal.locator(".modal-title")).to_have_text("Assign conversation")
            await modal.locator("select[data-block=agent]").select_option("bruno")
            await expect(modal.locator("textarea[data-block=note]")).to_have_value(
                "Reassigned to Bruno Díaz")
            await modal.locator("[data-modal=submit]").click()
            await expect(modal.locator(".bk-error")).to_contain_text("bruno is offline")
            await page.screenshot(path=str(shots / "console-modal.png"))
            await modal.locator("[data-modal=close]").click()
            await expect(modal).to_have_count(0)

            # Bruno comes online (/relaydesk as Bruno); Ana assigns again, and it is done.
            await page.select_option("#as", "U0BRUNO")
            await expect(page.locator(".sidebar .me")).to_contain_text("Bruno")
            await page.locator("form.command input").fill("/relaydesk online")
            await page.locator("form.command button").click()
            await expect(page.locator(".msg.ephemeral").last).to_contain_text("online")
            await page.select_option("#as", "U0ANA")
            await expect(page.locator(".sidebar .me")).to_contain_text("Ana")
            await card.locator("button[data-action=rd_assign]").click()
            await modal.locator("select[data-block=agent]").select_option("bruno")
            await expect(modal.locator("textarea[data-block=note]")).to_have_value(
                "Reassigned to Bruno Díaz")
            await modal.locator("[data-modal=submit]").click()
            await expect(modal).to_have_count(0)
            await expect(card.locator(".bk-fields")).to_contain_text("Bruno Díaz")

            # Close through the Close modal with a typification: the card shows it closed.
            await card.locator("button[data-action=rd_close]").click()
            await expect(modal.locator(".modal-title")).to_have_text("Close conversation")
            await modal.locator("select[data-block=typification]").select_option(
                "Resolved|First contact")
            await modal.locator("textarea[data-block=note]").fill("Pedido localizado")
            await modal.locator("[data-modal=submit]").click()
            await expect(modal).to_have_count(0)
            await expect(card.locator(".bk-fields")).to_contain_text("closed")
            await expect(card.locator("button[data-action=rd_close]")).to_have_count(0)
            await page.screenshot(path=str(shots / "console-closed.png"))

            # Ana is a supervisor: her App Home starts with the supervisors' view, live.
            await page.locator(".sidebar a[data-place=home]").click()
            board = page.locator(".home")
            await expect(board.locator(".bk-header").first).to_have_text("Supervisors' view")
            await expect(board).to_contain_text("Bruno Díaz · online · 0/3")
            await expect(board).to_contain_text("Attendance history")
            await page.screenshot(path=str(shots / "console-home.png"))
        finally:
            await browser.close()
    assert errors == [], errors
    print(f"browser test: {time.monotonic() - started:.1f}s")
