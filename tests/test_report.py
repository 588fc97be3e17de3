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


def ambiguous_their_and_my(tmp_path):
    """Two attention projections and their biases that no name or order tells apart (two tied groups), a
    norm whose weight and bias only the parameter names tell apart, a `my` weight without partner and
    three sure pairs."""
    rng = np.random.default_rng(0)
    their = {"encoder.layer.0.attention.query.weight": (4, 4), "encoder.layer.0.attention.key.weight": (4, 4),
             "encoder.layer.0.attention.query.bias": (4,), "encoder.layer.0.attention.key.bias": (4,),
             "encoder.layer.0.attention.output.LayerNorm.weight": (3,), "encoder.layer.0.attention.output.LayerNorm.bias": (3,),
             "encoder.layer.0.output.dense.weight": (6, 4), "encoder.layer.0.output.dense.bias": (6,),
             "pooler.dense.weight": (3, 4)}
    save_file({name: rng.normal(size=shape).astype(np.float32) for name, shape in their.items()}, tmp_path / "their.safetensors")
    my = {"blocks.0.attn.left.weight": (4, 4), "blocks.0.attn.right.weight": (4, 4), "blocks.0.attn.scale": (5,),
          "blocks.0.mlp.fc.weight": (6, 4), "blocks.0.mlp.fc.bias": (6,), "head.weight": (3, 4),
          "blocks.0.attn.norm.weight": (3,), "blocks.0.attn.norm.bias": (3,),
          "blocks.0.attn.left.bias": (4,), "blocks.0.attn.right.bias": (4,)}
    save_signature({name: TensorSignature(shape, np.float32) for name, shape in my.items()}, tmp_path / "my.json")
    return ["match", str(tmp_path / "their.safetensors"), str(tmp_path / "my.json"), "--ignore-unmatched-outputs"]


# The command line writes this report: the hint in its own words, as its error says it.
TIED_HINT = "--hint left key"
AMBIGUOUS_ROWS = [
    ["blocks.0.attn.left.weight", "encoder.layer.0.attention.key.weight", "=", "tied (group 1)\n" + TIED_HINT],
    ["blocks.0.attn.right.weight", "encoder.layer.0.attention.query.weight", "=", "tied (group 1)\n" + TIED_HINT],
    ["blocks.0.attn.left.bias", "encoder.layer.0.attention.key.bias", "=", "tied (group 2)\n" + TIED_HINT],
    ["blocks.0.attn.right.bias", "encoder.layer.0.attention.query.bias", "=", "tied (group 2)\n" + TIED_HINT],
    ["blocks.0.attn.scale", "(none)", "=", "no partner"],
    ["blocks.0.attn.norm.weight", "encoder.layer.0.attention.output.LayerNorm.weight", "=", ">=1.000"],
    ["blocks.0.attn.norm.bias", "encoder.layer.0.attention.output.LayerNorm.bias", "=", ">=1.000"],
    ["blocks.0.mlp.fc.weight", "encoder.layer.0.output.dense.weight", "=", "inf"],
    ["blocks.0.mlp.fc.bias", "encoder.layer.0.output.dense.bias", "=", "inf"],
    ["head.weight", "pooler.dense.weight", "=", "inf"],
]


def test_ambiguity_report_shows_the_tied_rows_first_then_every_tentative_pair(tmp_path, browser, capsys):
    report = tmp_path / "report.html"
    with pytest.raises(SystemExit) as exit_info:
        main(ambiguous_their_and_my(tmp_path) + ["--html", str(report), "-q"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("weightbridge match: error: the mapping is not unique: 2 groups of weights")
    assert err.endswith("if the rows shown above are the right pairs:\n  --hint left key\n")

    browser.get(report.as_uri())
    rows = [[cell.text for cell in row.find_elements("tag name", "td")[:4]]
            for row in browser.find_elements("css selector", "#pairs tbody tr")]
    assert rows == AMBIGUOUS_ROWS
    assert browser.find_element("id", "summary").text == "10 my weights, 9 their weights; 4 tied, 5 tentative pairs"
    assert browser.find_element("id", "error").text.startswith("the mapping is not unique")
    assert browser.find_element("id", "error").text.endswith("if the rows shown above are the right pairs:\n  --hint left key")
    first = browser.find_elements("css selector", "#pairs tbody tr")[0]
    assert first.get_attribute("class") == "tied"
    assert first.find_elements("css selector", ".bar.runner"), "the tied runner-up's feature costs are drawn as bars"
    assert first.find_element("class name", "runner-name").text == "runner-up: encoder.layer.0.attention.query.weight"

    browser.find_element("id", "filter").send_keys("tentative")
    assert visible_rows(browser) == [row[0] for row in AMBIGUOUS_ROWS[5:]]
    assert browser.find_element("id", "shown").text == "5 of 10 rows"
    browser.find_element("id", "filter").clear()
    browser.find_element("id", "filter").send_keys("group 2")
    assert visible_rows(browser) == ["blocks.0.attn.left.bias", "blocks.0.attn.right.bias"]

    link = browser.find_element("id", "my:blocks.0.attn.left").find_element("tag name", "a")
    assert link.get_attribute("title") == "their encoder.layer.0.attention.key"
    link.click()
    assert browser.find_element("css selector", ".target").get_attribute("id") == "their:encoder.layer.0.attention.key"
    browser.save_screenshot(str(tmp_path / "ambiguity.png"))
    assert (tmp_path / "ambiguity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_data_of_an_ambiguity_puts_the_groups_with_their_hint_first(tmp_path):
    ambiguous_their_and_my(tmp_path)
    their, my = load_lazy(tmp_path / "their.safetensors"), load_lazy(tmp_path / "my.json")
    with pytest.raises(weightbridge.AmbiguityError) as error:
        weightbridge.match(their, my, ignore_unmatched_outputs=True)
    data = report_data(their, my, error=error.value)
    hint = [["left", "key"]]
    assert [row["hint_text"] for row in data["rows"]] == ["hints=[('left', 'key')]"] * 4 + [""] * 6
    assert [(row["my"], row["their"], row["status"], row["margin_text"], row["hints"], row["runner_up"]) for row in data["rows"]] == [
        ("blocks.0.attn.left.weight", ["encoder.layer.0.attention.key.weight"], "tied (group 1)", "0.000", hint,
         "encoder.layer.0.attention.query.weight"),
        ("blocks.0.attn.right.weight", ["encoder.layer.0.attention.query.weight"], "tied (group 1)", "0.000", hint,
         "encoder.layer.0.attention.key.weight"),
        ("blocks.0.attn.left.bias", ["encoder.layer.0.attention.key.bias"], "tied (group 2)", "0.000", hint,
         "encoder.layer.0.attention.query.bias"),
        ("blocks.0.attn.right.bias", ["encoder.layer.0.attention.query.bias"], "tied (group 2)", "0.000", hint,
         "encoder.layer.0.attention.key.bias"),
        ("blocks.0.attn.scale", [], "no partner", "inf", [], None),
        ("blocks.0.attn.norm.weight", ["encoder.layer.0.attention.output.LayerNorm.weight"], "tentative", ">=1.000", [],
         "encoder.layer.0.attention.output.LayerNorm.bias"),
        ("blocks.0.attn.norm.bias", ["encoder.layer.0.attention.output.LayerNorm.bias"], "tentative", ">=1.000", [],
         "encoder.layer.0.attention.output.LayerNorm.weight"),
        ("blocks.0.mlp.fc.weight", ["encoder.layer.0.output.dense.weight"], "tentative", "inf", [], None),
        ("blocks.0.mlp.fc.bias", ["encoder.layer.0.output.dense.bias"], "tentative", "inf", [], None),
        ("head.weight", ["pooler.dense.weight"], "tentative", "inf", [], None),
    ]
    tentative = error.value.tentative
    # Every row holds what the tentative pair holds: tied rows too carry their features and the runner-up's.
    assert data["rows"][0]["features"] == tentative["blocks.0.attn.left.weight"].features
    assert data["rows"][0]["runner_up_features"] == tentative["blocks.0.attn.left.weight"].runner_up_features
    assert data["rows"][5]["margin"] == tentative["blocks.0.attn.norm.weight"].margin
    assert data["links"]["blocks.0.attn.left"] == "encoder.layer.0.attention.key"
    assert data["links"]["blocks.0.mlp.fc"] == "encoder.layer.0.output.dense"
    assert data["unmatched_their"] == []
    assert data["error"] == {"message": str(error.value), "hints": hint}
    assert json.loads(json.dumps(data)) == data


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
