"""Weight-space interpolation, the live widget (headless, under papermill, and in a real chromium)."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from metastyle.app.widget import benchmark_redraw, interpolation_widget
from metastyle.method.interpolate import (
    Blender,
    BlendError,
    as_net,
    blend,
    interpolation_figure,
    interpolation_strip,
    strength,
)
from metastyle.method.nets import TransformerNet
from metastyle.method.stylize import stylize

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"


def perturbed(theta: dict, seed: int, scale: float = 0.05) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {k: v + scale * torch.randn(v.shape, generator=g) for k, v in theta.items()}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def theta():
    torch.manual_seed(0)
    return TransformerNet().state_dict()


@pytest.fixture(scope="module")
def models(theta):
    return {"a": perturbed(theta, 1), "b": perturbed(theta, 2), "c": perturbed(theta, 3)}


@pytest.fixture(scope="module")
def content():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    return torch.stack([xx, yy, xx * yy])  # (3, 48, 64)


# ------------------------------------------------------------------------------------------ blending
def test_blend_is_the_convex_combination(models):
    out = blend([models["a"], models["b"], models["c"]], [0.2, 0.3, 0.5])
    k = "conv1.conv.weight"
    assert torch.allclose(out[k], 0.2 * models["a"][k] + 0.3 * models["b"][k] + 0.5 * models["c"][k], atol=1e-6)
    assert torch.equal(blend([models["a"], models["b"]], [1.0, 0.0])[k], models["a"][k])
    net = TransformerNet()
    net.load_state_dict(models["b"])
    assert torch.equal(blend([net, models["a"]], [1, 0])[k], models["b"][k])  # nets are accepted too


@pytest.mark.parametrize("weights,match", [([0.5, 0.6], "sum to 1"), ([1.5, -0.5], ">= 0"),
                                           ([1.0], "1 weights for 2"), ([float("nan"), 1], "finite")])
def test_blend_rejects_bad_weights(models, weights, match):
    with pytest.raises(BlendError, match=match):
        blend([models["a"], models["b"]], weights)


def test_strength_and_blend_errors(theta, models):
    k = "in1.weight"
    assert torch.allclose(strength(theta, models["a"], 0.25)[k], 0.75 * theta[k] + 0.25 * models["a"][k])
    with pytest.raises(BlendError, match=r"\[0, 1\]"):
        strength(theta, models["a"], 1.5)
    with pytest.raises(BlendError, match="same parameters"):
        blend([models["a"], {"x": torch.zeros(1)}], [0.5, 0.5])


def test_blender_matches_blend_and_stylize(theta, models, content):
    b = Blender(models, theta)
    b.set(b.coefficients({"a": 0.25, "c": 0.75}, s=0.6))
    ref = as_net(strength(theta, blend([models["a"], models["c"]], [0.25, 0.75]), 0.6))
    assert torch.allclose(b.render(content), stylize(ref, content), atol=1e-4)
    with pytest.raises(BlendError, match="unknown model"):
        b.coefficients({"a": 0.5, "zz": 0.5})
    with pytest.raises(BlendError, match="needs theta"):
        Blender(models).coefficients({"a": 1.0}, s=0.5)


def test_interpolation_strip_and_figure(models, content, tmp_path):
    strip = interpolation_strip(models["a"], models["b"], content, n=6, size=32)
    assert strip["lambdas"] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert strip["images"].shape == (6, 3, 24, 32)
    assert torch.allclose(strip["images"][0], stylize(as_net(models["a"]), strip["content"]), atol=1e-4)
    assert torch.allclose(strip["images"][-1], stylize(as_net(models["b"]), strip["content"]), atol=1e-4)
    fig = interpolation_figure(models["a"], models["b"], content, style_a=content, style_b=1 - content, size=32)
    assert len(fig.axes) == 9  # content, style A, 6 blends, style B
    fig.savefig(tmp_path / "strip.png")
    assert (tmp_path / "strip.png").stat().st_size > 1000


# ------------------------------------------------------------------------------------- widget, headless
def test_widget_redraws_headless(theta, models, content):
    w = interpolation_widget(models, content, theta=theta, size=32)
    first, n = w.image.value, w.redraws
    w.sliders["lambda"].value = 0.9
    assert w.image.value != first and w.redraws == n + 1 and w.last_redraw_seconds > 0
    assert w.weights() == pytest.approx({"a": 0.1, "b": 0.9})
    before = w.image.value
    w.strength.value = 0.0  # pure theta: the same image whatever the blend
    theta_img = w.image.value
    assert theta_img != before
    w.sliders["lambda"].value = 0.2
    assert w.image.value == theta_img
    w.picker.value = ("a", "b", "c")  # barycentric: one slider per model, normalised
    assert list(w.sliders) == ["a", "b", "c"]
    w.sliders["a"].value = 0.0
    assert w.weights() == pytest.approx({"a": 0.0, "b": 0.5, "c": 0.5})
    w.picker.value = ("a",)
    assert "pick 2 to 4" in w.message.value and list(w.sliders) == ["a", "b", "c"]


def test_widget_without_theta_and_benchmark(models, content):
    w = interpolation_widget({"a": models["a"], "b": models["b"]}, content)
    assert w.strength.disabled
    with pytest.raises(BlendError, match="at least 2"):
        interpolation_widget({"a": models["a"]}, content)
    assert benchmark_redraw(w, repeats=3) > 0


# ------------------------------------------------------------------------------- notebook + real browser
NOTEBOOK_CELLS = [
    """import torch
torch.set_num_threads(1)  # tiny images; also keeps the redraw quick on a busy machine
from metastyle.method.nets import TransformerNet
from metastyle.app.widget import interpolation_widget
from metastyle.method.interpolate import interpolation_figure
torch.manual_seed(0)
theta = TransformerNet().state_dict()
models = {k: {n: v + 0.05 * torch.randn(v.shape) for n, v in theta.items()} for k in ("a", "b")}
yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
content = torch.stack([xx, yy, xx * yy])
w = interpolation_widget(models, content, theta=theta, size=64)
w.sliders["lambda"].add_class("metastyle-lambda")
w""",
    """print(f"redraw {w.last_redraw_seconds:.3f} s")
interpolation_figure(models["a"], models["b"], content, size=64).savefig("strip.png")""",
]


def write_notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def jupyter_env(tmp_path, monkeypatch):
    """Private Jupyter/IPython/matplotlib state dirs, the announcements toast off, this checkout importable."""
    home = tmp_path / "jhome"
    env = {"JUPYTER_CONFIG_DIR": home / "config", "JUPYTER_DATA_DIR": home / "data",
           "JUPYTER_RUNTIME_DIR": home / "runtime", "IPYTHONDIR": home / "ipython", "MPLCONFIGDIR": home / "mpl"}
    for key, folder in env.items():
        folder.mkdir(parents=True)
        monkeypatch.setenv(key, str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    (home / "config" / "labconfig").mkdir()
    (home / "config" / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    return home


def test_notebook_runs_headless_under_papermill(tmp_path, jupyter_env):
    import papermill

    nb = write_notebook(tmp_path / "interp.ipynb")
    papermill.execute_notebook(str(nb), str(tmp_path / "out.ipynb"), kernel_name="python3", cwd=str(tmp_path),
                               progress_bar=False)
    assert (tmp_path / "strip.png").stat().st_size > 1000
    assert "redraw" in (tmp_path / "out.ipynb").read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path, jupyter_env, request):
    """A JupyterLab server on 127.0.0.1 (own process group, killed at the end); yields its base URL."""
    port, token = free_port(), "metastyle-test-token"
    log = open(tmp_path / "jlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip", "127.0.0.1", "--port", str(port),
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()

    request.addfinalizer(stop)
    import urllib.request

    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{(tmp_path / 'jlab.log').read_text()[-2000:]}")
            time.sleep(0.25)
    return f"http://127.0.0.1:{port}", token


@pytest.fixture
def page(request):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run this test")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    request.addfinalizer(pw.stop)
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"])
    request.addfinalizer(browser.close)
    pg = browser.new_page(viewport={"width": 1280, "height": 1500})  # tall: JupyterLab scrolls internally
    pg.set_default_timeout(90_000)
    return pg


def notebook_05(folder: Path) -> Path:
    """The study's notebook 05, parameterised as a user would set it for smoke-profile models (theta and the
    adapted models are made by the notebook itself, cached under ``folder/runs``)."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(ROOT / "notebooks" / "05_style_interpolation.ipynb"))
    nb = parameterize_notebook(nb, {"PROFILE": "smoke", "RUNS_DIR": str(folder / "runs"),
                                    "RESULTS_DIR": str(folder / "results"), "OUT_DIR": str(folder / "out"),
                                    "DATA_DIR": str(ROOT / "data" / "examples")})
    path = folder / "05_style_interpolation.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.browser
def test_slider_redraws_notebook_05_in_jupyterlab(tmp_path, lab, page):
    """Open notebook 05 in JupyterLab, run all cells, move the interpolation slider: the widget redraws."""
    url, token = lab
    notebook_05(tmp_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{url}/lab/tree/05_style_interpolation.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook")
    # the execution indicator says idle before any kernel exists; the status bar's "| Idle" is the real thing
    page.wait_for_function("() => /\\| Idle/.test(document.querySelector('.jp-StatusBar-Widget')?.innerText||'')")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    img = page.locator("img.widget-image").first
    img.wait_for()  # meta-training and two adaptations at smoke size run first
    page.wait_for_function("() => document.querySelector('img.widget-image')?.src?.startsWith('blob:')")
    page.locator(".widget-label", has_text="0.50").first.wait_for()
    png = "async (s) => Array.from(new Uint8Array(await (await fetch(s)).arrayBuffer())).join(',')"
    before_src = img.get_attribute("src")
    before_png = page.evaluate(png, before_src)
    page.screenshot(path=str(ARTIFACTS / "interactive_before.png"))
    handle = page.locator(".metastyle-lambda .noUi-handle").first
    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => [...document.querySelectorAll('.widget-label')]"
                           ".some(e => /: 0\\.35 .*: 0\\.65/.test(e.textContent))")
    page.wait_for_function("(s) => document.querySelector('img.widget-image')?.src !== s", arg=before_src)
    after_src = img.get_attribute("src")
    assert page.evaluate(png, after_src) != before_png, "the slider moved but the stylised image is the same"
    page.wait_for_timeout(300)  # let the new blob decode before the screenshot
    page.screenshot(path=str(ARTIFACTS / "interactive_after.png"))
    print(f"screenshots: {ARTIFACTS / 'interactive_before.png'} and {ARTIFACTS / 'interactive_after.png'}")
