"""The web UI end to end, in headless Chromium against a live server: sign in, collections, drag-and-drop and
file-input uploads with live ingestion progress, documents with pages and summaries, a streamed cited answer,
citations, votes, the history timeline, the prompt-template editor's preview and version diff, sign out; and
user-supplied ``<script>`` shown as text, never run."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.conftest import ARTIFACTS, WINDOW, viewport
from tests.documents import text_pdf
from tests.server import ADMIN_KEY, ServerProcess

LIGHTHOUSE_PAGES = [  # each page longer than one chunk, so a citation can name one page
    "Kestrel Point is a rocky headland on the northern coast. The headland is known for its colonies of puffins "
    "and for the strong tidal currents that run past it in spring. " + "The coast path runs along the cliffs. " * 12,
    "The Kestrel Point lighthouse was decommissioned in 1987, after an automatic beacon replaced it. Its last "
    "keeper, Morwenna Tregarthen, kept a logbook of every ship that passed. " + "Gulls nest on the ledges. " * 12,
    "Today the keeper's cottage is a small museum. Visitors can climb the tower on summer weekends. "
    + "The museum shop sells postcards. " * 12,
]
QUESTION = "When was the Kestrel Point lighthouse decommissioned?"
# Each would set window.__pwned if the page ever treated it as HTML.
PAYLOAD = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'


def wait(driver: WebDriver, timeout: float = 30) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, timeout, poll_frequency=0.05)


def shot(driver: WebDriver, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def visible(driver: WebDriver, css: str, timeout: float = 30) -> WebElement:
    element: WebElement = wait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))
    return element


def button(driver: WebDriver, name: str) -> WebElement:
    """A real <button>, found by its accessible text."""
    element: WebElement = wait(driver).until(
        ec.element_to_be_clickable((By.XPATH, f"//button[normalize-space()={json.dumps(name)}]"))
    )
    return element


def text_of(driver: WebDriver, css: str) -> str:
    try:
        return str(driver.find_element(By.CSS_SELECTOR, css).text)
    except StaleElementReferenceException:
        return ""


def wait_text(driver: WebDriver, css: str, wanted: str, timeout: float = 30) -> None:
    wait(driver, timeout).until(lambda d: wanted in text_of(d, css), f"{wanted!r} never appeared in {css}")


def api_get(server: ServerProcess, path: str) -> Any:
    request = urllib.request.Request(f"{server.api_url}{path}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def sign_in(driver: WebDriver, server: ServerProcess) -> None:
    driver.get(f"{server.base_url}/")
    driver.execute_script("sessionStorage.clear()")
    driver.get(f"{server.base_url}/")
    key = visible(driver, "#api-key")
    assert driver.switch_to.active_element == key  # the form has the focus: type, then Enter
    key.send_keys("sk-wrong-key" + Keys.ENTER)
    wait_text(driver, "#notice", "Sign-in failed")
    key.clear()
    key.send_keys(ADMIN_KEY + Keys.ENTER)
    visible(driver, "#app")
    assert not driver.find_element(By.ID, "sign-in").is_displayed()


def create_collection(driver: WebDriver, name: str, description: str) -> str:
    driver.find_element(By.ID, "collection-name").send_keys(name)
    driver.find_element(By.ID, "collection-description").send_keys(description)
    button(driver, "Create collection").click()
    wait(driver).until(ec.url_contains("/ui/collections/"))
    wait(driver).until(lambda d: d.find_element(By.ID, "collection-name").text == name)
    return str(driver.current_url.rsplit("/", 1)[1])


def follow_ingestion(driver: WebDriver) -> list[int]:
    """The job's progress as the page showed it, until it says 100%."""
    seen: list[int] = []

    def done(d: WebDriver) -> bool:
        shown = text_of(d, "#job-percent").rstrip("%")
        if shown.isdigit() and (not seen or seen[-1] != int(shown)):
            seen.append(int(shown))
        return bool(seen) and seen[-1] == 100

    wait(driver, 60).until(done, "the ingestion never reached 100%")
    return seen


def test_the_web_ui_end_to_end(driver: WebDriver, server: ServerProcess, tmp_path: Path) -> None:
    sign_in(driver, server)
    shot(driver, "01-collections")

    collection_id = create_collection(driver, "Lighthouses", "coastal history")

    # Upload with the file input (the keyboard way), then follow the job to 100%.
    pdf = tmp_path / "kestrel.pdf"
    pdf.write_bytes(text_pdf(LIGHTHOUSE_PAGES))
    driver.find_element(By.ID, "file-input").send_keys(str(pdf))
    button(driver, "Upload and ingest").click()
    progress = follow_ingestion(driver)
    assert progress[-1] == 100 and progress == sorted(progress), progress
    assert driver.find_element(By.ID, "job-progress").get_attribute("value") == "100"
    row = visible(driver, "#upload-files li[data-status='completed']")
    assert "kestrel.pdf" in row.text and "Done" in row.text
    wait_text(driver, "#documents", "kestrel.pdf")
    wait_text(driver, "#documents", "3 pages")
    shot(driver, "02-ingested")

    # Drag and drop: a drop event carrying a file, as the browser makes one.
    driver.execute_script(
        """
        const data = new DataTransfer();
        data.items.add(new File(["To bake rye bread, mix rye flour, water, salt and a sourdough starter."],
                                "rye.txt", {type: "text/plain"}));
        const zone = document.getElementById("dropzone");
        for (const type of ["dragenter", "dragover", "drop"]) {
          zone.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
        }
        """
    )
    wait(driver).until(lambda d: "rye.txt" in text_of(d, "#upload-files"))
    assert follow_ingestion(driver)[-1] == 100
    wait_text(driver, "#documents", "rye.txt")
    assert sorted(d["name"] for d in api_get(server, f"/collections/{collection_id}/documents")) == [
        "kestrel.pdf",
        "rye.txt",
    ]

    # Documents with their pages and summaries.
    card = driver.find_element(By.XPATH, "//ul[@id='documents']/li[.//h3[normalize-space()='kestrel.pdf']]")
    summary = card.find_element(By.CSS_SELECTOR, "details.summary")
    summary.find_element(By.TAG_NAME, "summary").click()
    summary_text = card.find_element(By.CSS_SELECTOR, ".summary-text").text
    assert summary_text.startswith("- ") and "Kestrel Point" in summary_text, summary_text

    # A chat: the answer streams in (JSON Lines pieces), then shows its citations.
    button(driver, "New chat").click()
    wait(driver).until(ec.url_contains("/ui/chats/"))
    session_id = driver.current_url.rsplit("/", 1)[1]
    wait_text(driver, "#collection-link", "Lighthouses")
    question = visible(driver, "#question")
    question.send_keys(QUESTION)
    question.send_keys(Keys.CONTROL, Keys.ENTER)  # the keyboard shortcut sends it
    answer = visible(driver, "li.message.answer[data-message-id]", 60)
    assert int(answer.get_attribute("data-pieces") or 0) >= 1  # shown piece by piece from the stream
    assert "1987" in answer.find_element(By.CSS_SELECTOR, ".text").text
    citations = answer.find_elements(By.CSS_SELECTOR, "details.citation")
    assert citations, answer.text
    first = citations[0]
    assert "kestrel.pdf" in first.text and "page 2" in first.text, first.text
    assert not first.find_element(By.CSS_SELECTOR, "blockquote").is_displayed()
    first.find_element(By.TAG_NAME, "summary").click()  # expand it to the chunk's text
    chunk = first.find_element(By.CSS_SELECTOR, "blockquote")
    assert chunk.is_displayed() and "decommissioned in 1987" in chunk.text

    # The [n] marker in the answer opens its citation too.
    first.find_element(By.TAG_NAME, "summary").click()
    answer.find_element(By.CSS_SELECTOR, "a.marker").click()
    assert first.get_attribute("open") is not None

    # Thumbs up: the vote is an event of the session, shown as the message's votes.
    helpful = answer.find_element(By.CSS_SELECTOR, "button.vote-up")
    helpful.click()
    wait(driver).until(lambda d: helpful.get_attribute("aria-pressed") == "true")
    message_id = answer.get_attribute("data-message-id")
    messages = api_get(server, f"/chats/{session_id}/messages")
    assert [m["votes"] for m in messages if m["id"] == message_id] == [1]
    driver.execute_script("document.querySelector('li.message.question').scrollIntoView()")
    shot(driver, "03-chat")

    # Reloaded, the chat shows the recorded answer, its citations and the vote.
    driver.refresh()
    again = visible(driver, "li.message.answer[data-message-id] .votes")
    assert again.find_element(By.CSS_SELECTOR, "button.vote-up").get_attribute("aria-pressed") == "true"
    assert driver.find_elements(By.CSS_SELECTOR, "li.message.answer details.citation")

    # The history timeline, from the audit log: template version and chunks of the answer.
    driver.find_element(By.LINK_TEXT, "History timeline").click()
    generated = visible(driver, "#timeline li[data-type='AnswerGenerated']")
    types = [li.get_attribute("data-type") for li in driver.find_elements(By.CSS_SELECTOR, "#timeline > li")]
    assert types[:1] == ["ChatSessionCreated"] and "QuestionAsked" in types and types[-1] == "AnswerVoted", types
    assert generated.find_element(By.CSS_SELECTOR, ".template-version").text.startswith("Template parley-default")
    chunk_details = generated.find_element(By.CSS_SELECTOR, "details.chunk")
    chunk_details.find_element(By.TAG_NAME, "summary").click()
    assert "decommissioned in 1987" in chunk_details.find_element(By.TAG_NAME, "blockquote").text
    question_event = driver.find_element(By.CSS_SELECTOR, "#timeline li[data-type='QuestionAsked'] .question-text")
    assert question_event.text == QUESTION
    shot(driver, "04-timeline")

    # The prompt-template editor: create, preview, edit, see the preview change, diff the versions.
    driver.find_element(By.LINK_TEXT, "Prompt templates").click()
    visible(driver, "#template-name").send_keys("Terse")
    driver.find_element(By.ID, "template-system-prompt").send_keys("Answer in one short sentence.")
    button(driver, "Create template").click()
    wait(driver).until(ec.url_contains("/ui/templates/"))
    wait_text(driver, "#preview-messages", "Answer in one short sentence.")
    wait_text(driver, "#preview-meta", "version 1")
    Select(driver.find_element(By.ID, "preview-collection")).select_by_visible_text("Lighthouses")
    wait_text(driver, "#preview-meta", "· rag ·")
    wait_text(driver, "#preview-messages", "decommissioned in 1987")  # the retrieved chunks, for the question typed
    ask = driver.find_element(By.ID, "preview-question")
    ask.clear()
    ask.send_keys("Who was the last keeper?")
    wait_text(driver, "#preview-messages", "Who was the last keeper?")  # live, as the question is typed

    prompt = driver.find_element(By.ID, "field-system_prompt")
    prompt.clear()
    prompt.send_keys("Answer like a lighthouse keeper would.")
    button(driver, "Save as a new version").click()
    wait_text(driver, "#notice", "Saved: version 2.")
    wait_text(driver, "#preview-messages", "Answer like a lighthouse keeper would.")
    wait_text(driver, "#preview-meta", "version 2")
    assert "Answer in one short sentence." not in text_of(driver, "#preview-messages")
    wait_text(driver, "#versions", "Version 2")
    button(driver, "Show the diff").click()
    wait_text(driver, "#diff", "system_prompt")
    removed = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#diff .del")]
    added = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#diff .add")]
    assert "-Answer in one short sentence." in removed and "+Answer like a lighthouse keeper would." in added
    template_id = driver.current_url.rsplit("/", 1)[1]
    driver.execute_script("document.querySelector('.split').scrollIntoView()")
    shot(driver, "05-template-editor")

    # The chat answers with the new version once it is attached, and the timeline names that version.
    driver.get(f"{server.base_url}/ui/chats/{session_id}")
    Select(visible(driver, "#session-template")).select_by_visible_text("Terse (version 2)")
    button(driver, "Use this template").click()
    wait_text(driver, "#notice", "This chat now answers with Terse (version 2).")
    visible(driver, "#question").send_keys("Who was the last keeper?")
    button(driver, "Ask").click()
    wait(driver, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "li.message.answer[data-message-id]")) == 2)
    driver.find_element(By.LINK_TEXT, "History timeline").click()
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "li[data-type='AnswerGenerated']")) == 2)
    assert driver.find_elements(By.CSS_SELECTOR, "li[data-type='ChatSessionTemplateAttached']")
    last = driver.find_elements(By.CSS_SELECTOR, "li[data-type='AnswerGenerated'] .template-version")[-1]
    assert last.text.startswith(f"Template {template_id}, version 2"), last.text

    # At a phone's width nothing runs off the side.
    viewport(driver, 390, 844)
    try:
        for path in (f"/ui/chats/{session_id}", f"/ui/collections/{collection_id}", driver.current_url):
            driver.get(path if path.startswith("http") else f"{server.base_url}{path}")
            visible(driver, "#app h1")
            wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[aria-busy='true']"))  # data is in
            overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
        shot(driver, "06-phone-template-editor")
    finally:
        viewport(driver, *WINDOW)

    # Sign out: the key is gone from the tab, and the sign-in form is back.
    button(driver, "Sign out").click()
    visible(driver, "#api-key")
    assert driver.execute_script("return sessionStorage.length") == 0
    assert not driver.find_element(By.ID, "app").is_displayed()


def test_user_text_is_shown_as_text_never_run(driver: WebDriver, server: ServerProcess, tmp_path: Path) -> None:
    def not_pwned() -> None:
        assert driver.execute_script("return window.__pwned") is None

    sign_in(driver, server)
    create_collection(driver, PAYLOAD, PAYLOAD)
    assert driver.find_element(By.ID, "collection-description").text == PAYLOAD
    not_pwned()

    # A document whose name holds markup (a file name has no "/", so the script tag stays open).
    name = '<script>window.__pwned = 3<img src=x onerror="window.__pwned = 4">.txt'
    document = tmp_path / name
    document.write_text("The harbour wall was rebuilt in 1903 after a winter storm broke it.")
    driver.find_element(By.ID, "file-input").send_keys(str(document))
    button(driver, "Upload and ingest").click()
    assert follow_ingestion(driver)[-1] == 100
    wait(driver).until(lambda d: name in [e.text for e in d.find_elements(By.CSS_SELECTOR, "#documents h3")])
    assert name in text_of(driver, "#upload-files")
    not_pwned()

    # A question holding markup, in the chat and in the timeline; the citation names the document as text.
    button(driver, "New chat").click()
    wait(driver).until(ec.url_contains("/ui/chats/"))
    visible(driver, "#question").send_keys(f"{PAYLOAD} When was the harbour wall rebuilt?")
    button(driver, "Ask").click()
    answer = visible(driver, "li.message.answer[data-message-id]", 60)
    asked = driver.find_element(By.CSS_SELECTOR, "li.message.question .text").text
    assert asked == f"{PAYLOAD} When was the harbour wall rebuilt?"
    assert name in answer.text  # the citation's document name
    wait_text(driver, "#collection-link", PAYLOAD)
    not_pwned()
    driver.find_element(By.LINK_TEXT, "History timeline").click()
    wait_text(driver, "#timeline", f"{PAYLOAD} When was the harbour wall rebuilt?")
    not_pwned()

    # A template whose name and system prompt hold markup: the editor and its preview show it as text.
    driver.find_element(By.LINK_TEXT, "Prompt templates").click()
    visible(driver, "#template-name").send_keys(PAYLOAD)
    driver.find_element(By.ID, "template-system-prompt").send_keys(PAYLOAD)
    button(driver, "Create template").click()
    wait(driver).until(ec.url_contains("/ui/templates/"))
    wait(driver).until(lambda d: d.find_element(By.ID, "template-title").text == PAYLOAD)
    wait_text(driver, "#preview-messages", PAYLOAD)
    assert driver.find_element(By.ID, "field-system_prompt").get_attribute("value") == PAYLOAD
    driver.find_element(By.LINK_TEXT, "Prompt templates").click()
    wait(driver).until(lambda d: PAYLOAD in [e.text for e in d.find_elements(By.CSS_SELECTOR, "#templates h3")])
    not_pwned()

    # Markup in the page's own path is escaped by the server's template, and the API's 404 is shown as text.
    in_path = '<img src=x onerror="window.__pwned = 5"><script>window.__pwned = 6'
    driver.get(f"{server.base_url}/ui/templates/{urllib.parse.quote(in_path, safe='')}")
    wait_text(driver, "#notice", f"prompt template {in_path} not found")
    assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-template-id") == in_path
    not_pwned()
    shot(driver, "07-escaped")
