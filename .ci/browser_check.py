"""Open every chapter of a built book in headless Chromium and check what a reader would see.

    python .ci/browser_check.py _build/executed/ci/_build/html [--shots DIR]

Serves the HTML on loopback, loads each page of the table of contents in a real browser and
checks, from inside the page at 1280 px: it loaded, every <img> decoded (naturalWidth > 0),
chapters made from notebooks show at least one figure, no error output or Python traceback is on
the page, no progress bar, every equation was typeset by the MathJax the book ships (no raw TeX
left), nothing in the article scrolls sideways or is cut off at the right (code wider than
its column, a table wider than the page), and a chapter's Colab launch link opens that chapter's
notebook (blob/main/notebooks/<chapter>.ipynb, no "./" in the path).
A full-page screenshot of each chapter is kept. Exits non-zero naming each failing page.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--mute-audio"]

# Runs inside the browser: load each page in an iframe (same origin), inspect it, report JSON.
PROBE = """<!doctype html><html><body><pre id="result">running</pre><script>
const pages = %s;
async function inspect(path) {
  const frame = document.createElement("iframe");
  frame.style.width = "1280px"; frame.style.height = "900px";  // a laptop window
  document.body.appendChild(frame);
  const loaded = new Promise(resolve => { frame.onload = resolve; });
  frame.src = path;
  await loaded;
  await new Promise(r => setTimeout(r, 500));
  for (let i = 0; i < 100; i++) {  // wait for MathJax (shipped with the book) to finish typesetting
    const mj = frame.contentWindow.MathJax;
    if (mj && mj.startup && mj.startup.promise) { try { await mj.startup.promise; } catch (e) {} break; }
    if (!frame.contentDocument.querySelector("script[src*='mathjax']")) { break; }
    await new Promise(r => setTimeout(r, 100));
  }
  const doc = frame.contentDocument;
  const images = Array.from(doc.querySelectorAll("main img, article img, .bd-article img"));
  for (const img of images) { img.loading = "eager"; }
  await Promise.all(images.map(img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })));
  const text = doc.body ? doc.body.innerText : "";
  // content a reader would have to scroll sideways (or that is cut off at the right): any element
  // of the article that clips or scrolls its overflow and holds more than it shows
  const article = doc.querySelector(".bd-article") || doc.querySelector("main") || doc.body;
  for (const details of article.querySelectorAll("details")) { details.open = true; }  // hidden code, shown
  await new Promise(r => setTimeout(r, 100));
  const sideways = [];
  for (const el of [article, ...article.querySelectorAll("*")]) {
    if (sideways.some(outer => outer.el.contains(el))) { continue; }
    if (el.matches("span.math, span.math *")) { continue; }  // inline math: a glyph's overhang, in wrapped text
    const overflow = frame.contentWindow.getComputedStyle(el).overflowX;
    if (!["auto", "scroll", "hidden"].includes(overflow) || el.scrollWidth <= el.clientWidth + 4) { continue; }
    const label = el.tagName.toLowerCase() + (el.className && typeof el.className === "string"
      ? "." + el.className.trim().split(/\\s+/).slice(0, 2).join(".") : "");
    sideways.push({el, what: `${label} (${el.scrollWidth} px in ${el.clientWidth} px): ` +
                   (el.innerText || "").trim().replace(/\\s+/g, " ").slice(0, 60)});
  }
  const result = {
    path, title: doc.title,
    images: images.length,
    broken_images: images.filter(img => !img.complete || img.naturalWidth === 0).map(img => img.getAttribute("src")),
    error_outputs: doc.querySelectorAll(".output.traceback, .output.error").length,
    traceback: /Traceback \\(most recent call last\\)/.test(text),
    progress_bars: doc.querySelectorAll("progress").length + (/\\d+\\/\\d+ \\[[\\d:]+</.test(text) ? 1 : 0),
    equations: doc.querySelectorAll("mjx-container").length,
    raw_tex: /\\\\(frac|alpha|mathrm)\\b/.test(text),
    text_length: text.length,
    sideways: sideways.map(item => item.what),
    launch: Array.from(doc.querySelectorAll("a[href*='colab.research.google.com']")).map(a => a.href),
  };
  frame.remove();
  return result;
}
(async () => {
  const results = [];
  for (const p of pages) { try { results.push(await inspect(p)); } catch (e) { results.push({path: p, failed: String(e)}); } }
  document.getElementById("result").textContent = JSON.stringify(results);
})();
</script></body></html>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("browser check: no chromium found (Debian: apt-get install chromium)")


def chapter_pages(toc: Path) -> list[str]:
    """Every page of the book's table of contents, in reading order, as built HTML paths."""
    import yaml

    spec = yaml.safe_load(toc.read_text())
    files = [spec["root"]] + [entry["file"] for entry in spec.get("chapters", [])]
    return [f"{name}.html" for name in files]


class _BookHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = functools.partial(_BookHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def run_chromium(browser: str, profile_dir: Path, *args: str, timeout: int = 180) -> str:
    command = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("html", type=Path, help="the built book's html folder")
    parser.add_argument("--shots", type=Path, default=None, help="screenshot folder (default: <html>/../screenshots)")
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"), help="the book's table of contents")
    args = parser.parse_args(argv)
    html = args.html.resolve()
    if not (html / "index.html").is_file():
        sys.exit(f"browser check: no built book at {args.html}")
    shots = (args.shots or html.parent / "screenshots").resolve()
    shots.mkdir(parents=True, exist_ok=True)
    browser = chromium()
    pages = chapter_pages(args.toc)
    missing = [p for p in pages if not (html / p).is_file()]
    if missing:
        sys.exit(f"browser check: pages in the table of contents were not built: {missing}")
    probe = html / "_browser_check.html"
    probe.write_text(PROBE % json.dumps(["/" + p for p in pages]))
    if not (html / "_static" / "mathjax").is_dir():
        sys.exit("browser check: the book carries no MathJax of its own (sphinx-mathjax-offline missing?)")
    server, port = serve(html)
    failures = []
    try:
        with tempfile.TemporaryDirectory() as profile_dir:
            dom = run_chromium(browser, Path(profile_dir), "--virtual-time-budget=60000", "--dump-dom",
                               f"http://127.0.0.1:{port}/_browser_check.html")
            match = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
            if not match or match.group(1).strip() == "running":
                sys.exit("browser check: the probe page did not finish in the browser")
            import html as html_lib

            results = json.loads(html_lib.unescape(match.group(1)))
            for page in results:
                name = page["path"].lstrip("/")
                problems = []
                if page.get("failed"):
                    problems.append(f"did not load ({page['failed']})")
                else:
                    if page["text_length"] < 200:
                        problems.append("page is (nearly) empty")
                    if page["broken_images"]:
                        problems.append(f"images that did not load: {page['broken_images']}")
                    if name.startswith("notebooks/") and page["images"] == 0:
                        problems.append("chapter shows no figure")
                    if page["error_outputs"]:
                        problems.append(f"{page['error_outputs']} error output(s)")
                    if page["traceback"]:
                        problems.append("a Python traceback is on the page")
                    if page["progress_bars"]:
                        problems.append("a progress bar is on the page")
                    if page["raw_tex"]:
                        problems.append("TeX left untypeset (MathJax did not run)")
                    for what in page.get("sideways", []):  # text cut mid-character is made printable
                        what = what.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
                        problems.append(f"scrolls sideways at 1280 px: {what}")
                    if name.startswith("notebooks/"):  # the Colab button opens this chapter's notebook
                        expected = f"/blob/main/{Path(name).with_suffix('.ipynb').as_posix()}"
                        links = page.get("launch", [])
                        if not links:
                            problems.append("no Colab launch link")
                        elif any(not link.endswith(expected) or "/./" in link for link in links):
                            problems.append(f"Colab link {links[0]} does not open {expected.lstrip('/')}")
                    if name.startswith("notebooks/03") and page["equations"] == 0:
                        problems.append("the derivation chapter shows no typeset equation")
                status = "FAIL " + "; ".join(problems) if problems else "ok"
                print(f"[browser] {name}: {page.get('images', 0)} figure(s), "
                      f"{page.get('equations', 0)} rendered equation(s), {status}")
                if problems:
                    failures.append(name)
                shot = shots / (Path(name).stem + ".png")
                run_chromium(browser, Path(profile_dir), "--window-size=1280,3000", "--virtual-time-budget=10000",
                             f"--screenshot={shot}", f"http://127.0.0.1:{port}/{name}")
                if not shot.is_file() or shot.stat().st_size < 10_000:
                    failures.append(f"{name} (no screenshot)")
                    print(f"[browser] {name}: FAIL screenshot missing or blank")
    finally:
        server.shutdown()
        probe.unlink(missing_ok=True)
    print(f"[browser] screenshots in {shots}")
    if failures:
        print(f"[browser] FAILED: {', '.join(failures)}")
        return 1
    print(f"[browser] all {len(pages)} pages passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
