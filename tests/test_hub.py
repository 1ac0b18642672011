"""Hub round trips with the real huggingface_hub client against a stand-in Hub on 127.0.0.1 (tests/hub_server.py)."""

from __future__ import annotations

import importlib.util
import logging
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path

import httpx2
import numpy as np
import pytest
import torch
import yaml
from conftest import ROOT, TINY_GENERATOR
from hub_server import FakeHub, User
from huggingface_hub import constants, set_client_factory
from huggingface_hub.utils._http import default_client_factory
from PIL import Image

from pipeline import Generator, LossNet, PersonalStyle, PersonalStylePipeline, StyleError
from pipeline.__main__ import main as cli_main
from pipeline.hub import BASE_REPO, HubError, resolve_token
from pipeline.model_card import style_model_card

OWNER = "hf_aliceWRITE0123456789abcdefghijKLMN"  # alice, member of the base repo's org
READER = "hf_aliceREAD0123456789abcdefghijKLMNO"  # alice, read-only
OTHER = "hf_bobWRITE0123456789abcdefghijKLMNOP"  # bob
TOKENS = {
    OWNER: User("alice", orgs=("personal-style-studio",)),
    READER: User("alice", orgs=("personal-style-studio",), write=False),
    OTHER: User("bob"),
}
REPO = "alice/my-look"


def refuse_other_hosts(request: httpx2.Request) -> None:
    """A request hook: this test file talks to 127.0.0.1 only, never to the real Hub."""
    if request.url.host != "127.0.0.1":
        raise RuntimeError(f"test guard: refused a request to {request.url.host}")


def loopback_only_client() -> httpx2.Client:
    """huggingface_hub's default HTTP client plus :func:`refuse_other_hosts` (it re-creates it after errors)."""
    client = default_client_factory()
    client.event_hooks = {**client.event_hooks, "request": [*client.event_hooks["request"], refuse_other_hosts]}
    return client


@pytest.fixture(autouse=True, scope="module")
def loopback_only() -> Iterator[None]:
    set_client_factory(loopback_only_client)
    yield
    set_client_factory(default_client_factory)


def use_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint: str, home: Path) -> None:
    """Point the client at ``endpoint`` with a private HF_HOME, through the environment only.

    ``pipeline.hub`` reads HF_ENDPOINT, HF_HUB_CACHE and HF_HUB_OFFLINE at each call. Paths that huggingface_hub
    derives from HF_HOME at import (token files, Xet cache) are pointed into ``home`` too, and its telemetry (an
    agent-registry lookup on the default endpoint) is off.
    """
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_XET_CACHE", str(home / "xet"))


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    with FakeHub(TOKENS) as server:
        use_endpoint(monkeypatch, server.url, tmp_path / "hf")
        yield server


@pytest.fixture
def learned(tiny_pipe: PersonalStylePipeline) -> PersonalStyle:
    """A style as ``learn_style`` returns it: code, adapter, Gram targets, metrics and how it was learned."""
    g = torch.Generator().manual_seed(1)
    return PersonalStyle(
        "my look",
        torch.randn(8, generator=g),
        norm_delta=0.1 * torch.randn(tiny_pipe.generator.norm_params, generator=g),
        gram=tiny_pipe.styles["warm"].gram,
        metadata={
            "source": "learned",
            "samples": 5,
            "quality": "fast",
            "steps": 120,
            "seconds": 41.53,
            "device": "cpu",
            "metrics": {
                "style_loss": {"relu1_2": 0.0312, "relu2_2": 0.0871, "relu3_3": 0.1204},
                "zero_shot_style_loss": {"relu1_2": 0.0954, "relu2_2": 0.1733, "relu3_3": 0.2051},
                "input_style_loss": {"relu1_2": 0.412, "relu2_2": 0.5266, "relu3_3": 0.6012},
            },
        },
        previews=[Image.new("RGB", (32, 24), (200, 90, 30))],
    )


def small_image() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8))


def assert_same_style(a: PersonalStyle, b: PersonalStyle) -> None:
    assert a.name == b.name and a.metadata == b.metadata and len(a.previews) == len(b.previews)
    assert torch.equal(a.code, b.code) and torch.equal(a.norm_delta, b.norm_delta)
    assert sorted(a.gram) == sorted(b.gram) and all(torch.equal(a.gram[t], b.gram[t]) for t in a.gram)


def card_of(hub: FakeHub, repo_id: str) -> tuple[dict, str]:
    text = hub.repos[repo_id].commits[-1].files["README.md"].decode()
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


# --- round trips ---------------------------------------------------------------------------------------------------
def test_push_style_then_load_by_repo_id_gives_identical_output(hub, tiny_pipe, learned, tmp_path):
    url = learned.push_to_hub(REPO, token=OWNER)
    assert url == f"{hub.url}/{REPO}"
    pushed = hub.repos[REPO].commits[-1].files
    assert {"style.safetensors", "style.json", "preview_0.png", "README.md"} <= set(pushed)
    assert not hub.repos[REPO].private

    remote = PersonalStyle.from_pretrained(REPO)
    assert_same_style(remote, PersonalStyle.load_folder(learned.save_pretrained(tmp_path / "local")))
    x = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    before = tiny_pipe.stylize_tensor(x, learned.code, learned.norm_delta)
    after = tiny_pipe.stylize_tensor(x, remote.code, remote.norm_delta)
    assert torch.allclose(before, after, atol=1e-5, rtol=0)
    by_id = tiny_pipe(small_image(), style=PersonalStyle.from_pretrained(REPO), metrics=False).images[0]
    direct = tiny_pipe(small_image(), style=learned, metrics=False).images[0]
    assert np.array_equal(np.asarray(by_id), np.asarray(direct))
    requests = len(hub.requests)
    with pytest.raises(StyleError, match=r"a Hub style is loaded explicitly: PersonalStyle.from_pretrained\('alice/"):
        tiny_pipe(small_image(), style=REPO, metrics=False)  # __call__ never downloads
    assert len(hub.requests) == requests


def test_model_card_has_metadata_previews_metrics_and_usage(hub, learned):
    learned.push_to_hub(REPO, token=OWNER)
    front, body = card_of(hub, REPO)
    assert front["library_name"] == "personal-style-studio" and front["license"] == "mit"
    assert front["base_model"] == BASE_REPO and "style-transfer" in front["tags"]
    assert "![my look preview 0](preview_0.png)" in body
    for row in (
        "| layer | learned | zero-shot start | unstyled |",
        "| relu1_2 | 0.0312 | 0.0954 | 0.412 |",
        "| relu3_3 | 0.1204 | 0.2051 | 0.6012 |",
        "| sample pictures | 5 |",
        "| preset | fast |",
        "| steps | 120 |",
        "| time | 41.5 s |",
        "| device | cpu |",
    ):
        assert row in body
    assert f'PersonalStylePipeline.from_pretrained("{BASE_REPO}")' in body
    assert f'PersonalStyle.from_pretrained("{REPO}")' in body and "pipe(selfie, style=style)" in body

    learned.push_to_hub(REPO, token=OWNER, base_model="alice/base")
    assert card_of(hub, REPO)[0]["base_model"] == "alice/base"


def test_model_card_of_a_style_without_learning_record(tiny_pipe):
    card = style_model_card(tiny_pipe.styles["cool"], "bob/cool", BASE_REPO)
    assert "No Gram-loss metrics" in card and "Not recorded" in card and "No previews" in card
    assert yaml.safe_load(card.split("---\n")[1])["base_model"] == BASE_REPO
    flat = PersonalStyle("flat", torch.zeros(8), metadata={"metrics": {"relu1_2": 0.5}})
    assert "| layer | Gram loss |\n| --- | --- |\n| relu1_2 | 0.5 |" in style_model_card(flat, "bob/flat", BASE_REPO)


def test_cli_push_uses_hf_token_and_private(hub, learned, tmp_path, monkeypatch, capsys):
    folder = learned.save_pretrained(tmp_path / "look")
    monkeypatch.setenv("HF_TOKEN", OWNER)
    assert resolve_token(None) == OWNER and resolve_token("explicit") == "explicit"
    assert cli_main(["push", str(folder), "--repo", "alice/cli-look", "--private"]) == 0
    assert capsys.readouterr().out.strip() == f"{hub.url}/alice/cli-look"
    assert hub.repos["alice/cli-look"].private
    assert PersonalStyle.from_pretrained("alice/cli-look").name == "my look"  # HF_TOKEN is used for reading too


def test_base_pipeline_pushed_by_the_script_loads_by_repo_id(hub, tiny_pipe, tmp_path, monkeypatch):
    tiny_pipe.save_pretrained(tmp_path / "base")
    (tmp_path / "base" / "README.md").write_text("---\nlicense: mit\n---\n# base\n")
    spec = importlib.util.spec_from_file_location("push_base", ROOT / "scripts" / "push_base.py")
    push_base = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(push_base)
    monkeypatch.setenv("HF_TOKEN", OWNER)
    assert push_base.main(["--weights", str(tmp_path / "base")]) == 0
    assert "README.md" in hub.repos[BASE_REPO].commits[-1].files
    monkeypatch.delenv("HF_TOKEN")

    loaded = PersonalStylePipeline.from_pretrained(BASE_REPO)
    assert sorted(loaded.styles) == ["cool", "photo", "warm"]
    for name, param in tiny_pipe.generator.state_dict().items():
        assert torch.equal(param, loaded.generator.state_dict()[name]), name
    x = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    before = tiny_pipe.stylize_tensor(x, tiny_pipe.styles["warm"].code)
    assert torch.allclose(before, loaded.stylize_tensor(x, loaded.styles["warm"].code), atol=1e-5, rtol=0)


def test_pinned_revision_gives_that_version(hub, learned):
    learned.push_to_hub(REPO, token=OWNER)
    first = hub.repos[REPO].commits[-1].sha
    PersonalStyle("my look v2", learned.code + 1, gram=learned.gram).push_to_hub(REPO, token=OWNER)
    assert PersonalStyle.from_pretrained(REPO).name == "my look v2"
    pinned = PersonalStyle.from_pretrained(REPO, revision=first)
    assert pinned.name == "my look" and torch.equal(pinned.code, learned.code)
    with pytest.raises(HubError, match="revision 'no-such-branch' not found in repo 'alice/my-look'"):
        PersonalStyle.from_pretrained(REPO, revision="no-such-branch")


def test_offline_mode_uses_the_cache_and_says_so_when_empty(hub, learned, monkeypatch, tmp_path):
    learned.push_to_hub(REPO, token=OWNER)
    PersonalStyle.from_pretrained(REPO)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    seen = len(hub.requests)
    assert torch.equal(PersonalStyle.from_pretrained(REPO).code, learned.code)
    assert len(hub.requests) == seen, "offline mode made a request"
    with pytest.raises(HubError, match="offline mode is on"):
        learned.push_to_hub(REPO, token=OWNER)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(HubError, match="repo 'alice/my-look' is not in the local cache and offline mode is on"):
        PersonalStyle.from_pretrained(REPO)
    assert len(hub.requests) == seen


# --- errors ----------------------------------------------------------------------------------------------------------
def test_repo_not_found(hub):
    with pytest.raises(HubError, match=r"repo 'alice/nope' not found on http://127\.0\.0\.1:\d+, .*HF_TOKEN"):
        PersonalStyle.from_pretrained("alice/nope")
    with pytest.raises(HubError, match="repo 'alice/nope' not found .*the token given has no access"):
        PersonalStyle.from_pretrained("alice/nope", token=OWNER)
    with pytest.raises(HubError, match="neither a local folder nor a valid Hub repo id"):
        PersonalStyle.from_pretrained("no such folder!")


def test_private_repo_needs_a_token_with_access(hub, learned, monkeypatch):
    learned.push_to_hub(REPO, token=OWNER, private=True)
    assert hub.repos[REPO].private
    assert PersonalStyle.from_pretrained(REPO, token=READER).name == "my look"  # now cached: must not answer for others
    with pytest.raises(HubError, match="or it is private and no token was given"):
        PersonalStyle.from_pretrained(REPO)
    with pytest.raises(HubError, match="or it is private and the token given has no access"):
        PersonalStyle.from_pretrained(REPO, token=OTHER)
    with pytest.raises(HubError, match=r"rejected the token for repo 'alice/my-look' \(401"):
        PersonalStyle.from_pretrained(REPO, token="hf_notAValidToken000000000000000000")


def test_app_loads_are_anonymous_even_with_a_server_token(hub, learned, tiny_pipe, monkeypatch):
    """A Space's own HF_TOKEN must not open the owner's private styles to visitors of the app."""
    import studio

    learned.push_to_hub(REPO, token=OWNER, private=True)
    monkeypatch.setenv("HF_TOKEN", OWNER)
    assert PersonalStyle.from_pretrained(REPO).name == "my look"  # the library API does use HF_TOKEN
    with pytest.raises(studio.StudioError, match="private and no token was given"):
        studio.load_hub_style(tiny_pipe, REPO)
    assert studio.load_hub_style(tiny_pipe, REPO, token=READER).name == "my look"  # the visitor's own token


def test_push_needs_write_access(hub, learned):
    with pytest.raises(HubError, match=r"needs a token \(401"):
        learned.push_to_hub(REPO)
    with pytest.raises(HubError, match=r"no write access to repo 'alice/my-look' \(403"):
        learned.push_to_hub(REPO, token=READER)
    with pytest.raises(HubError, match=r"no write access to repo 'bob/look' \(403"):
        learned.push_to_hub("bob/look", token=OWNER)
    learned.push_to_hub("bob/look", token=OTHER)
    with pytest.raises(HubError, match=r"no write access to repo 'bob/look' \(403"):  # exists, readable: commit 403
        learned.push_to_hub("bob/look", token=OWNER)
    assert len(hub.repos["bob/look"].commits) == 2 and REPO not in hub.repos


def test_gated_repo_without_access(hub, learned, tmp_path):
    folder = learned.save_pretrained(tmp_path / "look")
    hub.add_repo("bob/gated", {p.name: p.read_bytes() for p in folder.iterdir()}, gated=True)
    with pytest.raises(HubError, match="repo 'bob/gated' is gated: request access"):
        PersonalStyle.from_pretrained("bob/gated", token=OWNER)
    assert PersonalStyle.from_pretrained("bob/gated", token=OTHER).name == "my look"


def test_network_down(monkeypatch, tmp_path, learned):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    use_endpoint(monkeypatch, f"http://127.0.0.1:{port}", tmp_path / "hf")
    with pytest.raises(HubError, match=f"cannot reach the Hub at http://127.0.0.1:{port} and repo 'alice/my-look'"):
        PersonalStyle.from_pretrained(REPO)
    with pytest.raises(HubError, match="cannot reach the Hub .* to push to repo 'alice/my-look'"):
        learned.push_to_hub(REPO, token=OWNER)


def test_repo_without_a_style_or_pipeline(hub):
    hub.add_repo("alice/notes", {"README.md": b"# notes\n", "weights.bin": b"pickle!"})
    with pytest.raises(HubError, match="repo 'alice/notes' holds no style"):
        PersonalStyle.from_pretrained("alice/notes")
    with pytest.raises(HubError, match="repo 'alice/notes' holds no pipeline"):
        PersonalStylePipeline.from_pretrained("alice/notes")
    assert not any(r.path.endswith("weights.bin") for r in hub.requests), "fetched a non-safetensors file"


def test_style_with_another_code_size_is_refused(hub, learned, loss_net: LossNet):
    learned.push_to_hub(REPO, token=OWNER)
    torch.manual_seed(0)
    pipe = PersonalStylePipeline(generator=Generator(**{**TINY_GENERATOR, "code_dim": 16}), loss_net=loss_net)
    with pytest.raises(StyleError, match="style 'my look' has a 8-value code; this generator takes 16"):
        pipe(small_image(), style=PersonalStyle.from_pretrained(REPO), metrics=False)


# --- secrets ---------------------------------------------------------------------------------------------------------
def test_token_never_appears_in_logs_outputs_errors_or_files(
    hub, learned, tiny_pipe, tmp_path, monkeypatch, capfd, caplog
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    errors = []

    def expect_error(call) -> None:
        with pytest.raises(HubError) as info:
            call()
        errors.append("".join(traceback.format_exception(info.value)))

    learned.push_to_hub(REPO, token=OWNER, private=True)
    PersonalStyle.from_pretrained(REPO, token=OWNER)
    expect_error(lambda: PersonalStyle.from_pretrained(REPO, token=OTHER))
    expect_error(lambda: learned.push_to_hub(REPO, token=READER))
    expect_error(lambda: PersonalStyle.from_pretrained(REPO, token=OWNER + "x"))
    monkeypatch.setenv("HF_TOKEN", OWNER)
    assert cli_main(["push", str(learned.save_pretrained(tmp_path / "look")), "--repo", "alice/cli"]) == 0
    tiny_pipe(small_image(), style=PersonalStyle.from_pretrained(REPO, token=OWNER), metrics=False)

    out, err = capfd.readouterr()
    texts = {"logs": caplog.text, "stdout": out, "stderr": err, "errors": "\n".join(errors)}
    texts |= {
        f"{r}@{c.sha}/{p}": d.decode("latin-1")
        for r in hub.repos
        for c in hub.repos[r].commits
        for p, d in c.files.items()
    }
    texts |= {str(p): p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()}
    assert caplog.records and len(texts) > 10
    for token in TOKENS:
        for where, text in texts.items():
            assert token not in text, f"a token leaked into {where}"


def test_the_cli_loads_a_hub_style_only_when_asked_with_the_hub_prefix(hub, learned, tiny_pipe, tmp_path):
    learned.push_to_hub(REPO, token=OWNER)
    tiny_pipe.save_pretrained(tmp_path / "w")
    small_image().save(tmp_path / "me.png")
    common = ["--weights", str(tmp_path / "w"), "stylize", str(tmp_path / "me.png"), "-o"]
    assert cli_main([*common, str(tmp_path / "out"), "--style", f"hub:{REPO}"]) == 0
    assert len(list((tmp_path / "out").glob("me*.png"))) == 1
    requests = len(hub.requests)
    assert cli_main([*common, str(tmp_path / "out2"), "--style", REPO]) == 2  # a bare id is not fetched
    assert len(hub.requests) == requests and not (tmp_path / "out2").exists()
