"""The run viewer in a real headless Chromium (Debian ``chromium`` + ``chromium-driver``):
the page loads without errors, filters work, an episode opens (its detail loaded on demand
from the data files beside the page), hostile text stays text, and the page also loads over
``--serve``'s loopback server.

Skipped when Chromium, chromedriver or Selenium is missing, unless ``FAMA_REQUIRE_BROWSER=1``
(CI), where that is a failure. Selenium is given both binaries explicitly: Selenium Manager
never runs (no downloads).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fama.runs.store import RunStore
from fama.view import data_dir, make_server, write_view
from tests.test_view import CONFIG, GUIDANCE, HOSTILE, PROMPTS, RUN_ID, build_sample_store, episode

pytestmark = [pytest.mark.browser, pytest.mark.allow_hosts(["127.0.0.1", "::1"])]

CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = "chromedriver"


def _missing(reason: str) -> None:
    if os.environ.get("FAMA_REQUIRE_BROWSER") == "1":
        pytest.fail(f"FAMA_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    """A headless Chromium driven through the system chromedriver."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[dev]')")
    browser = next((p for p in map(shutil.which, CHROMIUM) if p), None)
    chromedriver = shutil.which(CHROMEDRIVER)
    if browser is None or chromedriver is None:
        _missing("Chromium/chromedriver not found (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    chrome.set_page_load_timeout(20)
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("view")
    with RunStore(build_sample_store(root / "runs.sqlite"), create=False) as store:
        return write_view(store, RUN_ID, root / "site" / f"{RUN_ID}.html")


def load(driver: Any, url: str) -> None:
    """Open ``url`` and wait until the page script has rendered."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.body.dataset.ready === 'true'")
    )


def shown(driver: Any, index: int) -> Any:
    """Wait until episode ``index``'s detail (loaded on demand) is shown; the detail pane."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    detail = driver.find_element(By.ID, "detail")
    WebDriverWait(driver, 10).until(lambda d: detail.get_attribute("data-shown") == str(index))
    return detail


def errors(driver: Any) -> list[str]:
    """Severe browser console entries (script errors, CSP violations) since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def visible_rows(driver: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#episodes tbody tr")
    return [r for r in rows if r.is_displayed()]


def select(driver: Any, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, element_id)).select_by_value(value)


def test_page_loads_filters_and_opens_an_episode(driver: Any, page: Path) -> None:
    from selenium.webdriver.common.by import By

    load(driver, page.as_uri())
    assert errors(driver) == []
    assert driver.find_element(By.ID, "run-id").text == RUN_ID
    summary = driver.find_element(By.ID, "summary").text
    assert "Episodes" in summary and "pass^1" in summary
    count = driver.find_element(By.ID, "f-count")
    assert len(visible_rows(driver)) == 4
    assert count.text.startswith("Showing 4 of 4")

    driver.find_element(By.ID, "f-failed").click()
    assert len(visible_rows(driver)) == 3  # the passed episode is hidden
    assert count.text.startswith("Showing 3 of 4")
    select(driver, "f-category", "policy_violation")
    rows = visible_rows(driver)
    assert [r.find_element(By.CSS_SELECTOR, "td.task").text for r in rows] == ["r1"]
    select(driver, "f-category", "")
    select(driver, "f-domain", "airline")
    assert [r.text.split()[0] for r in visible_rows(driver)] == ["a7"]
    select(driver, "f-domain", "")
    driver.find_element(By.ID, "f-failed").click()
    task = driver.find_element(By.ID, "f-task")
    task.send_keys("R1")
    assert len(visible_rows(driver)) == 2  # case-insensitive substring of the task id
    task.clear()
    task.send_keys(" ")  # clear() fires no input event; any keystroke re-applies the filter
    assert len(visible_rows(driver)) == 4

    failed = next(r for r in visible_rows(driver) if r.text.startswith("r1 1"))
    failed.click()
    detail = shown(driver, int(failed.get_attribute("data-index")))
    text = detail.text
    assert "r1 · trial 1" in text and "failed" in text
    assert "null" not in text.split()  # absent parts leave no trace
    assert "Please cancel order #W1." in text  # the conversation
    calls = detail.find_elements(By.CSS_SELECTOR, ".msg.assistant .call .name")
    assert [c.text for c in calls] == ["cancel_pending_order"]
    assert detail.find_elements(By.CSS_SELECTOR, ".msg.tool.err")  # the error result
    assert "Error: order not found" in text
    decisions = detail.find_elements(By.CSS_SELECTOR, ".decision")
    assert len(decisions) == 2
    assert "constraints_extractor, decision_verifier" in decisions[0].text
    assert "blocked (confirmation): no explicit yes" in decisions[0].text
    assert "constraints_extractor ← policy_violation" in decisions[0].text  # what drove it
    assert "Write gate: refused" in decisions[0].text
    assert "Agent issue: empty_reply" in text
    labels = detail.find_element(By.CSS_SELECTOR, ".labels").text
    assert "policy_violation" in labels and "Cancelled without a yes." in labels
    assert "DB" in detail.find_element(By.CSS_SELECTOR, "table.components").text
    # hostile content is shown as text, never run or parsed as markup
    assert text.count(HOSTILE) >= 3  # agent message, guidance, label rationale
    assert detail.find_elements(By.TAG_NAME, "img") == []
    assert driver.execute_script("return window.__pwned === undefined")
    # evidence steps link to their messages
    step = detail.find_element(By.CSS_SELECTOR, ".labels .steplink")
    assert step.text == "#2"
    step.click()
    target = driver.find_element(By.ID, "m-2")
    assert "flash" in (target.get_attribute("class") or "")

    # another episode: passed, with the FAMA guidance; the URL hash selects it
    load(driver, page.as_uri() + "#episode-1")
    detail = shown(driver, 1)
    assert "r1 · trial 0" in detail.text and GUIDANCE in detail.text
    # the telecom episode: the user's own tool call and its result
    driver.find_element(By.CSS_SELECTOR, "#episodes tbody tr[data-index='3']").click()
    detail = shown(driver, 3)
    assert "user tool call" in detail.text and "requested by user" in detail.text
    assert "ModelUnavailableError: server down" in detail.text
    assert errors(driver) == []


def test_page_loads_over_the_loopback_server(driver: Any, page: Path) -> None:

    with make_server(page) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            load(driver, f"http://127.0.0.1:{server.server_address[1]}/{page.name}")
            assert len(visible_rows(driver)) == 4
            visible_rows(driver)[0].click()
            assert "trial" in shown(driver, 0).text
            assert errors(driver) == []
        finally:
            server.shutdown()
            thread.join(timeout=5)


def test_episodes_beyond_the_first_chunk_load_on_demand(
    driver: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from selenium.webdriver.common.by import By

    root = tmp_path_factory.mktemp("big")
    with RunStore(root / "runs.sqlite") as store:
        store.create_or_resume_run(RUN_ID, CONFIG, PROMPTS)
        for i in range(60):
            store.save_episode(RUN_ID, episode(f"t{i:02d}", 0, "retail"))
        page = write_view(store, RUN_ID, root / "big.html", chunk=25)
    assert "Your order is cancelled." not in page.read_text(encoding="utf-8")
    load(driver, page.as_uri() + "#episode-57")  # in the third data file
    detail = shown(driver, 57)
    assert "t57 · trial 0" in detail.text and "Your order is cancelled." in detail.text
    assert driver.execute_script("return document.querySelectorAll('head script').length") == 0
    driver.find_element(By.CSS_SELECTOR, "#episodes tbody tr[data-index='3']").click()
    assert "t03 · trial 0" in shown(driver, 3).text
    assert errors(driver) == []
    # a missing data file is a clear message in the page, not a silent blank
    (data_dir(page) / "episodes-00001.js").unlink()
    load(driver, page.as_uri() + "#episode-30")
    assert "keep the folder big-data next to this page" in shown(driver, 30).text
