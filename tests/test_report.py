"""The HTML report, loaded in headless Chromium: what the page shows after its script ran."""

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import save_file

import weightbridge
from weightbridge._cli import main
from weightbridge._readers import TensorSignature, load_lazy, save_signature
from weightbridge._report import report_data

CHROMEDRIVER = "/usr/bin/chromedriver"  # Debian's chromium-driver, installed by .ci/run


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert shutil.which("chromium") and shutil.which("chromedriver"), "run .ci/run: it installs chromium"
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"):
        options.add_argument(argument)
    # An explicit driver path: selenium-manager would otherwise try to download one.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def their_and_my(tmp_path):
    rng = np.random.default_rng(0)
    their = {"encoder.layer.0.attention.query.weight": rng.normal(size=(4, 4)).astype(np.float32),
             "encoder.layer.0.output.dense.weight": rng.normal(size=(6, 4)).astype(np.float32),
             "encoder.layer.0.output.dense.bias": rng.normal(size=(6,)).astype(np.float32),
             "pooler.dense.weight": rng.normal(size=(3, 4)).astype(np.float32)}
    save_file(their, tmp_path / "their.safetensors")
    my = {"blocks.0.attn.q.weight": (4, 4), "blocks.0.mlp.fc.weight": (6, 4), "blocks.0.mlp.fc.bias": (6,),
          "head.weight": (3, 4)}
    save_signature({name: TensorSignature(shape, np.float32) for name, shape in my.items()}, tmp_path / "my.json")


def visible_rows(browser):
    return [row.find_elements("tag name", "td")[0].text
            for row in browser.find_elements("css selector", "#pairs tbody tr") if row.is_displayed()]


def test_report_lists_every_weight_and_the_filter_hides_the_others(tmp_path, browser):
    their_and_my(tmp_path)
    report = tmp_path / "report.html"
    with pytest.raises(SystemExit) as exit_info:
        main(["match", str(tmp_path / "their.safetensors"), str(tmp_path / "my.json"), "--html", str(report), "-q"])
    assert exit_info.value.code == 0
    html = report.read_text()
    assert "http://" not in html and "https://" not in html  # self-contained: nothing to fetch

    browser.get(report.as_uri())
    mapping = weightbridge.match(load_lazy(tmp_path / "their.safetensors"), load_lazy(tmp_path / "my.json"))
    by_margin = [pair.my for pair in sorted(mapping.pairs, key=lambda p: p.margin)]
    assert visible_rows(browser) == by_margin
    assert browser.find_element("id", "shown").text == "4 of 4 rows"
    assert browser.find_element("id", "summary").text == "4 my weights, 4 their weights; 4 pairs"
    first = browser.find_elements("css selector", "#pairs tbody tr")[0].find_elements("tag name", "td")
    pair = mapping[by_margin[0]]
    assert [cell.text for cell in first[1:4]] == [" + ".join(pair.their), pair.transform or "=", f"{pair.margin:.3f}"]
    bars = browser.find_elements("css selector", "#pairs tbody tr .bar")
    assert bars, "feature costs are drawn as bars"

    browser.find_element("id", "filter").send_keys("mlp")
    assert visible_rows(browser) == [name for name in by_margin if "mlp" in name]
    assert browser.find_element("id", "shown").text == "2 of 4 rows"

    my_tree = [line.text for line in browser.find_elements("css selector", "#my-tree div")]
    assert my_tree[:3] == ["blocks (3) \u2192", "blocks.0 (3) \u2192", "blocks.0.attn (1) \u2192"]
    link = browser.find_element("id", "my:blocks.0.mlp").find_element("tag name", "a")
    assert link.get_attribute("title") == "their encoder.layer.0.output"
    link.click()
    assert browser.find_element("css selector", ".target").get_attribute("id") == "their:encoder.layer.0.output"
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ambiguity_report_shows_the_tied_weights_first(tmp_path, browser):
    rng = np.random.default_rng(0)
    their = {"a.left.weight": rng.normal(size=(4, 4)).astype(np.float32),
             "a.right.weight": rng.normal(size=(4, 4)).astype(np.float32)}
    save_file(their, tmp_path / "their.safetensors")
    save_signature({"b.up.weight": TensorSignature((4, 4), np.float32),
                    "b.down.weight": TensorSignature((4, 4), np.float32)}, tmp_path / "my.json")
    report = tmp_path / "report.html"
    with pytest.raises(SystemExit) as exit_info:
        main(["match", str(tmp_path / "their.safetensors"), str(tmp_path / "my.json"), "--html", str(report), "-q"])
    assert exit_info.value.code == 1

    browser.get(report.as_uri())
    rows = [[cell.text for cell in row.find_elements("tag name", "td")[:4]]
            for row in browser.find_elements("css selector", "#pairs tbody tr")]
    assert rows == [["b.up.weight", "a.left.weight + a.right.weight", "=", "tied (group 1)"],
                    ["b.down.weight", "a.left.weight + a.right.weight", "=", "tied (group 1)"]]
    assert browser.find_element("id", "error").text.startswith("the mapping is not unique")
    browser.save_screenshot(str(tmp_path / "ambiguity.png"))


def test_report_data_orders_unmatched_then_smallest_margin(tmp_path):
    their_and_my(tmp_path)
    their, my = load_lazy(tmp_path / "their.safetensors"), load_lazy(tmp_path / "my.json")
    mapping = weightbridge.match(their, my)
    data = report_data(their, my, mapping)
    margins = [row["margin"] for row in data["rows"]]
    finite = [m for m in margins if m is not None]
    assert finite == sorted(finite) and margins[len(finite):] == [None] * (len(margins) - len(finite))
    assert data["links"]["blocks.0.mlp.fc"] == "encoder.layer.0.output.dense"
    assert json.loads(json.dumps(data)) == data
