"""The dashboard in a real headless browser (Debian's chromium, driven by selenium) on the
session's all-in-one cluster: log in (the first page's load times printed), upload an image
and watch its progress bar reach 100 %, launch an instance from it and see it go ACTIVE,
stop and start it (states pushed on the page's event stream), snapshot it, open its serial
console (refused by compute for the test driver's guests: the reason shows), follow its
console log, browse a
container by prefix, look at every page, log out. Names with `<script>` in them are typed
into the forms and must show as text. A screenshot of each page goes to the directory
`BRUME_SCREENSHOTS` names, else to a temporary one (printed); the README's come from

    BRUME_SCREENSHOTS=docs/screenshots python3 -m pytest tests/dashboard/test_browser.py

(so a plain test run leaves the checkout as it was).

Skipped when chromium, chromedriver or selenium is missing (`./install.sh --dev` installs
them).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
import uuid
from urllib.parse import quote

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    NoAlertPresentException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

pytestmark = pytest.mark.cluster

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
EVIL = "<script>alert('x')</script>"
EVIL_OBJECT = "<img src=x onerror=alert(1)>.txt"  # an object name: no "/" in it
WAIT = 120  # seconds: the longest any step may take on a loaded 2-core machine


@pytest.fixture(scope="module")
def browser(screenshots):
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("chromium and chromium-driver are not installed (./install.sh --dev)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1280,860", "--no-proxy-server"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER),
                              options=options)
    driver.screenshot_dir = screenshots
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> str:
    chosen = os.environ.get("BRUME_SCREENSHOTS")
    directory = os.path.abspath(chosen) if chosen else str(tmp_path_factory.mktemp("shots"))
    os.makedirs(directory, exist_ok=True)
    print(f"dashboard screenshots in {directory}")
    return directory


def wait(driver, predicate, message: str, timeout: float = WAIT):
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        lambda d: predicate(d), message)


def cells(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#page td')].map((td) => td.textContent)")


def shot(driver, name: str) -> None:
    driver.save_screenshot(os.path.join(driver.screenshot_dir, f"{name}.png"))


def no_alert(driver) -> None:
    try:
        alert = driver.switch_to.alert
    except NoAlertPresentException:
        return
    raise AssertionError(f"a script ran: an alert is open ({alert.text!r})")


def go(driver, page: str, ready_text: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#nav a[data-page="{page}"]').click()
    wait(driver, lambda d: ready_text in d.find_element(By.ID, "page").text,
         f"the {page} page did not show {ready_text!r}")


def store_call(cluster, method: str, path: str, body: bytes | None = None) -> None:
    token, storage = cluster.auth()
    request = urllib.request.Request(f"{storage}/{path}", data=body, method=method,
                                     headers={"X-Auth-Token": token})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status in (201, 202, 204)


def delete_row(driver, name: str) -> None:
    """Click the Delete button of the row named `name` and confirm."""
    click_in_row(driver, name, "Delete")
    driver.switch_to.alert.accept()


def row_of(driver, name: str) -> list[str] | None:
    """The cells' texts of the page's table row whose first cell is `name`."""
    rows = driver.execute_script(
        "return [...document.querySelectorAll('#page tbody tr')]"
        ".map((tr) => [...tr.cells].map((td) => td.textContent))")
    return next((row for row in rows if row[0] == name), None)


def click_in_row(driver, name: str, label: str) -> None:
    """Click a row's button; again if the page was redrawn (a pushed update) meanwhile."""
    for _attempt in range(5):
        try:
            for row in driver.find_elements(By.CSS_SELECTOR, "#page tbody tr"):
                if row.find_element(By.TAG_NAME, "td").text == name:
                    row.find_element(By.XPATH, f".//button[text()='{label}']").click()
                    return
        except StaleElementReferenceException:
            continue
        raise AssertionError(f"no row named {name!r}")
    raise AssertionError(f"the row of {name!r} kept changing")


def test_a_day_in_the_dashboard(cluster, browser, tmp_path):
    driver = browser
    tag = uuid.uuid4().hex[:6]
    driver.get(cluster.dashboard_url + "/")

    # Log in as the SAIO's tester.
    wait(driver, lambda d: d.find_element(By.ID, "login-user").is_displayed(), "no login form")
    shot(driver, "login")
    driver.find_element(By.ID, "login-user").send_keys("tester")
    driver.find_element(By.ID, "login-password").send_keys("testing")
    driver.find_element(By.ID, "login-submit").click()
    wait(driver, lambda d: d.find_element(By.ID, "whoami").text == "tester", "not logged in")
    wait(driver, lambda d: "Instances" in cells(d), "no quota table on the overview")
    # Usage over time: inline SVG bar charts, one bar per hour / per day.
    assert len(driver.find_elements(By.CSS_SELECTOR, "#usage-hours rect")) == 24
    assert len(driver.find_elements(By.CSS_SELECTOR, "#usage-days rect")) == 14
    # The first page load, logged in (Navigation Timing): printed, not asserted.
    driver.get(cluster.dashboard_url + "/")
    wait(driver, lambda d: "Instances" in cells(d), "no quota table after a reload")
    timing = driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return [n.responseStart - n.startTime, n.domContentLoadedEventEnd - n.startTime,"
        " n.loadEventEnd - n.startTime, performance.now()];")
    print(f"dashboard first page: time to first byte {timing[0]:.1f} ms, DOM ready "
          f"{timing[1]:.1f} ms, load {timing[2]:.1f} ms, overview drawn by {timing[3]:.1f} ms")
    # The session cookie is HttpOnly and SameSite=Strict: no script can read it.
    assert driver.execute_script("return document.cookie") == ""
    cookies = driver.get_cookies()
    assert [c["name"] for c in cookies] == ["brume_dashboard"]
    assert cookies[0]["httpOnly"] is True and cookies[0]["sameSite"] == "Strict"

    # Upload an image (4 MiB of raw bytes) with a hostile name; watch the progress bar.
    image_file = tmp_path / "disk.raw"
    image_file.write_bytes(os.urandom(4 * 1024 * 1024))
    image_name = f"{EVIL} img-{tag}"
    go(driver, "images", "Images")
    driver.find_element(By.ID, "image-file").send_keys(str(image_file))
    driver.find_element(By.ID, "image-name").send_keys(image_name)
    Select(driver.find_element(By.ID, "image-format")).select_by_value("raw")
    driver.find_element(By.ID, "image-upload").click()
    wait(driver, lambda d: d.find_element(By.ID, "image-progress-text").text == "100%",
         "the upload's progress bar did not reach 100%")
    assert driver.find_element(By.ID, "image-progress").get_attribute("value") == "100"
    wait(driver, lambda d: image_name in cells(d) and "active" in cells(d),
         "the uploaded image is not listed as active")
    no_alert(driver)
    shot(driver, "images")
    # Share it with the project test2 (the image becomes "shared", test2 a member).
    click_in_row(driver, image_name, "Share")
    wait(driver, lambda d: "shared with no project" in d.find_element(By.ID, "dialog").text,
         "the share dialog listed no members")
    driver.find_element(By.ID, "share-project").send_keys("test2")
    driver.find_element(By.ID, "dialog-submit").click()
    wait(driver, lambda d: (row_of(d, image_name) or [""] * 5)[4] == "shared",
         "the image did not become shared")

    # Launch an instance from it, every field hostile; see it go ACTIVE.
    server_name = f"{EVIL} vm-{tag}"
    go(driver, "instances", "Launch instance")
    driver.find_element(By.ID, "launch").click()
    wait(driver, lambda d: d.find_element(By.ID, "launch-name").is_displayed(), "no dialog")
    driver.find_element(By.ID, "launch-name").send_keys(server_name)
    Select(driver.find_element(By.ID, "launch-image")).select_by_visible_text(image_name)
    Select(driver.find_element(By.ID, "launch-network")).select_by_value("")
    driver.find_element(By.ID, "launch-user-data").send_keys(EVIL)
    shot(driver, "launch")
    driver.find_element(By.ID, "dialog-submit").click()
    wait(driver, lambda d: not d.find_element(By.ID, "dialog").is_displayed(),
         "the launch dialog did not close")

    def server_row(d):
        return row_of(d, server_name)

    wait(driver, lambda d: (server_row(d) or [None, None])[1] == "ACTIVE",
         "the instance did not go ACTIVE")
    no_alert(driver)
    shot(driver, "instances")

    # Stop and start it: the page has no timer of its own, the new states come on its
    # event stream.
    click_in_row(driver, server_name, "Stop")
    wait(driver, lambda d: (server_row(d) or [None, None])[1] == "SHUTOFF",
         "the stopped instance did not show SHUTOFF")
    click_in_row(driver, server_name, "Start")
    wait(driver, lambda d: (server_row(d) or [None, None])[1] == "ACTIVE",
         "the started instance did not show ACTIVE again")
    assert driver.execute_script("return state.events.readyState") == 1  # one open stream
    # A snapshot, named in a dialog.
    snapshot_name = f"{EVIL} snap-{tag}"
    click_in_row(driver, server_name, "Snapshot")
    wait(driver, lambda d: d.find_element(By.ID, "snapshot-name").is_displayed(), "no dialog")
    driver.find_element(By.ID, "snapshot-name").clear()
    driver.find_element(By.ID, "snapshot-name").send_keys(snapshot_name)
    driver.find_element(By.ID, "dialog-submit").click()
    wait(driver, lambda d: "Snapshot" in d.find_element(By.ID, "flash").text,
         "the snapshot was not requested")
    # Diagnostics as charts: sampled while the panel is open (two samples make a rate).
    click_in_row(driver, server_name, "Diagnostics")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#diagnostics-cpu rect")
         or d.find_elements(By.ID, "diagnostics-error"), "no diagnostics charts")
    assert not driver.find_elements(By.ID, "diagnostics-error"), \
        driver.find_element(By.ID, "diagnostics-error").text
    shot(driver, "diagnostics")
    # The serial console: the test driver's guests have no serial port, so compute refuses,
    # and its reason comes back through the dashboard's relay as the console's close.
    click_in_row(driver, server_name, "Serial console")
    wait(driver, lambda d: "Console closed" in d.find_element(By.ID, "terminal-status").text,
         "the serial console did not report compute's answer")
    print("serial console:", driver.find_element(By.ID, "terminal-status").text)
    no_alert(driver)

    # Its console log, followed.
    click_in_row(driver, server_name, "Console")
    wait(driver, lambda d: "Brume test guest" in d.find_element(By.ID, "console-log").text,
         "the console log did not show the guest's output")
    shot(driver, "console")

    # The object store: a container made in the browser, browsed by prefix.
    container = f"photos-{tag}"
    hidden = f"{container}/2026/summer/{quote(EVIL_OBJECT)}"
    go(driver, "containers", "Object store")
    driver.find_element(By.ID, "container-name").send_keys(container)
    driver.find_element(By.ID, "container-create").click()
    wait(driver, lambda d: container in cells(d), "the new container is not listed")
    store_call(cluster, "PUT", hidden, b"hello")
    driver.find_element(By.XPATH, f"//a[text()='{container}']").click()
    wait(driver, lambda d: "2026/" in cells(d), "no 2026/ prefix in the container")
    driver.find_element(By.XPATH, "//a[text()='2026/']").click()
    wait(driver, lambda d: "summer/" in cells(d), "no summer/ prefix under 2026/")
    driver.find_element(By.XPATH, "//a[text()='summer/']").click()
    wait(driver, lambda d: EVIL_OBJECT in cells(d), "the object is not listed")
    upload = tmp_path / "notes.txt"
    upload.write_text("notes from the browser\n")
    driver.find_element(By.ID, "object-file").send_keys(str(upload))
    driver.find_element(By.ID, "object-upload").click()
    wait(driver, lambda d: "notes.txt" in cells(d), "the uploaded object is not listed")
    no_alert(driver)
    shot(driver, "object-store")
    # A download is an attachment (never rendered as the dashboard), and a state change
    # without the CSRF token is refused, whatever the cookie.
    href = driver.find_element(By.XPATH, "//a[text()='Download']").get_attribute("href")
    got = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(async (r) => done([r.status,"
        " r.headers.get('Content-Disposition'), await r.text()]));", href)
    assert got[0] == 200 and got[1].startswith("attachment")
    assert got[2] in ("hello", "notes from the browser\n")
    refused = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/object-store/' + arguments[0], {method: 'DELETE'}).then((r) =>"
        " done(r.status));", container)
    assert refused == 403
    # A temporary URL of notes.txt: it reads the object with no token and no cookie.
    click_in_row(driver, "notes.txt", "Temp URL")
    driver.find_element(By.ID, "dialog-submit").click()
    wait(driver, lambda d: d.find_element(By.ID, "tempurl-url").get_attribute("value"),
         "no temporary URL shown")
    temp_url = driver.find_element(By.ID, "tempurl-url").get_attribute("value")
    with urllib.request.urlopen(temp_url, timeout=30) as answer:
        assert answer.read() == b"notes from the browser\n"
    driver.find_element(By.XPATH, "//dialog//button[text()='Cancel']").click()
    # The container's read ACL, set in the Access dialog and read back.
    for shown in ("summer/", "2026/", container):
        driver.find_element(By.ID, "browse-up").click()
        wait(driver, lambda d, shown=shown: shown in cells(d), f"Up did not show {shown}")
    click_in_row(driver, container, "Access")
    wait(driver, lambda d: d.find_element(By.ID, "acl-read").is_displayed(), "no ACL dialog")
    driver.find_element(By.ID, "acl-read").send_keys("test2:*")
    driver.find_element(By.ID, "dialog-submit").click()
    wait(driver, lambda d: "saved" in d.find_element(By.ID, "flash").text, "ACL not saved")
    acl = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/object-store/' + arguments[0], {method: 'HEAD'}).then((r) =>"
        " done(r.headers.get('X-Container-Read')));", container)
    assert acl == "test2:*"

    # A network with a subnet, a security group rule, both named hostile where they can be.
    network_name = f"{EVIL} net-{tag}"
    go(driver, "networks", "Security groups")
    driver.find_element(By.ID, "network-create").click()
    driver.find_element(By.ID, "network-name").send_keys(network_name)
    driver.find_element(By.ID, "subnet-cidr").send_keys("10.77.0.0/24")
    driver.find_element(By.ID, "dialog-submit").click()
    wait(driver, lambda d: network_name in cells(d) and "10.77.0.0/24" in cells(d),
         "the new network and its subnet are not listed")
    click_in_row(driver, "default", "Add rule")
    driver.find_element(By.ID, "rule-ports").send_keys("2222")
    driver.find_element(By.ID, "dialog-submit").click()
    wait(driver, lambda d: "2222-2222" in cells(d), "the new rule is not listed")
    no_alert(driver)
    shot(driver, "networks")
    for row in driver.find_elements(By.CSS_SELECTOR, "#page tbody tr"):
        if "2222-2222" in row.text:
            row.find_element(By.XPATH, ".//button[text()='Delete']").click()
            driver.switch_to.alert.accept()
            break
    wait(driver, lambda d: "2222-2222" not in cells(d), "the deleted rule is still listed")
    delete_row(driver, network_name)
    wait(driver, lambda d: network_name not in cells(d), "the deleted network is still listed")

    # A volume, made and deleted.
    volume_name = f"{EVIL} vol-{tag}"
    go(driver, "volumes", "Volumes")
    driver.find_element(By.ID, "volume-create").click()
    driver.find_element(By.ID, "volume-name").send_keys(volume_name)
    driver.find_element(By.ID, "dialog-submit").click()
    wait(driver, lambda d: (row_of(d, volume_name) or [None, None])[1] == "available",
         "the new volume did not become available")
    no_alert(driver)
    shot(driver, "volumes")
    delete_row(driver, volume_name)
    wait(driver, lambda d: row_of(d, volume_name) is None, "the deleted volume is still listed")
    go(driver, "admin", "admin")  # tester is a member: the compute API refuses it the page
    assert driver.find_elements(By.ID, "admin-refused")

    # Delete what the test made: the instance and the image in the browser, the objects
    # and the container through the object store's API.
    go(driver, "instances", "Launch instance")
    wait(driver, lambda d: server_row(d) is not None, "the instance is not listed")
    delete_row(driver, server_name)
    wait(driver, lambda d: server_row(d) is None, "the deleted instance is still listed")
    go(driver, "images", "Images")
    wait(driver, lambda d: image_name in cells(d), "the image is not listed")
    delete_row(driver, image_name)
    wait(driver, lambda d: image_name not in cells(d), "the deleted image is still listed")
    wait(driver, lambda d: (row_of(d, snapshot_name) or [None, None])[1] == "active",
         "the snapshot is not listed as active")
    delete_row(driver, snapshot_name)
    wait(driver, lambda d: snapshot_name not in cells(d), "the deleted snapshot is still listed")
    for path in (hidden, f"{container}/2026/summer/notes.txt", container):
        store_call(cluster, "DELETE", path)

    # The overview's usage charts now show the instance's short life.
    go(driver, "overview", "Usage over time")
    wait(driver, lambda d: d.execute_script(
        "return [...document.querySelectorAll('#usage-hours rect')]"
        ".some((r) => Number(r.getAttribute('height')) > 0)"), "no usage in the chart")
    shot(driver, "overview")

    # Nothing in the page names a token; then log out and the session is gone.
    assert "X-Auth-Token" not in driver.page_source
    driver.find_element(By.ID, "logout").click()
    wait(driver, lambda d: d.find_element(By.ID, "login-user").is_displayed(),
         "logging out did not show the login form")
    driver.get(cluster.dashboard_url + "/api/session")
    body = json.loads(driver.find_element(By.TAG_NAME, "body").text)
    assert body["error"]["code"] == 401


def test_the_admin_sees_hypervisors_and_services(cluster, browser):
    driver = browser
    driver.get(cluster.dashboard_url + "/")
    wait(driver, lambda d: d.find_element(By.ID, "login-user").is_displayed(), "no login form")
    driver.find_element(By.ID, "login-user").send_keys("admin")
    driver.find_element(By.ID, "login-password").send_keys("admin")
    driver.find_element(By.ID, "login-submit").click()
    wait(driver, lambda d: d.find_element(By.ID, "whoami").text == "admin", "not logged in")
    go(driver, "admin", "Compute services")
    wait(driver, lambda d: "hv1" in cells(d) and "hv2" in cells(d), "no hypervisors listed")
    # each hypervisor's load averages, from its agents' last heartbeat
    wait(driver, lambda d: sum(bool(re.fullmatch(r"[\d.]+ / [\d.]+ / [\d.]+", c))
                               for c in cells(d)) >= 2, "no hypervisor load shown")
    # The storage cluster's health, through the proxy's /recon/cluster: every node answers.
    wait(driver, lambda d: "Storage devices" in d.find_element(By.ID, "page").text
         and "object" in cells(d), "no storage health on the admin page")
    assert "ok" in cells(driver) and not any(c.startswith("no answer") for c in cells(driver))
    shot(driver, "admin")
    driver.find_element(By.ID, "logout").click()
    wait(driver, lambda d: d.find_element(By.ID, "login-user").is_displayed(), "not logged out")
