#!/usr/bin/env python3
"""The web viewer in a real browser: headless Chromium driven by Selenium against
`mailvault serve` on a test archive made by mv_web_fixture (tests/web/make_archive.cpp).

1. search -> results -> open message -> download the attachment (bytes compared);
2. hostile HTML (script, on* handlers, javascript: links, remote images, CSS url(), @import,
   meta refresh, SVG with script, base href, form action, srcset, iframe/object/embed, link)
   executes nothing and requests nothing: a local HTTP listener plays "the remote" and must get
   zero connections; no alert opens; the cid: image from the archive does load;
3. with login required: redirect to /login, a wrong password is refused, the right one works,
   logout ends the session;
4. the views and downloads are in the archive's audit log.
Screenshots go to --artifacts. Exit 77 (ctest: skipped) when chromium, chromedriver or
python3-selenium is missing.
"""
import argparse
import base64
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
except ImportError:
    print("SKIP: python3-selenium is not installed")
    sys.exit(77)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not CHROMIUM or not CHROMEDRIVER:
    print("SKIP: chromium or chromedriver is not installed")
    sys.exit(77)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
PDF = b"%PDF-1.4\n%\xc3\xa4\xc3\xbc\n1 0 obj\n<</Type/Catalog>>\nendobj\n" + bytes(range(256))


class Remote:
    """A listener on 127.0.0.1 standing for every remote server: counts connections."""

    def __init__(self):
        self.sock = socket.socket()
        # A port below the kernel's ephemeral range: every server of the other tests in the
        # parallel suite got its port from that range, and their clients retry such ports after
        # a restart. Here, any connection at all is a request the browser should not have made.
        lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
        for port in random.sample(range(max(1024, lo - 12000), lo), 200):
            try:
                self.sock.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free port below the ephemeral range for the remote")
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.hits = []
        self.stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(0.5)
            try:
                data = c.recv(2048)
            except OSError:
                data = b""
            self.hits.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
            try:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            c.close()


def b64lines(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def write_messages(d, remote):
    r = "http://127.0.0.1:%d" % remote
    msgs = {}
    msgs["01-report.eml"] = f"""From: Alice Example <alice@example.org>
To: Bob <bob@example.org>
Subject: Quarterly report
Date: Mon, 15 Jan 2024 10:00:00 +0000
Message-ID: <report-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Hello Bob, the quarterly report is attached. Grüße, Alice
--b1
Content-Type: application/pdf; name="report Q1.pdf"
Content-Disposition: attachment; filename="report Q1.pdf"
Content-Transfer-Encoding: base64

{b64lines(PDF)}
--b1--
"""
    msgs["02-reply.eml"] = """From: Bob <bob@example.org>
To: Alice Example <alice@example.org>
Subject: Re: Quarterly report
Date: Tue, 16 Jan 2024 09:30:00 +0000
Message-ID: <report-2@example.org>
In-Reply-To: <report-1@example.org>
References: <report-1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Thanks, looks good.
"""
    hostile_html = f"""<html><head>
<meta http-equiv="refresh" content="0;url={r}/meta-refresh">
<base href="{r}/base/">
<link rel="stylesheet" href="{r}/link.css">
<style>@import url({r}/import.css); body {{ background: url({r}/style-block.png) }}</style>
<style>p.ok {{ color: #135 }}</style>
<script>fetch('{r}/script'); alert('script ran');</script>
</head><body onload="fetch('{r}/onload'); alert('onload')">
<p class="ok" id="greeting">Hello from a hostile message.</p>
<img id="cidimg" src="cid:logo@example.org" alt="logo">
<img src="{r}/remote.png" alt="remote">
<img src="relative.png" alt="relative">
<img srcset="{r}/srcset.png 2x" alt="srcset">
<img src="x" onerror="fetch('{r}/onerror')">
<div style="background-image: url({r}/style-attr.png); color: green">styled</div>
<a id="jslink" href="javascript:fetch('{r}/js-link');alert('js')">js link</a>
<a id="entlink" href="&#106;avascript:alert('entity')">entity link</a>
<a id="vbs" href="vbscript:msgbox(1)">vb</a>
<a id="data" href="data:text/html,<script>alert(1)</script>">data</a>
<svg width="10" height="10" onload="fetch('{r}/svg-onload')"><script>fetch('{r}/svg-script')</script><image href="{r}/svg-image.png"/></svg>
<form action="{r}/form" method="post"><input name="q" value="x"><button id="formbtn">Send</button></form>
<iframe src="{r}/iframe"></iframe><object data="{r}/object"></object><embed src="{r}/embed">
<video poster="{r}/poster.png"><source src="{r}/video.mp4"></video>
<table background="{r}/table-bg.png"><tr><td>cell</td></tr></table>
<div><div><span><b>nested <i>and <u>malformed</b> markup</span>
</body></html>"""
    msgs["03-hostile.eml"] = f"""From: Mallory <mallory@example.net>
To: Alice Example <alice@example.org>
Subject: Hostile newsletter
Date: Wed, 17 Jan 2024 12:00:00 +0000
Message-ID: <hostile-1@example.net>
MIME-Version: 1.0
Content-Type: multipart/related; boundary="r1"

--r1
Content-Type: text/html; charset=utf-8

{hostile_html}
--r1
Content-Type: image/png
Content-ID: <logo@example.org>
Content-Disposition: inline
Content-Transfer-Encoding: base64

{b64lines(PNG)}
--r1--
"""
    msgs["old-2023.eml"] = """From: Carol <carol@example.org>
To: Alice Example <alice@example.org>
Subject: Old planning notes
Date: Fri, 01 Dec 2023 08:00:00 +0000
Message-ID: <old-1@example.org>
Content-Type: text/plain; charset=utf-8

Planning notes from last year.
"""
    msgs["pop-0001.eml"] = """From: Dave <dave@example.org>
To: Alice Example <alice@example.org>
Subject: Holiday photos
Date: Sat, 20 Jan 2024 18:00:00 +0000
Message-ID: <pop-1@example.org>
Content-Type: text/plain; charset=utf-8

See you soon.
"""
    paths = []
    for name, text in msgs.items():
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(text.replace("\n", "\r\n").encode())
        paths.append(p)
    return paths


RUNNING = []


class Serve:
    def __init__(self, mailvault, archive, extra, stdin=None):
        self.p = subprocess.Popen([mailvault, "serve", "--archive", archive,
                                   "--listen", "127.0.0.1:0"] + extra,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        RUNNING.append(self.p)
        self.err = []
        deadline = time.time() + 30
        self.base = None
        while time.time() < deadline:
            line = self.p.stderr.readline()
            if not line:
                break
            self.err.append(line)
            m = re.search(r"listening on (http://[^/ ]+)/", line)
            if m:
                self.base = m.group(1)
                break
        if not self.base:
            raise SystemExit("serve did not start: " + "".join(self.err))
        threading.Thread(target=lambda: self.err.extend(self.p.stderr), daemon=True).start()

    def stop(self):
        self.p.send_signal(2)  # SIGINT: a clean shutdown
        rc = self.p.wait(timeout=15)
        assert rc == 0, "serve exited %d after SIGINT: %s" % (rc, "".join(self.err))


def wait_until(fn, timeout=20.0):
    """Polls fn() until it returns something true or timeout passes (a loaded CI machine
    renders slowly: fixed sleeps made this test flaky). Returns fn's last value."""
    deadline = time.time() + timeout
    while True:
        try:
            v = fn()
        except Exception:  # element not there yet, frame still loading
            v = None
        if v or time.time() >= deadline:
            return v
        time.sleep(0.2)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok -", what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mailvault", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--artifacts", required=True)
    a = ap.parse_args()
    os.makedirs(a.artifacts, exist_ok=True)
    started = time.time()

    remote = Remote()
    tmp = tempfile.mkdtemp(prefix="mv-web-")
    os.chmod(tmp, 0o700)
    archive = os.path.join(tmp, "archive.sqlite")
    ids = subprocess.run([a.fixture, archive] + write_messages(tmp, remote.port),
                         check=True, capture_output=True, text=True).stdout
    print(ids, end="")
    downloads = os.path.join(tmp, "downloads")
    os.makedirs(downloads)

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"download.default_directory": downloads,
                                           "download.prompt_for_download": False,
                                           "safebrowsing.enabled": False})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER) \
        if hasattr(webdriver, "ChromeService") else webdriver.chrome.service.Service(CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(20)
    try:
        srv = Serve(a.mailvault, archive, [])
        base = srv.base
        # Headers on every page.
        with urllib.request.urlopen(base + "/") as resp:
            h = resp.headers
            check("default-src 'none'" in h["Content-Security-Policy"], "CSP on pages")
            check(h["X-Content-Type-Options"] == "nosniff", "nosniff")
            check(h["Referrer-Policy"] == "no-referrer", "no referrer")

        # 1. search -> results -> message -> attachment.
        driver.get(base + "/")
        check("work" in driver.page_source and "Archive/2024" in driver.page_source,
              "folder tree lists accounts and folders")
        driver.save_screenshot(os.path.join(a.artifacts, "folders.png"))
        box = driver.find_element(By.ID, "q")
        box.send_keys("quarterly")
        box.submit()
        rows = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "table.results tbody tr")) or []
        check(len(rows) == 2, "search finds the two quarterly messages (found %d)" % len(rows))
        check(wait_until(lambda: "of 2" in driver.find_element(By.CLASS_NAME, "pager").text),
              "results say 'N of M'")
        driver.save_screenshot(os.path.join(a.artifacts, "search.png"))
        driver.find_element(By.LINK_TEXT, "Quarterly report").click()
        check(wait_until(lambda: "Hello Bob" in driver.page_source), "message view shows the text")
        check("work / INBOX" in driver.page_source, "message view shows where it is filed")
        driver.save_screenshot(os.path.join(a.artifacts, "message.png"))
        link = wait_until(lambda: driver.find_element(By.CSS_SELECTOR, "a.download"))
        check(link.text == "report Q1.pdf", "attachment listed by name")
        link.click()
        target = os.path.join(downloads, "report Q1.pdf")
        deadline = time.time() + 15
        while time.time() < deadline and not os.path.exists(target):
            time.sleep(0.2)
        check(os.path.exists(target), "attachment downloaded")
        with open(target, "rb") as f:
            check(f.read() == PDF, "downloaded bytes equal the attachment")
        with urllib.request.urlopen(base + driver.current_url[len(base):] + "/raw") as resp:
            raw = resp.read()
            check(resp.headers["Content-Type"] == "message/rfc822", "raw source is message/rfc822")
            check('filename="Quarterly report.eml"' in resp.headers["Content-Disposition"],
                  "raw source has a sane file name")
            check(raw.startswith(b"From: Alice"), "raw source is the message")

        # Thread view.
        driver.find_element(By.LINK_TEXT, "Thread").click()
        check(wait_until(lambda: "/t/" in driver.current_url
                         and "Re: Quarterly report" in driver.page_source),
              "thread view shows the reply")

        # 2. hostile HTML.
        driver.get(base + "/search?q=" + "hostile")
        wait_until(lambda: driver.find_element(By.LINK_TEXT, "Hostile newsletter")).click()
        wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "iframe.html"))
        time.sleep(1.0)  # a window for a script to open an alert, were one to run
        try:
            alert = driver.switch_to.alert
            raise AssertionError("an alert opened: " + alert.text)
        except NoAlertPresentException:
            pass
        frame = driver.find_element(By.CSS_SELECTOR, "iframe.html")
        check("allow-scripts" not in (frame.get_attribute("sandbox") or "x allow-scripts"),
              "message HTML is in a sandboxed frame without scripts")
        driver.save_screenshot(os.path.join(a.artifacts, "hostile.png"))
        driver.switch_to.frame(frame)
        check(wait_until(lambda: "Hello from a hostile message" in driver.page_source),
              "hostile HTML's text shown")
        img = driver.find_element(By.ID, "cidimg") if driver.find_elements(By.ID, "cidimg") else None
        imgs = driver.find_elements(By.TAG_NAME, "img")
        check(len(imgs) == 1, "only the cid: image is left (%d img)" % len(imgs))
        check(wait_until(lambda: driver.execute_script(
                  "return arguments[0].complete && arguments[0].naturalWidth", imgs[0]) == 1),
              "the cid: image loaded from the archive")
        for sel in ("script", "iframe", "object", "embed", "form", "svg", "meta[http-equiv]",
                    "base", "link", "video", "input", "button", "[onload]", "[onerror]",
                    "[style*=url]", "[srcset]", "[background]"):
            check(not driver.find_elements(By.CSS_SELECTOR, sel), "no %s in the frame" % sel)
        for a_el in driver.find_elements(By.TAG_NAME, "a"):
            check(a_el.get_attribute("href") in (None, ""), "dangerous link has no href: " + a_el.text)
        links = driver.find_elements(By.TAG_NAME, "a")
        if links:
            links[0].click()
            time.sleep(0.5)
        driver.switch_to.default_content()
        try:
            alert = driver.switch_to.alert
            raise AssertionError("an alert opened: " + alert.text)
        except NoAlertPresentException:
            pass
        check(driver.title.startswith("Hostile newsletter"), "page title untouched")
        time.sleep(1.0)
        check(remote.hits == [], "the remote got zero requests (got %r)" % remote.hits)
        srv.stop()
        check(True, "serve stopped cleanly on SIGINT")

        # 4. audit rows.
        db = sqlite3.connect(archive)
        kinds = [r[0] for r in db.execute("SELECT kind FROM audit_log ORDER BY seq")]
        db.close()
        check(kinds.count("web_view") >= 2, "message views are in the audit log")
        check("web_download_part" in kinds, "the attachment download is in the audit log")
        check("web_download_raw" in kinds, "the raw download is in the audit log")

        # 3. login required.
        h = subprocess.run([a.mailvault, "serve", "--hash-password"], input="s3cret pass\n",
                           capture_output=True, text=True, check=True).stdout.strip()
        cfg = os.path.join(tmp, "config.toml")
        with open(cfg, "w") as f:
            f.write('archive = "%s"\n[serve]\nrequire_login = true\n[[serve.user]]\n'
                    'name = "auditor"\n%s\n' % (archive, h))
        srv = Serve(a.mailvault, archive, ["--config", cfg])
        base = srv.base
        driver.delete_all_cookies()
        driver.get(base + "/f/1")
        check(wait_until(lambda: "/login" in driver.current_url), "redirected to the login page")
        driver.save_screenshot(os.path.join(a.artifacts, "login.png"))
        driver.find_element(By.NAME, "user").send_keys("auditor")
        driver.find_element(By.NAME, "password").send_keys("wrong")
        driver.find_element(By.CSS_SELECTOR, "form.login button").click()
        check(wait_until(lambda: "Wrong user or password" in driver.page_source),
              "a wrong password is refused (page: %s)" % driver.find_element(By.TAG_NAME, "body").text)
        driver.find_element(By.NAME, "user").send_keys("auditor")
        driver.find_element(By.NAME, "password").send_keys("s3cret pass")
        driver.find_element(By.CSS_SELECTOR, "form.login button").click()
        check(wait_until(lambda: driver.current_url.endswith("/f/1")),
              "logged in, back where we were going")
        check(wait_until(lambda: "Quarterly report" in driver.page_source), "folder list after login")
        cookie = driver.get_cookie("mv_session")
        check(cookie and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict",
              "session cookie is HttpOnly, Secure, SameSite=Strict")
        driver.find_element(By.XPATH, "//button[text()='Log out']").click()
        wait_until(lambda: "/login" in driver.current_url or
                   not driver.find_elements(By.XPATH, "//button[text()='Log out']"))
        driver.get(base + "/")
        check(wait_until(lambda: "/login" in driver.current_url), "logged out")
        srv.stop()
    except Exception as e:
        # Say where the browser was: a CI log that shows only the tail still tells why.
        print("FAIL - %s: %s" % (type(e).__name__, e))
        try:
            print("FAIL - at %s; page text: %s" % (
                driver.current_url, driver.find_element(By.TAG_NAME, "body").text[:600]))
            driver.save_screenshot(os.path.join(a.artifacts, "failure.png"))
        except Exception as e2:
            print("FAIL - (no page to show: %s)" % e2)
        raise
    finally:
        driver.quit()
        for p in RUNNING:
            if p.poll() is None:
                p.kill()
                p.wait()
        remote.stop = True
        if not os.environ.get("MV_KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)
    took = time.time() - started
    print("web browser test passed in %.1f s" % took)
    return 0


if __name__ == "__main__":
    sys.exit(main())
